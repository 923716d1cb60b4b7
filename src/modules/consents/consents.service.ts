import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, DomainError, ForbiddenError, NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import type { ReceiptKeyring } from '../../lib/receipt-key.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { MeetingRow, MeetingsRepository } from '../meetings/meetings.repository.js'
import type { NoticeKind, NoticesRepository } from '../notices/notices.repository.js'
import { meetingNoticeKinds, type NoticesService } from '../notices/notices.service.js'
import type { MeetingNotice } from '../notices/notices.schemas.js'
import type { SettingsService } from '../settings/settings.service.js'
import { signReceipt } from './consents.receipts.js'
import type { AnsweredRecord, ConsentContext, ConsentRow, ConsentsRepository } from './consents.repository.js'
import { ATTESTED_METHODS, type CreateConsent, type MeetingScope } from './consents.schemas.js'

export interface ClientContext {
  userAgent?: string | undefined
  ip?: string | undefined
  idempotencyKey?: string | undefined
}

/** The client's network, never its address: IPv4 to /24, IPv6 to /48. */
export function coarseNetwork(ip: string | undefined): string | null {
  if (!ip) return null
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(ip)
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`
  if (ip.includes(':')) {
    const [head] = ip.split('::')
    const groups = head!.split(':').filter(Boolean).slice(0, 3)
    while (groups.length < 3) groups.push('0')
    return `${groups.join(':')}::/48`
  }
  return null
}

const toRecord = (row: AnsweredRecord) => ({
  id: row.id,
  meetingId: row.meetingId!,
  participantId: row.participantId!,
  scope: row.scope,
  decision: row.decision,
  method: row.method,
  noticeVersionId: row.noticeVersionId,
  at: row.at.toISOString(),
})

/** What the join has already worked out when it asks for the consent state. */
export interface JoinKnowledge {
  /** The meeting's effective settings. */
  settings: Record<string, { value: unknown }>
  /** True when this join created the participant: there are no answers yet. */
  newParticipant: boolean
}

interface Deps {
  inTransaction: InTransaction
  consents: ConsentsRepository
  meetings: MeetingsRepository
  notices: NoticesRepository
  noticesService: NoticesService
  settings: SettingsService
  audit: AuditRepository
  /** Starts chaining the account's pending audit events (for changes written outside inTransaction); does not wait. */
  chainAudit: (accountId: string) => void
  clock: Clock
  receiptKeys: ReceiptKeyring
}

export function createConsentsService({ inTransaction, consents, meetings, noticesService, settings, chainAudit, clock, receiptKeys }: Deps) {
  async function loadMeeting(principal: Principal, meetingId: string): Promise<MeetingRow> {
    const meeting = await meetings.findById(principal.accountId, meetingId)
    if (!meeting) throw new NotFoundError('Meeting')
    return meeting
  }

  /**
   * Who reads a meeting's consents: host, cohosts, admins and the recorder read all of them; any
   * other participant user only their own (the returned id); everyone else gets 404.
   */
  async function readerScope(principal: Principal, meeting: MeetingRow): Promise<{ all: true } | { all: false; participantId: string }> {
    if (principal.roles.includes('admin') || principal.roles.includes('recorder') || meeting.hostUserId === principal.subject) return { all: true }
    const own = isUuid(principal.subject) ? await meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject) : undefined
    if (!own) throw new NotFoundError('Meeting')
    return own.role === 'cohost' ? { all: true } : { all: false, participantId: own.id }
  }

  /** Signed by the key that signed it first (records from before key ids were kept: the current one). */
  function receiptOf(row: AnsweredRecord, sha256: string | null): string {
    const key = row.receiptKid === null ? receiptKeys.current : receiptKeys.byKid.get(row.receiptKid)
    if (!key) {
      throw new ConflictError('receipt_key_unavailable', 'The key that signed this receipt is no longer configured; keep it in RECEIPT_RETIRED_KEYS')
    }
    return signReceipt(key, {
      jti: row.id,
      sub: row.participantId!,
      acc: row.accountId,
      mtg: row.meetingId!,
      scope: row.scope,
      decision: row.decision,
      method: row.method,
      nv: row.noticeVersionId,
      nh: sha256,
      iat: Math.floor(row.at.getTime() / 1000),
      at: row.at.toISOString(),
    })
  }

  function answerOf(row: AnsweredRecord, version: ConsentContext['version']) {
    const sha256 = row.noticeVersionId && version?.id === row.noticeVersionId ? version.sha256 : null
    return { ...toRecord(row), noticeSha256: sha256, receipt: receiptOf(row, sha256) }
  }

  /** The first answer again (the receipt is deterministic), if the retry asks exactly what the first request asked. */
  function replay(row: AnsweredRecord, meetingId: string, input: CreateConsent, version: ConsentContext['version']) {
    const same =
      row.meetingId === meetingId &&
      row.participantId === input.participantId &&
      row.scope === input.scope &&
      row.decision === input.decision &&
      row.method === input.method &&
      row.noticeVersionId === (input.noticeVersionId ?? null) &&
      row.guardianName === (input.guardianName ?? null)
    if (!same) throw new DomainError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request')
    return { answer: answerOf(row, version), replayed: true }
  }

  return {
    /** A meeting record's receipt, as the consent POST answered it (a privacy export includes them). */
    receiptOf: (row: AnsweredRecord, sha256: string | null) => receiptOf(row, sha256),

    /**
     * What a joining client shows and knows: notices not yet answered in their current version, and
     * the consent state. The join already resolved the meeting's settings, and knows when the
     * participant is new (a guest always is), so has no answers to read.
     */
    async joinState(meeting: MeetingRow, participantId: string, locale: string | undefined, known: JoinKnowledge) {
      const shown = await noticesService.currentFor(meeting.accountId, meetingNoticeKinds((key) => known.settings[key]?.value), locale)
      const latest = known.newParticipant ? [] : await consents.latestOfParticipant(meeting.accountId, meeting.id, participantId)
      const byScope = new Map(latest.map((row) => [row.scope, row]))
      const decision = (scope: MeetingScope): ConsentRow['decision'] | 'none' => byScope.get(scope)?.decision ?? 'none'
      const answered = (notice: MeetingNotice) => byScope.get(notice.kind)?.noticeVersionId === notice.versionId
      return {
        notices: shown.filter((notice) => !answered(notice)),
        consent: { recording: decision('recording'), transcript: decision('transcript'), attentionTracking: decision('attention_tracking') },
      }
    },

    async noticesForMeeting(principal: Principal, meetingId: string, locale: string | undefined) {
      const meeting = await loadMeeting(principal, meetingId)
      await readerScope(principal, meeting)
      const effective = (await settings.effectiveForMeeting(meeting.accountId, meeting)).settings
      return { items: await noticesService.currentFor(meeting.accountId, meetingNoticeKinds((key) => effective[key]?.value), locale) }
    },

    /**
     * Appends a consent record. The participant's own user answers for themself, the client that
     * joined a guest for the guest; the host or an admin records a guardian's or a verbal answer.
     */
    async record(principal: Principal, meetingId: string, input: CreateConsent, client: ClientContext) {
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      const accountId = principal.accountId
      // The record is its own idempotency store: it carries the request's key, so a retry finds
      // what the first run wrote, even after a crash between the commit and the answer.
      const requestKey = client.idempotencyKey ? `${principal.subject}:${client.idempotencyKey}` : null
      // One read for every check below (and for a retry's first record), one statement for the write: this is the join path's hot POST.
      const { meeting, participant, version, existing } = await consents.context(accountId, meetingId, input.participantId, input.scope, input.noticeVersionId ?? null, requestKey)
      // A retry answers the first record before any check: what was true then need not be now.
      if (existing) return replay(existing, meetingId, input, version)
      if (!meeting) throw new NotFoundError('Meeting')
      const manager = principal.roles.includes('admin') || meeting.hostUserId === principal.subject
      if (!participant) {
        if (manager || (isUuid(principal.subject) && (await meetings.participantOfUser(accountId, meeting.id, principal.subject)))) {
          throw new NotFoundError('Participant')
        }
        throw new NotFoundError('Meeting')
      }
      const self = participant.userId !== null ? participant.userId === principal.subject : participant.joinedBy === principal.subject
      if (ATTESTED_METHODS.has(input.method)) {
        if (!manager) throw new ForbiddenError(`Only the host or an admin records a ${input.method} consent`)
      } else if (!self) {
        throw new ForbiddenError('Only the participant, or the client that joined a guest, answers for them')
      }
      if (input.method === 'guardian' && !participant.isMinor) {
        throw new ValidationError('A guardian consents only for a minor', [{ pointer: '/body/method', detail: 'guardian is for minors only' }])
      }
      // An adult's own decision is changed only by a later decision of their own: someone else's
      // word (a host's note of a verbal answer) counts only until they answer themself.
      if (ATTESTED_METHODS.has(input.method) && !participant.isMinor && participant.answeredSelf) {
        throw new ConflictError('proxy_not_allowed', `The participant answered ${input.scope} themself; only they can change it`)
      }
      if (input.method === 'guardian' && !input.guardianName) {
        throw new ValidationError('A guardian consent names the guardian', [{ pointer: '/body/guardianName', detail: 'required with method guardian' }])
      }
      if (input.method !== 'guardian' && input.guardianName !== undefined) {
        throw new ValidationError('guardianName goes with method guardian', [{ pointer: '/body/guardianName', detail: 'only with method guardian' }])
      }
      if ((input.decision === 'granted' || input.decision === 'notified') && !input.noticeVersionId) {
        throw new ValidationError('A consent names the notice version it answers', [{ pointer: '/body/noticeVersionId', detail: `required when the decision is ${input.decision}` }])
      }
      if (input.noticeVersionId) {
        if (!version) throw new ValidationError('Unknown notice version', [{ pointer: '/body/noticeVersionId', detail: 'not a notice version of this account' }])
        if (version.kind !== (input.scope as NoticeKind)) {
          throw new ValidationError('The notice is of another kind', [{ pointer: '/body/noticeVersionId', detail: `a ${version.kind} notice cannot answer ${input.scope}` }])
        }
        // Agreeing is only to the current text; withdrawing or declining may name any version (P-DSR-7).
        if ((input.decision === 'granted' || input.decision === 'notified') && version.currentId !== version.id) {
          throw new ConflictError('notice_outdated', `Version ${version.version} was superseded by version ${version.currentVersion}; answer the current one`, undefined, {
            currentVersionId: version.currentId,
          })
        }
      }

      const idTime = clock.now().getTime()
      const inserted = await consents.recordMeetingConsent({
        accountId,
        id: newId(idTime),
        auditId: newId(idTime),
        actor: auditActor(principal),
        userId: participant.userId,
        meetingId: meeting.id,
        participantId: participant.id,
        scope: input.scope,
        decision: input.decision,
        method: input.method,
        noticeVersionId: input.noticeVersionId ?? null,
        guardianName: input.guardianName ?? null,
        recordedBy: principal.subject,
        // Rule 8: the database's clock stamps the record after the statement locked the meeting;
        // a clock a test injected stamps it itself.
        at: clock.inDatabase ? null : clock.now(),
        userAgent: client.userAgent?.slice(0, 300) ?? null,
        clientNetwork: coarseNetwork(client.ip),
        requestKey,
        receiptKid: receiptKeys.current.kid,
      })
      if (inserted) {
        chainAudit(accountId)
        return { answer: answerOf(inserted, version), replayed: false }
      }
      // A request with the same key committed first (a concurrent retry): answer its record.
      const first = requestKey ? await consents.byRequestKey(accountId, requestKey) : undefined
      if (!first) throw new NotFoundError('Meeting')
      return replay(first, meetingId, input, version)
    },

    async list(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined; asOf?: string | undefined; participantId?: string | undefined; scope?: string | undefined }) {
      const meeting = await loadMeeting(principal, meetingId)
      const reader = await readerScope(principal, meeting)
      if (!reader.all && query.participantId && query.participantId !== reader.participantId) {
        throw new ForbiddenError("A participant reads only their own consents")
      }
      const rows = await consents.page(meeting.accountId, meeting.id, {
        afterId: decodeCursor(query.cursor),
        limit: query.limit + 1,
        asOf: query.asOf ? new Date(query.asOf) : undefined,
        participantId: reader.all ? query.participantId : reader.participantId,
        scope: query.scope,
      })
      return toPage(rows, query.limit, (row) => row.id, toRecord)
    },

    /** Each participant's current record per scope (null: never answered). */
    async status(principal: Principal, meetingId: string) {
      const meeting = await loadMeeting(principal, meetingId)
      const reader = await readerScope(principal, meeting)
      const [people, latest] = await Promise.all([meetings.participantsOf(meeting.accountId, meeting.id), consents.latestOfMeeting(meeting.accountId, meeting.id)])
      const state = (row: ConsentRow | undefined) =>
        row ? { decision: row.decision, at: row.at.toISOString(), noticeVersionId: row.noticeVersionId, method: row.method, recordId: row.id } : null
      return {
        items: people
          .filter(({ participant: p }) => reader.all || p.id === reader.participantId)
          .map(({ participant: p, displayName }) => {
            const of = (scope: MeetingScope) => state(latest.find((row) => row.participantId === p.id && row.scope === scope))
            return {
              participantId: p.id,
              displayName,
              role: p.role,
              isMinor: p.isMinor,
              scopes: { recording: of('recording'), transcript: of('transcript'), attentionTracking: of('attention_tracking') },
            }
          }),
      }
    },

    jwks: () => ({ keys: receiptKeys.jwks }),
  }
}

export type ConsentsService = ReturnType<typeof createConsentsService>
