import type { Executor, InTransaction } from '../../../db/client.js'
import type { Principal } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { GateService } from '../gate/gate.service.js'
import type { MeetingRow, MeetingsRepository, ParticipantRow } from '../meetings/meetings.repository.js'
import type { SettingsService } from '../settings/settings.service.js'
import type { UsersRepository } from '../users/users.repository.js'
import type { AttentionRepository, AttentionSpanRow } from './attention.repository.js'
import { type AttentionEvent, EVENT_SKEW_MS } from './attention.schemas.js'

/** How far a client's event instant may be from the server clock. */
const DAY_MS = 86_400_000

/** The attention rules (P-ATT-1, P-ATT-2, P-ATT-4, P-MIN-1, P-DSR-4), in the order they are checked; the first that fails is the answer. */
export const ATTENTION_RULES = ['attention_not_allowed', 'attention_not_enabled', 'no_screen_share', 'notice_not_shown', 'participant_minor', 'processing_restricted'] as const
type AttentionRule = (typeof ATTENTION_RULES)[number]

const refused = (rule: AttentionRule, detail: string) => new ConflictError('attention_refused', detail, [{ detail, code: rule, rule }], { rule })

const toSpan = (row: AttentionSpanRow) => ({
  id: row.id,
  participantId: row.participantId,
  lostAt: row.lostAt.toISOString(),
  regainedAt: row.regainedAt!.toISOString(),
  seconds: (row.regainedAt!.getTime() - row.lostAt.getTime()) / 1000,
  expiresAt: row.expiresAt!.toISOString(),
})

type ShareLimits = { allowed: boolean; enabled: boolean; thresholdMs: number; retentionMs: number }

async function limitsOf(settings: SettingsService, meeting: MeetingRow, tx?: Executor): Promise<ShareLimits> {
  const effective = (await settings.effectiveForMeeting(meeting.accountId, meeting, tx)).settings
  return {
    allowed: effective['attention_tracking.allowed']!.value === true,
    enabled: effective['attention_tracking.enabled']!.value === true,
    thresholdMs: (effective['attention_tracking.threshold_seconds']!.value as number) * 1000,
    retentionMs: (effective['attention_tracking.retention_days']!.value as number) * DAY_MS,
  }
}

/** Ends an open span: kept when at least the threshold long (with its expiry), otherwise deleted (P-ATT-3). */
async function finish(attention: AttentionRepository, tx: Executor, span: AttentionSpanRow, at: Date, limits: ShareLimits) {
  if (at.getTime() - span.lostAt.getTime() >= limits.thresholdMs) {
    return { kept: true, row: await attention.keepSpan(tx, span.accountId, span.id, at, new Date(at.getTime() + limits.retentionMs)) }
  }
  await attention.dropSpan(tx, span.accountId, span.id)
  return { kept: false, row: null }
}

/**
 * Stops the meeting's running share at `at` and ends every open span with it (P-ATT-2). The
 * screen-share route and the end of a meeting both call it, inside their transaction.
 */
export function createShareStopper(attention: AttentionRepository, settings: SettingsService) {
  return async (tx: Executor, meeting: MeetingRow, at: Date): Promise<void> => {
    if (!(await attention.stopShare(tx, meeting.accountId, meeting.id, at))) return
    const limits = await limitsOf(settings, meeting, tx)
    for (const span of await attention.openSpansOfMeeting(tx, meeting.accountId, meeting.id)) await finish(attention, tx, span, at, limits)
  }
}

interface Deps {
  inTransaction: InTransaction
  attention: AttentionRepository
  meetings: MeetingsRepository
  users: UsersRepository
  settings: SettingsService
  gate: GateService
  audit: AuditRepository
  clock: Clock
}

