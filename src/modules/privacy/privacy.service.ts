import type { InTransaction, Tx } from '../../../db/client.js'
import type { PrivacyRequestStatus, PrivacyRequestType } from '../../../db/schema/index.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { BlobStore } from '../../lib/blob-store.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor, SYSTEM_ACTOR } from '../audit/audit.repository.js'
import type { AnsweredRecord } from '../consents/consents.repository.js'
import type { AccountsRepository } from '../accounts/accounts.repository.js'
import type { MeetingsRepository } from '../meetings/meetings.repository.js'
import type { SettingsService } from '../settings/settings.service.js'
import type { UsersRepository } from '../users/users.repository.js'
import { CATALOG } from '../settings/settings.catalog.js'
import { PERSONAL_DATA } from './privacy.catalog.js'
import { deadlineOf } from './privacy.deadline.js'
import type { HistoryRow, PrivacyRepository, PrivacyRequestRow, Subject } from './privacy.repository.js'
import { type ExportDocument, type FileForSubject, type FileOwnRequest, MAX_EXTENSION_DAYS, type PatchRequest } from './privacy.schemas.js'

/** The settings a restriction holds off while it stands (marketing and profiling, P-DSR-4). */
const RESTRICTED_SETTINGS = CATALOG.filter((definition) => definition.stopsWhileRestricted).map((definition) => definition.key)

const DAY_MS = 86_400_000
const EXPORT_DAYS = 30
export const PRIVACY_JOB = 'privacy_request.work'
/**
 * A request's work is retried, at most hourly after the first hour, for about the month the law
 * gives it: a failure that needs an operator (an audit trail that cannot be chained) must not
 * leave the request in progress with nobody working on it. An admin sees it overdue meanwhile.
 */
export const PRIVACY_JOB_ATTEMPTS = 720

/** The moves a request may make; anything else is 409 invalid_transition. */
const TRANSITIONS: Record<PrivacyRequestStatus, readonly PrivacyRequestStatus[]> = {
  received: ['verified', 'rejected'],
  verified: ['in_progress', 'rejected'],
  in_progress: ['completed', 'rejected'],
  completed: [],
  rejected: [],
}
const OPEN: readonly PrivacyRequestStatus[] = ['received', 'verified', 'in_progress']
const GUEST_TYPES: readonly PrivacyRequestType[] = ['access', 'erasure']

interface Deps {
  inTransaction: InTransaction
  privacy: PrivacyRepository
  accounts: AccountsRepository
  users: UsersRepository
  meetings: MeetingsRepository
  settings: SettingsService
  audit: AuditRepository
  blobs: BlobStore
  clock: Clock
  /** Queues the request's work on the job runner, in the caller's transaction. */
  enqueue: (tx: Tx, requestId: string, accountId: string) => Promise<unknown>
  /** Signs a consent record's receipt, as the consent API does. */
  receiptOf: (row: AnsweredRecord, sha256: string | null) => string
  /**
   * Chains the account's pending audit events and waits: an export lists every committed event
   * about the subject. Throws 503 audit_unavailable when they could not be chained: a request's
   * work fails its attempt and is retried, `GET /v1/me/export` answers 503.
   */
  auditCurrent: (accountId: string) => Promise<void>
}

interface Withheld {
  category: string
  count: number
  reason: 'account_rule' | 'legal_obligation' | 'legal_hold'
  holdIds?: string[]
  detail: string
}

const iso = (at: Date | null | undefined) => (at ? at.toISOString() : null)

