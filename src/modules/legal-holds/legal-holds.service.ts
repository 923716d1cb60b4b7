import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { MeetingsRepository } from '../meetings/meetings.repository.js'
import type { UsersRepository } from '../users/users.repository.js'
import type { LegalHoldRow, LegalHoldsRepository } from './legal-holds.repository.js'
import type { CreateLegalHold } from './legal-holds.schemas.js'

export function toLegalHold(row: LegalHoldRow, now: Date) {
  return {
    id: row.id,
    accountId: row.accountId,
    subjectUserId: row.subjectUserId,
    meetingId: row.meetingId,
    reason: row.reason,
    from: row.fromAt.toISOString(),
    until: row.untilAt?.toISOString() ?? null,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    releasedAt: row.releasedAt?.toISOString() ?? null,
    releasedBy: row.releasedBy,
    active: row.releasedAt === null && row.fromAt <= now && (row.untilAt === null || now < row.untilAt),
  }
}

interface Deps {
  inTransaction: InTransaction
  holds: LegalHoldsRepository
  users: UsersRepository
  meetings: MeetingsRepository
  audit: AuditRepository
  clock: Clock
}

// P-RET-2: a legal hold suspends deletion of a user's or a meeting's data; the purge skips what
// it covers and reports it as withheld under the hold's id. Admins only, within their account.
export function createLegalHoldsService({ inTransaction, holds, users, meetings, audit, clock }: Deps) {
  return {
    async create(principal: Principal, accountId: string, input: CreateLegalHold) {
      requireAccountRole(principal, accountId, ['admin'])
      if ((input.subjectUserId === undefined) === (input.meetingId === undefined)) {
        throw new ValidationError('A hold names a subject user or a meeting', [
          { pointer: input.subjectUserId === undefined ? '/body' : '/body/meetingId', detail: 'exactly one of subjectUserId and meetingId' },
        ])
      }
      const now = clock.now()
      const fromAt = input.from ? new Date(input.from) : now
      const untilAt = input.until ? new Date(input.until) : null
      if (untilAt && untilAt <= fromAt) throw new ValidationError('A hold ends after it starts', [{ pointer: '/body/until', detail: 'must be after from' }])
      if (input.subjectUserId && !(await users.findById(accountId, input.subjectUserId))) throw new NotFoundError('User')
      if (input.meetingId && !(await meetings.findById(accountId, input.meetingId))) throw new NotFoundError('Meeting')
      const candidate = { accountId, subjectUserId: input.subjectUserId ?? null, meetingId: input.meetingId ?? null, fromAt, untilAt }
      const row = await inTransaction(async (tx) => {
        await holds.lockAccount(tx, accountId)
        const same = await holds.findSame(tx, candidate)
        if (same) throw new ConflictError('hold_exists', `Hold ${same.id} already holds the same ${same.subjectUserId ? 'user' : 'meeting'} over the same period`, undefined, { holdId: same.id })
        const hold = await holds.insert(tx, { ...candidate, id: newId(now.getTime()), reason: input.reason, createdBy: principal.subject, createdAt: now })
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'legal_hold.created',
          targetType: 'legal_hold',
          targetId: hold.id,
          details: { subjectUserId: hold.subjectUserId, meetingId: hold.meetingId, from: fromAt.toISOString(), until: untilAt?.toISOString() ?? null },
        }, now)
        return hold
      })
      return toLegalHold(row, now)
    },

    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const rows = await holds.page(accountId, decodeCursor(query.cursor), query.limit + 1)
      return toPage(rows, query.limit, (row) => row.id, (row) => toLegalHold(row, now))
    },

    async get(principal: Principal, accountId: string, holdId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const row = isUuid(holdId) ? await holds.find(accountId, holdId) : undefined
      if (!row) throw new NotFoundError('Legal hold')
      return toLegalHold(row, clock.now())
    },

    /** Releases a hold: its data is eligible again at the next purge. Releasing twice changes nothing. */
    async release(principal: Principal, accountId: string, holdId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const row = await inTransaction(async (tx) => {
        const released = await holds.release(tx, accountId, holdId, principal.subject, now)
        if (!released) {
          const existing = await holds.find(accountId, holdId, tx)
          if (!existing) throw new NotFoundError('Legal hold')
          return existing
        }
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'legal_hold.released',
          targetType: 'legal_hold',
          targetId: holdId,
          details: {},
        }, now)
        return released
      })
      return toLegalHold(row, now)
    },
  }
}

export type LegalHoldsService = ReturnType<typeof createLegalHoldsService>