export function createAttentionService({ inTransaction, attention, meetings, users, settings, gate, audit, clock }: Deps) {
  const stopShare = createShareStopper(attention, settings)
  const limits = (meeting: MeetingRow) => limitsOf(settings, meeting)
  async function load(principal: Principal, meetingId: string): Promise<MeetingRow> {
    const meeting = await meetings.findById(principal.accountId, meetingId)
    if (!meeting) throw new NotFoundError('Meeting')
    return meeting
  }

  const ownParticipant = (principal: Principal, meeting: MeetingRow) =>
    isUuid(principal.subject) ? meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject) : Promise.resolve(undefined)

  function shareState(row: { participantId: string; startedAt: Date } | undefined) {
    return { active: row !== undefined, since: row ? row.startedAt.toISOString() : null, participantId: row?.participantId ?? null }
  }

  return {
    /** The host or a cohost starts or stops their screen share; stopping ends every open attention span (P-ATT-2). */
    async setScreenShare(principal: Principal, meetingId: string, active: boolean) {
      const meeting = await load(principal, meetingId)
      const own = await ownParticipant(principal, meeting)
      if (!own) {
        if (principal.roles.includes('admin') || meeting.hostUserId === principal.subject) throw new ConflictError('not_present', 'Join the meeting before sharing a screen')
        throw new NotFoundError('Meeting')
      }
      if (own.role !== 'host' && own.role !== 'cohost') throw new ForbiddenError('Only the host or a cohost shares a screen')
      const now = clock.now()
      if (active) {
        if (meeting.status !== 'live') throw new ConflictError('meeting_not_live', `The meeting is ${meeting.status}`)
        const started = await inTransaction(async (tx) => {
          const inserted = await attention.startShare(tx, { accountId: meeting.accountId, id: newId(now.getTime()), meetingId: meeting.id, participantId: own.id, startedAt: now })
          return inserted ?? (await attention.runningShare(meeting.accountId, meeting.id, tx))
        })
        return shareState(started)
      }
      await inTransaction((tx) => stopShare(tx, meeting, now))
      return shareState(undefined)
    },

    /**
     * A participant's client reports focus lost or regained. Accepted only when every attention
     * rule holds at the event's instant (ATTENTION_RULES); a regained focus closes the span, which is
     * kept only when at least the threshold long (P-ATT-3).
     */
    async recordEvent(principal: Principal, meetingId: string, input: AttentionEvent) {
      const meeting = await load(principal, meetingId)
      const participant: ParticipantRow | undefined = await meetings.participant(meeting.accountId, meeting.id, input.participantId)
      if (!participant) throw new NotFoundError('Participant')
      const self = participant.userId !== null ? participant.userId === principal.subject : participant.joinedBy === principal.subject
      if (!self) throw new ForbiddenError("Only the participant's own client reports their focus")
      const now = clock.now()
      const at = new Date(input.at)
      if (Math.abs(at.getTime() - now.getTime()) > EVENT_SKEW_MS) {
        throw new ValidationError('The event instant is too far from the server clock', [{ pointer: '/body/at', detail: `must be within ${EVENT_SKEW_MS / 1000} s of ${now.toISOString()}` }])
      }
      if (meeting.status !== 'live') throw new ConflictError('meeting_not_live', `The meeting is ${meeting.status}`)
      const rules = await limits(meeting)
      const { allowed, enabled } = rules
      if (!allowed) throw refused('attention_not_allowed', 'The account does not allow attention tracking (P-ATT-1)')
      if (!enabled) throw refused('attention_not_enabled', 'The meeting has not enabled attention tracking (P-ATT-1)')
      if (!(await attention.sharingAt(meeting.accountId, meeting.id, at))) throw refused('no_screen_share', 'No screen share is running at this instant (P-ATT-2)')
      if (!(await gate.noticeShown(meeting, participant.id, 'attention_tracking', at))) {
        throw refused('notice_not_shown', 'The participant has not been shown the current attention notice (P-ATT-4)')
      }
      if (participant.isMinor) throw refused('participant_minor', 'Minors are never tracked (P-MIN-1)')
      if (participant.userId && (await users.findById(meeting.accountId, participant.userId))?.status === 'restricted') {
        throw refused('processing_restricted', 'The user restricted processing (P-DSR-4)')
      }

      return inTransaction(async (tx) => {
        // The share that covers the instant, locked against a stop running at the same moment.
        const share = await attention.shareAt(tx, meeting.accountId, meeting.id, at)
        if (!share) throw refused('no_screen_share', 'No screen share is running at this instant (P-ATT-2)')
        if (input.type === 'focus_lost') {
          const span = { accountId: meeting.accountId, id: newId(now.getTime()), meetingId: meeting.id, participantId: participant.id, lostAt: at }
          if (!(await attention.insertOpenSpan(tx, span))) throw new ConflictError('span_open', 'Focus is already lost; report focus_regained first')
          // Reported after its share stopped: the span ends with that share, never past it.
          if (share.stoppedAt) {
            const { kept, row } = await finish(attention, tx, { ...span, regainedAt: null, expiresAt: null }, share.stoppedAt, rules)
            return { type: input.type, at: at.toISOString(), kept, span: row ? toSpan(row) : null }
          }
          return { type: input.type, at: at.toISOString(), kept: null, span: null }
        }
        const open = await attention.openSpan(meeting.accountId, participant.id, tx)
        if (!open) throw new ConflictError('no_open_span', 'Focus was not lost')
        if (at.getTime() <= open.lostAt.getTime()) {
          throw new ValidationError('Focus is regained after it was lost', [{ pointer: '/body/at', detail: `must be after ${open.lostAt.toISOString()}` }])
        }
        const { kept, row } = await finish(attention, tx, open, at, rules)
        return { type: input.type, at: at.toISOString(), kept, span: row ? toSpan(row) : null }
      })
    },

    /** Host and cohosts read every kept span (audited, P-GOV-2); a participant reads their own; anyone else 403 (P-ATT-4). */
    async listSpans(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined; participantId?: string | undefined }) {
      const meeting = await load(principal, meetingId)
      const own = await ownParticipant(principal, meeting)
      const manager = meeting.hostUserId === principal.subject || own?.role === 'host' || own?.role === 'cohost'
      if (!manager && !own) throw new ForbiddenError('Only the host, cohosts and the participant themself see attention data')
      if (!manager && query.participantId && query.participantId !== own!.id) throw new ForbiddenError('A participant sees only their own attention data')
      const participantId = manager ? query.participantId : own!.id
      const rows = await attention.page(meeting.accountId, meeting.id, { participantId, afterId: decodeCursor(query.cursor), limit: query.limit + 1 })
      if (manager) {
        const now = clock.now()
        await inTransaction((tx) =>
          audit.append(tx, meeting.accountId, {
            actor: auditActor(principal),
            action: 'attention.read',
            targetType: 'meeting',
            targetId: meeting.id,
            details: { participantId: participantId ?? null, spans: Math.min(rows.length, query.limit) },
          }, now),
        )
      }
      return toPage(rows, query.limit, (row) => row.id, toSpan)
    },
  }
}

export type AttentionService = ReturnType<typeof createAttentionService>
