import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { NotFoundError, ValidationError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { SupportGrantRow, SupportRepository } from './support.repository.js'
import { type CreateSupportGrant, SUPPORT_GRANT_MAX_DAYS } from './support.schemas.js'

const DAY_MS = 86_400_000

function toGrant(row: SupportGrantRow, now: Date) {
  return {
    id: row.id,
    accountId: row.accountId,
    reason: row.reason,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt.toISOString(),
    grantedBy: row.grantedBy,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    revokedBy: row.revokedBy,
    active: row.revokedAt === null && row.startsAt <= now && now < row.endsAt,
  }
}

interface Deps {
  inTransaction: InTransaction
  support: SupportRepository
  audit: AuditRepository
  clock: Clock
}

// P-REC-6: the operator reads nothing of an account unless its admin grants time-boxed access.
export function createSupportService({ inTransaction, support, audit, clock }: Deps) {
  return {
    /** Writes the operator's read of an artefact under a grant, before the answer leaves (P-REC-6, P-GOV-2). */
    async auditRead(principal: Principal, accountId: string, grantId: string, read: { what: string; targetType: string; targetId: string; meetingId: string }) {
      await inTransaction((tx) =>
        audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'support_grant.read',
          targetType: read.targetType,
          targetId: read.targetId,
          details: { grantId, what: read.what, meetingId: read.meetingId },
        }, clock.now()),
      )
    },

    async create(principal: Principal, accountId: string, input: CreateSupportGrant) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const until = new Date(input.until)
      if (until <= now) throw new ValidationError('A grant ends in the future', [{ pointer: '/body/until', detail: 'must be after now' }])
      if (until.getTime() - now.getTime() > SUPPORT_GRANT_MAX_DAYS * DAY_MS) {
        throw new ValidationError(`A grant runs at most ${SUPPORT_GRANT_MAX_DAYS} days`, [{ pointer: '/body/until', detail: `at most ${SUPPORT_GRANT_MAX_DAYS} days ahead` }])
      }
      const row = await inTransaction(async (tx) => {
        const grant = await support.insert(tx, { accountId, id: newId(now.getTime()), reason: input.reason, startsAt: now, endsAt: until, grantedBy: principal.subject })
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'support_grant.created',
          targetType: 'support_grant',
          targetId: grant.id,
          details: { endsAt: grant.endsAt.toISOString() },
        }, now)
        return grant
      })
      return toGrant(row, now)
    },

    /** Admins, and the operator, who may see whether it has access. */
    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin', 'platform'])
      const now = clock.now()
      const rows = await support.page(accountId, decodeCursor(query.cursor), query.limit + 1)
      return toPage(rows, query.limit, (row) => row.id, (row) => toGrant(row, now))
    },

    /** Ends a grant at once; revoking one already revoked changes nothing. */
    async revoke(principal: Principal, accountId: string, grantId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const row = await inTransaction(async (tx) => {
        const revoked = await support.revoke(tx, accountId, grantId, principal.subject, now)
        if (!revoked) {
          const existing = await support.find(accountId, grantId, tx)
          if (!existing) throw new NotFoundError('Support grant')
          return existing
        }
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'support_grant.revoked',
          targetType: 'support_grant',
          targetId: grantId,
          details: {},
        }, now)
        return revoked
      })
      return toGrant(row, now)
    },
  }
}

export type SupportService = ReturnType<typeof createSupportService>