function toRequest(row: PrivacyRequestRow, history: HistoryRow[], now: Date, exportAvailable: boolean) {
  const due = row.extendedTo ?? row.dueAt
  return {
    id: row.id,
    accountId: row.accountId,
    type: row.type,
    status: row.status,
    subjectUserId: row.subjectUserId,
    guest: row.subjectParticipantId ? { meetingId: row.subjectMeetingId!, participantId: row.subjectParticipantId } : null,
    filedBy: row.filedBy,
    filedAs: row.filedAs,
    reason: row.reason,
    receivedAt: row.receivedAt.toISOString(),
    dueAt: due.toISOString(),
    originalDueAt: row.dueAt.toISOString(),
    extensionReason: row.extensionReason,
    overdue: OPEN.includes(row.status) && due < now,
    completedAt: iso(row.completedAt),
    liftedAt: iso(row.liftedAt),
    result: row.result ?? null,
    exportAvailable,
    history: history.map((entry) => ({ at: entry.at.toISOString(), actor: entry.actor, change: entry.change, from: entry.fromStatus, to: entry.toStatus, reason: entry.reason })),
  }
}

const subjectOf = (row: PrivacyRequestRow): Subject =>
  row.subjectUserId ? { accountId: row.accountId, userId: row.subjectUserId } : { accountId: row.accountId, guest: { meetingId: row.subjectMeetingId!, participantId: row.subjectParticipantId! } }

/**
 * Privacy requests (P-DSR-1…7): filed by the subject or by an admin for them, due by the
 * account's deadline, worked on the job runner (so a restart loses nothing), every change kept
 * in the request's history and in the audit trail.
 */
