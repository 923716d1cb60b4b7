import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { ConsentsRepository } from '../consents/consents.repository.js'
import { coarseNetwork } from '../consents/consents.service.js'
import type { MeetingsRepository } from '../meetings/meetings.repository.js'
import type { NoticesRepository } from '../notices/notices.repository.js'
import type { SettingsService } from '../settings/settings.service.js'
import type { UsersRepository } from '../users/users.repository.js'
import { isMinor } from '../users/users.service.js'
import type { DiagnosticsRow, MonitoringRepository } from './monitoring.repository.js'
import { type Diagnostics, PERIOD_SKEW_MS } from './monitoring.schemas.js'

const SCOPE = 'media_monitoring'
const DAY_MS = 86_400_000
/** How far a reported period may end after the server's now (clients' clocks drift). */

const toRecord = (row: DiagnosticsRow) => ({
  id: row.id,
  meetingId: row.meetingId,
  periodStart: row.periodStart.toISOString(),
  periodEnd: row.periodEnd.toISOString(),
  bitrateKbps: row.bitrateKbps,
  packetLossPct: row.packetLossPct,
  jitterMs: row.jitterMs,
  roundTripMs: row.roundTripMs,
  codec: row.codec,
  networkType: row.networkType,
  clientNetwork: row.clientNetwork,
  receivedAt: row.receivedAt.toISOString(),
  expiresAt: row.expiresAt.toISOString(),
})

interface Deps {
  inTransaction: InTransaction
  monitoring: MonitoringRepository
  consents: ConsentsRepository
  notices: NoticesRepository
  meetings: MeetingsRepository
  users: UsersRepository
  settings: SettingsService
  audit: AuditRepository
  clock: Clock
}

// Media-traffic monitoring: only for users who opted in, only while the account allows it
// (its switch-off wins over every opt-in at once), quality figures only (P-MED-1…3).
export function createMonitoringService({ inTransaction, monitoring, consents, notices, meetings, users, settings, audit, clock }: Deps) {
  function requireUser(principal: Principal) {
    requireAccountRole(principal, principal.accountId, ['admin', 'member'])
    if (!isUuid(principal.subject)) throw new NotFoundError('User')
  }

  /** The opt-in counts while its latest record is a grant to a notice no later version asked to re-consent (P-GOV-3). */
  async function optedIn(accountId: string, userId: string): Promise<boolean> {
    const latest = await consents.latestOfUser(accountId, userId, SCOPE)
    if (!latest || latest.decision !== 'granted' || !latest.noticeVersionId) return false
    const version = (await notices.version(accountId, latest.noticeVersionId))!
    return !(await notices.reconsentSince(accountId, version.noticeId, version.version))
  }

  return {
    /** Opting in or out is one consent record of scope media_monitoring, audited (P-MED-1, P-DSR-7). */
    async setOptIn(principal: Principal, input: { optIn: boolean; noticeVersionId?: string | undefined }, client: { userAgent?: string | undefined; ip?: string | undefined }) {
      requireUser(principal)
      if (input.optIn && !input.noticeVersionId) {
        throw new ValidationError('Opting in names the notice agreed to', [{ pointer: '/body/noticeVersionId', detail: 'required to opt in' }])
      }
      if (input.noticeVersionId) {
        const version = await notices.version(principal.accountId, input.noticeVersionId)
        if (!version || version.kind !== SCOPE) {
          throw new ValidationError('Not a media monitoring notice', [{ pointer: '/body/noticeVersionId', detail: 'not a media_monitoring notice version of this account' }])
        }
        const current = (await notices.latestVersion(principal.accountId, version.noticeId))!
        if (current.id !== version.id) {
          throw new ConflictError('notice_outdated', `Version ${version.version} was superseded by version ${current.version}`, undefined, { currentVersionId: current.id })
        }
      }
      const now = clock.now()
      const row = await inTransaction(async (tx) => {
        const inserted = (await consents.insert(tx, {
          accountId: principal.accountId,
          id: newId(now.getTime()),
          userId: principal.subject,
          scope: SCOPE,
          decision: input.optIn ? 'granted' : 'withdrawn',
          method: 'explicit_toggle',
          noticeVersionId: input.noticeVersionId ?? null,
          recordedBy: principal.subject,
          at: now,
          userAgent: client.userAgent?.slice(0, 300) ?? null,
          clientNetwork: coarseNetwork(client.ip),
        }))!
        await audit.append(tx, principal.accountId, {
          actor: auditActor(principal),
          action: input.optIn ? 'media_monitoring.opted_in' : 'media_monitoring.opted_out',
          targetType: 'user',
          targetId: principal.subject,
          details: { recordId: inserted.id, noticeVersionId: input.noticeVersionId ?? null },
        }, now)
        return inserted
      })
      return { optedIn: input.optIn, recordId: row.id, at: row.at.toISOString(), noticeVersionId: row.noticeVersionId }
    },

    async submit(principal: Principal, input: Diagnostics, client: { ip?: string | undefined }) {
      requireUser(principal)
      const now = clock.now()
      if (Date.parse(input.periodEnd) > now.getTime() + PERIOD_SKEW_MS) {
        throw new ValidationError('The period has not ended', [{ pointer: '/body/periodEnd', detail: 'must not be in the future' }])
      }
      const effective = (await settings.effectiveForUser(principal.accountId, principal.subject)).settings
      if (effective['media_monitoring.allowed']!.value !== true) {
        throw new ConflictError('monitoring_not_allowed', 'The account does not allow media monitoring (P-MED-2)')
      }
      if (!(await optedIn(principal.accountId, principal.subject))) {
        throw new ConflictError('monitoring_not_opted_in', 'The user has not opted in to media monitoring (P-MED-1)')
      }
      const user = (await users.findById(principal.accountId, principal.subject))!
      if (user.status === 'restricted') throw new ConflictError('processing_restricted', 'The user restricted processing (P-DSR-4)')
      if (isMinor(user, now) && !user.guardianConsentAt) {
        throw new ConflictError('minor_without_guardian', 'Nothing is monitored about a minor without a guardian consent on record (P-MIN-1)')
      }
      if (input.meetingId && !(await meetings.findById(principal.accountId, input.meetingId))) {
        throw new ValidationError('Unknown meeting', [{ pointer: '/body/meetingId', detail: 'not a meeting of this account' }])
      }
      const days = effective['media_monitoring.retention_days']!.value as number
      const row = await monitoring.insert({
        accountId: principal.accountId,
        id: newId(now.getTime()),
        userId: principal.subject,
        meetingId: input.meetingId ?? null,
        periodStart: new Date(input.periodStart),
        periodEnd: new Date(input.periodEnd),
        bitrateKbps: input.bitrateKbps,
        packetLossPct: input.packetLossPct,
        jitterMs: input.jitterMs,
        roundTripMs: input.roundTripMs,
        codec: input.codec,
        networkType: input.networkType,
        clientNetwork: coarseNetwork(client.ip),
        receivedAt: now,
        expiresAt: new Date(now.getTime() + days * DAY_MS),
      })
      return toRecord(row)
    },

    /** The user's own diagnostics (P-DSR-1). */
    async mine(principal: Principal, query: { limit: number; cursor?: string | undefined }) {
      requireUser(principal)
      const rows = await monitoring.pageOfUser(principal.accountId, principal.subject, decodeCursor(query.cursor), query.limit + 1)
      return toPage(rows, query.limit, (row) => row.id, toRecord)
    },
  }
}

export type MonitoringService = ReturnType<typeof createMonitoringService>