export function createPrivacyService(deps: Deps) {
  const { inTransaction, privacy, accounts, users, meetings, settings, audit, blobs, clock, enqueue, auditCurrent } = deps

  async function present(rows: PrivacyRequestRow[], accountId: string) {
    const ids = rows.map((row) => row.id)
    const [history, exports] = await Promise.all([privacy.historyOf(accountId, ids), privacy.exportIds(accountId, ids)])
    const now = clock.now()
    return rows.map((row) => toRequest(row, history.filter((entry) => entry.requestId === row.id), now, exports.has(row.id)))
  }

  /** A status change with its history entry and audit event, in the caller's transaction. */
  async function move(tx: Tx, row: PrivacyRequestRow, to: PrivacyRequestStatus, actor: { id: string; type: 'user' | 'platform' | 'system' }, reason: string | null, extra: Partial<PrivacyRequestRow> = {}) {
    if (!TRANSITIONS[row.status].includes(to)) {
      throw new ConflictError('invalid_transition', `A request ${row.status} cannot become ${to}`, undefined, { currentStatus: row.status, allowed: TRANSITIONS[row.status] })
    }
    const now = clock.now()
    const updated = await privacy.update(tx, row.accountId, row.id, { status: to, ...extra, ...(to === 'completed' || to === 'rejected' ? { completedAt: now } : {}) })
    await privacy.addHistory(tx, { accountId: row.accountId, requestId: row.id, at: now, actor: actor.id, change: 'status', fromStatus: row.status, toStatus: to, reason })
    await audit.append(tx, row.accountId, { actor, action: 'privacy_request.status_changed', targetType: 'privacy_request', targetId: row.id, details: { type: row.type, from: row.status, to } }, now)
    // Verified work starts by itself; a cancellation stops processing at once (the subject's tokens are refused from now on).
    if (to === 'verified') {
      if (row.type === 'cancel_account' && row.subjectUserId) await users.update(tx, row.accountId, row.subjectUserId, { status: 'cancelled', updatedAt: now })
      await enqueue(tx, row.id, row.accountId)
    }
    return updated
  }

  async function file(principal: Principal, accountId: string, input: { type: PrivacyRequestType; details?: Record<string, unknown> | undefined; reason?: string | undefined }, subject: { userId: string | null; meetingId: string | null; participantId: string | null }, filedAs: 'subject' | 'admin') {
    if (input.details && input.type !== 'rectification') throw new ValidationError('details go with rectification', [{ pointer: '/body/details', detail: 'only for type rectification' }])
    if (input.type === 'rectification' && !input.details?.displayName && input.details?.pictureUrl === undefined) {
      throw new ValidationError('A rectification names what to correct', [{ pointer: '/body/details', detail: 'displayName or pictureUrl' }])
    }
    const account = (await accounts.findById(accountId))!
    const now = clock.now()
    const row = await inTransaction(async (tx) => {
      const open = await privacy.findOpen(tx, accountId, input.type, subject)
      if (open) throw new ConflictError('request_open', `Request ${open.id} of this type is still open for this subject`, undefined, { requestId: open.id })
      const inserted = await privacy.insert(tx, {
        accountId,
        id: newId(now.getTime()),
        type: input.type,
        status: 'received',
        subjectUserId: subject.userId,
        subjectMeetingId: subject.meetingId,
        subjectParticipantId: subject.participantId,
        details: input.details ?? {},
        filedBy: principal.subject,
        filedAs,
        reason: input.reason ?? null,
        receivedAt: now,
        dueAt: deadlineOf(input.type, now, account),
      })
      await privacy.addHistory(tx, { accountId, requestId: inserted.id, at: now, actor: principal.subject, change: 'status', fromStatus: null, toStatus: 'received', reason: input.reason ?? null })
      await audit.append(tx, accountId, { actor: auditActor(principal), action: 'privacy_request.received', targetType: 'privacy_request', targetId: inserted.id, details: { type: input.type, filedAs } }, now)
      // The subject's own valid token is the verification: their request is verified on receipt.
      return filedAs === 'subject' ? move(tx, inserted, 'verified', auditActor(principal), 'filed with the subject’s own token') : inserted
    })
    return (await present([row], accountId))[0]!
  }

  async function requireOwn(principal: Principal, requestId: string) {
    const row = isUuid(requestId) ? await privacy.find(principal.accountId, requestId) : undefined
    if (!row || row.subjectUserId !== principal.subject) throw new NotFoundError('Privacy request')
    return row
  }

  async function requireInAccount(principal: Principal, accountId: string, requestId: string) {
    requireAccountRole(principal, accountId, ['admin'])
    const row = isUuid(requestId) ? await privacy.find(accountId, requestId) : undefined
    if (!row) throw new NotFoundError('Privacy request')
    return row
  }

  // ---- The work of each type ----

  async function buildExport(subject: Subject): Promise<ExportDocument> {
    await auditCurrent(subject.accountId)
    const data = await privacy.gather(subject)
    const meta = (category: string) => {
      const entry = PERSONAL_DATA.find((candidate) => candidate.category === category)!
      return { category, purpose: entry.purpose, legalBasis: entry.legalBasis, recipients: entry.recipients, retention: entry.retention }
    }
    const plain = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value)) as Record<string, unknown>
    return {
      format: 'consentry.export/1',
      generatedAt: clock.now().toISOString(),
      subject: { accountId: subject.accountId, userId: 'userId' in subject ? subject.userId : null, guest: 'guest' in subject ? subject.guest : null },
      categories: [
        { ...meta('profile'), items: data.profile.map(plain) },
        { ...meta('memberships'), items: data.memberships.map(plain) },
        { ...meta('settings'), items: data.settings.map(plain) },
        {
          ...meta('meetings_and_presence'),
          items: data.participations.map(({ participant, meetingTopic, meetingStatus }) =>
            plain({ ...participant, meetingTopic, meetingStatus, presence: data.presence.filter((interval) => interval.participantId === participant.id) }),
          ),
        },
        {
          ...meta('consents_and_receipts'),
          items: data.consents.map(({ record, client, notice }) =>
            plain({
              ...record,
              userAgent: client?.userAgent ?? null,
              clientNetwork: client?.clientNetwork ?? null,
              notice: notice?.id ? notice : null,
              receipt: record.meetingId && record.participantId ? deps.receiptOf(record, notice?.sha256 ?? null) : null,
            }),
          ),
        },
        { ...meta('recordings'), items: data.captured.map(plain) },
        { ...meta('transcripts'), items: data.ownSegments.map(plain) },
        { ...meta('attention_spans'), items: data.spans.map(plain) },
        { ...meta('media_diagnostics'), items: data.diagnostics.map(plain) },
        { ...meta('audit_entries'), items: data.auditAbout.map(plain) },
        { ...meta('idempotent_answers'), items: data.answers.map(plain) },
        { ...meta('privacy_requests'), items: data.requests.map(plain) },
        { ...meta('export_documents'), items: data.exports.map(plain) },
      ],
    }
  }

  /** Erasure (P-DSR-3): every personal value of the subject deleted or anonymised, except what is listed as withheld, with why. */
  async function erase(tx: Tx, subject: Subject, status?: 'cancelled') {
    const acc = subject.accountId
    const userId = 'userId' in subject ? subject.userId : null
    const now = clock.now()
    const parts = await privacy.participationIds(subject, tx)
    const meetingIds = await privacy.meetingsOf(parts, acc, tx)
    const holds = await privacy.holdsOver(tx, acc, userId, meetingIds, now)
    const withheld: Withheld[] = []
    const erased: Record<string, number> = {}
    const subjectHolds = holds.filter((hold) => hold.subject_user_id !== null).map((hold) => hold.id)
    if (subjectHolds.length > 0) {
      // A hold on the subject keeps everything it covers; only the cancellation itself proceeds.
      if (status && userId) await users.update(tx, acc, userId, { status, updatedAt: now })
      withheld.push({ category: 'all', count: 1, reason: 'legal_hold', holdIds: subjectHolds, detail: 'a legal hold on the subject suspends erasure of their data' })
      return { erased, withheld, blobs: [] as string[] }
    }
    const heldMeetings = new Set(holds.map((hold) => hold.meeting_id).filter((id): id is string => id !== null))
    const heldIds = holds.map((hold) => hold.id)

    // Recordings the subject appears in follow the account's rule.
    const captured = await privacy.recordingsOf(tx, acc, parts)
    const onHold = captured.filter((recording) => heldMeetings.has(recording.meetingId))
    const free = captured.filter((recording) => !heldMeetings.has(recording.meetingId))
    const rule = (await settings.accountValues(acc, ['recording.on_erasure'], tx))['recording.on_erasure'] as 'delete' | 'withhold'
    const blobKeys: string[] = []
    if (rule === 'delete') {
      await privacy.deleteRecordings(tx, acc, free.map((recording) => recording.id), now)
      blobKeys.push(...free.map((recording) => recording.storageKey).filter((key): key is string => key !== null))
      erased.recordings = free.length
    } else if (free.length > 0) {
      withheld.push({ category: 'recordings', count: free.length, reason: 'account_rule', detail: 'recording.on_erasure is withhold: other participants’ rights require keeping them' })
    }
    if (onHold.length > 0) withheld.push({ category: 'recordings', count: onHold.length, reason: 'legal_hold', holdIds: heldIds, detail: 'a legal hold on the meeting' })

    erased.transcript_segments = await privacy.redactSegments(tx, acc, parts, heldMeetings)
    erased.attention_spans = await privacy.deleteSpans(tx, acc, parts, heldMeetings)
    if (heldMeetings.size > 0) withheld.push({ category: 'transcripts_and_attention', count: heldMeetings.size, reason: 'legal_hold', holdIds: heldIds, detail: 'segments and spans of held meetings are kept' })
    erased.consent_client_details = await privacy.deleteClientDetails(tx, acc, userId, parts)
    if (userId) {
      erased.media_diagnostics = await privacy.deleteDiagnostics(tx, acc, userId)
      erased.idempotent_answers = await privacy.deleteAnswers(tx, acc, userId)
      erased.settings = await privacy.deleteOwnSettings(tx, acc, userId)
      erased.export_documents = await privacy.deleteExportsOf(tx, acc, userId)
      await privacy.clearRectificationDetails(tx, acc, userId)
      await users.update(tx, acc, userId, {
        email: `erased-${userId}@erased.invalid`,
        displayName: 'Erased user',
        pictureUrl: null,
        birthDate: null,
        guardianConsentBy: null,
        guardianConsentAt: null,
        updatedAt: now,
        ...(status ? { status } : {}),
      })
      erased.profile = 1
    } else if ('guest' in subject) {
      await privacy.anonymiseGuest(tx, acc, subject.guest.participantId)
      erased.profile = 1
    }
    withheld.push({ category: 'consents_and_receipts', count: 1, reason: 'legal_obligation', detail: 'consent records stay as pseudonymous evidence (ids and decisions, no personal values)' })
    withheld.push({ category: 'audit_entries', count: 1, reason: 'legal_obligation', detail: 'the audit trail’s legal minimum; its entries carry ids, never personal values' })
    return { erased, withheld, blobs: blobKeys }
  }

  /** The work of a verified request; safe to run again after a crash (each step is idempotent or skipped once done). */
  async function work(accountId: string, requestId: string) {
    const started = await inTransaction(async (tx) => {
      const row = await privacy.lock(tx, accountId, requestId)
      if (!row || (row.status !== 'verified' && row.status !== 'in_progress')) return undefined
      return row.status === 'verified' ? move(tx, row, 'in_progress', SYSTEM_ACTOR, null) : row
    })
    if (!started) return
    const subject = subjectOf(started)
    const now = clock.now()
    let blobKeys: string[] = []
    // The export is read before the transaction that stores it: the embedded database runs one
    // connection, which a read outside the transaction would wait for forever.
    const document = started.type === 'access' || started.type === 'portability' ? await buildExport(subject) : undefined
    await inTransaction(async (tx) => {
      const row = (await privacy.lock(tx, accountId, requestId))!
      if (row.status !== 'in_progress') return
      let result: Record<string, unknown> = {}
      switch (row.type) {
        case 'access':
        case 'portability': {
          await privacy.saveExport(tx, { accountId, requestId, document: document!, createdAt: now, expiresAt: new Date(now.getTime() + EXPORT_DAYS * DAY_MS) })
          result = { categories: document!.categories.map((category) => ({ category: category.category, items: category.items.length })), exportExpiresAt: new Date(now.getTime() + EXPORT_DAYS * DAY_MS).toISOString() }
          break
        }
        case 'rectification': {
          const details = row.details as { displayName?: string; pictureUrl?: string | null }
          await users.update(tx, accountId, row.subjectUserId!, { ...(details.displayName !== undefined ? { displayName: details.displayName } : {}), ...(details.pictureUrl !== undefined ? { pictureUrl: details.pictureUrl } : {}), updatedAt: now })
          result = { corrected: Object.keys(details) }
          break
        }
        case 'erasure':
        case 'cancel_account': {
          const done = await erase(tx, subject, row.type === 'cancel_account' ? 'cancelled' : undefined)
          blobKeys = done.blobs
          result = { erased: done.erased, withheld: done.withheld }
          break
        }
        case 'restriction':
        case 'objection': {
          const user = await users.findById(accountId, row.subjectUserId!, tx)
          if (user && user.status !== 'cancelled') await users.update(tx, accountId, row.subjectUserId!, { status: 'restricted', updatedAt: now })
          result = { restricted: true, stops: ['attention_tracking', 'media_monitoring', ...RESTRICTED_SETTINGS] }
          break
        }
        case 'withdraw_consent': {
          const parts = await privacy.participationIds(subject, tx)
          const grants = await privacy.standingGrants(tx, accountId, row.subjectUserId, parts)
          for (const grant of grants) {
            await privacy.insertWithdrawal(tx, {
              accountId,
              id: newId(now.getTime()),
              userId: row.subjectUserId,
              meetingId: grant.meeting_id,
              participantId: grant.participant_id,
              scope: grant.scope,
              decision: 'withdrawn',
              method: 'explicit_toggle',
              noticeVersionId: grant.notice_version_id,
              recordedBy: row.subjectUserId ?? row.filedBy,
              at: now,
              receiptKid: null,
            })
          }
          result = { withdrawn: grants.length }
          break
        }
      }
      await move(tx, row, 'completed', SYSTEM_ACTOR, null, { result })
    })
    // Rows first, then bytes (a crash between the two leaves an orphan the purge collects).
    for (const key of blobKeys) await blobs.remove(key)
  }

  return {
    work,

    fileOwn(principal: Principal, input: FileOwnRequest) {
      if (!isUuid(principal.subject)) throw new NotFoundError('User')
      return file(principal, principal.accountId, input, { userId: principal.subject, meetingId: null, participantId: null }, 'subject')
    },

    async fileForSubject(principal: Principal, accountId: string, input: FileForSubject) {
      requireAccountRole(principal, accountId, ['admin'])
      if ((input.subjectUserId === undefined) === (input.guest === undefined)) {
        throw new ValidationError('A request names a user or a guest', [{ pointer: '/body', detail: 'exactly one of subjectUserId and guest' }])
      }
      if (input.subjectUserId) {
        if (!(await users.findById(accountId, input.subjectUserId))) throw new NotFoundError('User')
        return file(principal, accountId, input, { userId: input.subjectUserId, meetingId: null, participantId: null }, 'admin')
      }
      if (!GUEST_TYPES.includes(input.type)) throw new ValidationError('A guest’s request is access or erasure', [{ pointer: '/body/type', detail: 'access or erasure for a guest' }])
      const participant = await meetings.participant(accountId, input.guest!.meetingId, input.guest!.participantId)
      if (!participant || participant.userId !== null) throw new NotFoundError('Guest')
      return file(principal, accountId, input, { userId: null, meetingId: input.guest!.meetingId, participantId: input.guest!.participantId }, 'admin')
    },

    async listOwn(principal: Principal) {
      if (!isUuid(principal.subject)) return { items: [] }
      return { items: await present(await privacy.ownRequests(principal.accountId, principal.subject), principal.accountId) }
    },

    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined; status?: string | undefined; type?: string | undefined; overdue?: 'true' | 'false' | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const rows = await privacy.page(accountId, { status: query.status, type: query.type, overdueAt: query.overdue === 'true' ? now : undefined }, decodeCursor(query.cursor), query.limit + 1)
      const items = await present(rows, accountId)
      const page = toPage(items, query.limit, (item) => item.id, (item) => item)
      return { ...page, overdueCount: await privacy.overdueCount(accountId, now) }
    },

    async get(principal: Principal, accountId: string, requestId: string) {
      return (await present([await requireInAccount(principal, accountId, requestId)], accountId))[0]!
    },

    async patch(principal: Principal, accountId: string, requestId: string, input: PatchRequest) {
      await requireInAccount(principal, accountId, requestId)
      const actor = auditActor(principal)
      const row = await inTransaction(async (tx) => {
        let current = (await privacy.lock(tx, accountId, requestId))!
        const now = clock.now()
        if (input.extendTo !== undefined) {
          if (!OPEN.includes(current.status)) throw new ConflictError('request_closed', 'Only an open request is extended')
          if (current.extendedTo) throw new ConflictError('already_extended', `Request ${current.id} was already extended, to ${current.extendedTo.toISOString()}`)
          if (!input.reason) throw new ValidationError('An extension says why', [{ pointer: '/body/reason', detail: 'required with extendTo' }])
          const to = new Date(input.extendTo)
          if (to <= current.dueAt || to.getTime() - current.dueAt.getTime() > MAX_EXTENSION_DAYS * DAY_MS) {
            throw new ValidationError(`An extension moves the deadline later, by at most ${MAX_EXTENSION_DAYS} days`, [{ pointer: '/body/extendTo', detail: `after ${current.dueAt.toISOString()}, at most ${MAX_EXTENSION_DAYS} days later` }])
          }
          current = await privacy.update(tx, accountId, requestId, { extendedTo: to, extensionReason: input.reason })
          await privacy.addHistory(tx, { accountId, requestId, at: now, actor: principal.subject, change: 'extension', fromStatus: null, toStatus: null, reason: `${input.reason} (due ${to.toISOString()})` })
          await audit.append(tx, accountId, { actor, action: 'privacy_request.extended', targetType: 'privacy_request', targetId: requestId, details: { extendedTo: to.toISOString() } }, now)
        }
        if (input.lifted) current = await lift(tx, current, principal)
        if (input.status !== undefined) {
          if (input.status === 'rejected' && !input.reason) throw new ValidationError('A rejection says why', [{ pointer: '/body/reason', detail: 'required with status rejected' }])
          current = await move(tx, current, input.status, actor, input.reason ?? null, input.status === 'rejected' ? { reason: input.reason! } : {})
        }
        return current
      })
      return (await present([row], accountId))[0]!
    },

    async liftOwn(principal: Principal, requestId: string) {
      const own = await requireOwn(principal, requestId)
      const row = await inTransaction(async (tx) => lift(tx, (await privacy.lock(tx, own.accountId, own.id))!, principal))
      return (await present([row], own.accountId))[0]!
    },

    async downloadOwn(principal: Principal, requestId: string) {
      const row = await requireOwn(principal, requestId)
      return downloaded(principal, row)
    },

    async download(principal: Principal, accountId: string, requestId: string) {
      return downloaded(principal, await requireInAccount(principal, accountId, requestId))
    },

    /** The caller's own export, built now (P-DSR-1), audited like every download. */
    async exportNow(principal: Principal) {
      if (!isUuid(principal.subject) || !(await users.findById(principal.accountId, principal.subject))) throw new NotFoundError('User')
      const document = await buildExport({ accountId: principal.accountId, userId: principal.subject })
      await inTransaction((tx) => audit.append(tx, principal.accountId, { actor: auditActor(principal), action: 'privacy_export.downloaded', targetType: 'user', targetId: principal.subject, details: { requestId: null } }, clock.now()))
      return document
    },
  }

  async function lift(tx: Tx, row: PrivacyRequestRow, principal: Principal) {
    if ((row.type !== 'restriction' && row.type !== 'objection') || row.status !== 'completed' || row.liftedAt) {
      throw new ConflictError('not_liftable', 'Only a completed restriction or objection that still stands is lifted')
    }
    const now = clock.now()
    const user = await users.findById(row.accountId, row.subjectUserId!, tx)
    if (user && user.status === 'restricted') await users.update(tx, row.accountId, row.subjectUserId!, { status: 'active', updatedAt: now })
    const updated = await privacy.update(tx, row.accountId, row.id, { liftedAt: now })
    await privacy.addHistory(tx, { accountId: row.accountId, requestId: row.id, at: now, actor: principal.subject, change: 'lift', fromStatus: null, toStatus: null, reason: null })
    await audit.append(tx, row.accountId, { actor: auditActor(principal), action: 'privacy_request.lifted', targetType: 'privacy_request', targetId: row.id, details: {} }, now)
    return updated
  }

  async function downloaded(principal: Principal, row: PrivacyRequestRow) {
    const stored = await privacy.findExport(row.accountId, row.id)
    if (!stored) throw new NotFoundError('Export')
    await inTransaction((tx) => audit.append(tx, row.accountId, { actor: auditActor(principal), action: 'privacy_export.downloaded', targetType: 'privacy_request', targetId: row.id, details: { requestId: row.id } }, clock.now()))
    return stored.document as ExportDocument
  }
}

export type PrivacyService = ReturnType<typeof createPrivacyService>
