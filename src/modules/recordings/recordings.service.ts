import type { Readable } from 'node:stream'
import type { InTransaction } from '../../../db/client.js'
import type { Principal } from '../../lib/access.js'
import type { BlobStore, StagedBlob } from '../../lib/blob-store.js'
import { regionStorageUnavailable } from '../../lib/s3-blob-store.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, ForbiddenError, NotFoundError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import type { AccountsRepository } from '../accounts/accounts.repository.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import { consentMissing, type GateService, gateInput, toViolationItem } from '../gate/gate.service.js'
import type { MeetingRow } from '../meetings/meetings.repository.js'
import type { SupportService } from '../support/support.service.js'
import type { RecordingRow, RecordingsRepository } from './recordings.repository.js'
import type { CreateRecording } from './recordings.schemas.js'

const DAY_MS = 86_400_000
const iso = (date: Date | null) => (date ? date.toISOString() : null)

export const toRecording = (row: RecordingRow) => ({
  id: row.id,
  meetingId: row.meetingId,
  kind: row.kind,
  status: row.status,
  startedAt: row.startedAt.toISOString(),
  endedAt: row.endedAt.toISOString(),
  capturedParticipantIds: row.capturedParticipantIds,
  excludedParticipantIds: row.excludedParticipantIds,
  grantId: row.grantId,
  sizeBytes: row.sizeBytes,
  sha256: row.sha256,
  region: row.region,
  expiresAt: iso(row.expiresAt),
  createdAt: row.createdAt.toISOString(),
  storedAt: iso(row.storedAt),
  deletedAt: iso(row.deletedAt),
})

interface Deps {
  inTransaction: InTransaction
  recordings: RecordingsRepository
  accounts: AccountsRepository
  gate: GateService
  audit: AuditRepository
  blobs: BlobStore
  support: SupportService
  clock: Clock
  uploadLimit: number
}

export function createRecordingsService({ inTransaction, recordings, accounts, gate, audit, blobs, support, clock, uploadLimit }: Deps) {
  async function find(meeting: MeetingRow, recordingId: string): Promise<RecordingRow> {
    const row = await recordings.find(meeting.accountId, meeting.id, recordingId)
    if (!row) throw new NotFoundError('Recording')
    return row
  }

  return {
    /**
     * Registers a recording only if the gate allows its window (P-REC-1): the decision and the
     * insert share one transaction. A refusal commits nothing but its audit entry (rule 6).
     */
    async create(principal: Principal, meetingId: string, input: CreateRecording) {
      const meeting = await gate.loadForCapture(principal, meetingId)
      // The kind's switch is one of the decision's rules: a preview of this window says the same.
      const request = gateInput('recording', input, true)
      const account = (await accounts.findById(meeting.accountId))!
      // A cloud recording whose bytes would have nowhere to go in the account's region is never registered.
      if (input.kind === 'cloud' && !blobs.serves(account.dataRegion)) throw regionStorageUnavailable(account.dataRegion)
      const outcome = await inTransaction(async (tx) => {
        const result = await gate.decideForStore(tx, principal, meeting, request)
        const now = clock.now()
        if (!result.grantId) {
          await audit.append(tx, meeting.accountId, {
            actor: auditActor(principal),
            action: 'recording.rejected',
            targetType: 'meeting',
            targetId: meeting.id,
            details: { kind: input.kind, startedAt: input.startedAt, endedAt: input.endedAt, violations: result.violations.map(toViolationItem) },
          }, now)
          return { refused: result }
        }
        const days = result.settings['recording.auto_delete_days']!.value as number
        const row = await recordings.insert(tx, {
          accountId: meeting.accountId,
          id: newId(now.getTime()),
          meetingId: meeting.id,
          kind: input.kind,
          status: input.kind === 'cloud' ? 'pending' : 'stored',
          startedAt: request.window.from,
          endedAt: request.window.to,
          capturedParticipantIds: result.captured,
          excludedParticipantIds: result.excluded,
          grantId: result.grantId,
          region: account.dataRegion,
          expiresAt: input.kind === 'cloud' ? new Date(request.window.to.getTime() + days * DAY_MS) : null,
          createdBy: principal.subject,
          createdAt: now,
          storedAt: input.kind === 'local' ? now : null,
        })
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'recording.created',
          targetType: 'recording',
          targetId: row.id,
          details: { meetingId: meeting.id, kind: row.kind, grantId: row.grantId, captured: row.capturedParticipantIds.length },
        }, now)
        return { row }
      })
      if (outcome.refused) throw consentMissing(outcome.refused)
      return toRecording(outcome.row!)
    },

    async list(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined }) {
      const { meeting, supportGrantId } = await gate.loadForArtefacts(principal, meetingId)
      const rows = await recordings.page(meeting.accountId, meeting.id, decodeCursor(query.cursor), query.limit + 1)
      if (supportGrantId) await support.auditRead(principal, meeting.accountId, supportGrantId, { what: 'recording_list', targetType: 'meeting', targetId: meeting.id, meetingId: meeting.id })
      return toPage(rows, query.limit, (row) => row.id, toRecording)
    },

    async get(principal: Principal, meetingId: string, recordingId: string) {
      const { meeting, supportGrantId } = await gate.loadForArtefacts(principal, meetingId)
      const row = await find(meeting, recordingId)
      if (supportGrantId) await support.auditRead(principal, meeting.accountId, supportGrantId, { what: 'recording', targetType: 'recording', targetId: row.id, meetingId: meeting.id })
      return toRecording(row)
    },

    /**
     * Streams the bytes into the blob store, then decides again at commit: a withdrawal that
     * committed during the upload wins, and a refused or failed upload leaves no file.
     */
    async putContent(principal: Principal, meetingId: string, recordingId: string, body: Readable) {
      const meeting = await gate.loadForCapture(principal, meetingId)
      const before = await find(meeting, recordingId)
      if (before.kind !== 'cloud') throw new ConflictError('not_cloud', 'A local recording registers metadata only')
      if (before.status !== 'pending') throw new ConflictError('content_exists', `The recording is ${before.status}; content is uploaded once`)
      // The bytes go to the account's region or nowhere (P-RES-1): refused before one is read.
      if (!blobs.serves(before.region)) throw regionStorageUnavailable(before.region)
      // Received and complete before the transaction: under the meeting's lock only a local step.
      const upload: StagedBlob = await blobs.receive(body, uploadLimit, { accountId: meeting.accountId, artefactId: recordingId, region: before.region })
      const key = upload.key
      let moved = false
      try {
        const outcome = await inTransaction(async (tx) => {
          const current = (await recordings.find(meeting.accountId, meeting.id, recordingId, tx, true))!
          if (current.status !== 'pending') throw new ConflictError('content_exists', `The recording is ${current.status}; content is uploaded once`)
          const result = await gate.decideForStore(tx, principal, meeting, {
            scope: 'recording',
            kind: 'cloud',
            window: { from: current.startedAt, to: current.endedAt },
            captured: current.capturedParticipantIds.map((participantId) => ({ participantId })),
            excluded: current.excludedParticipantIds,
            ended: true,
          })
          const now = clock.now()
          if (!result.grantId) {
            await recordings.update(tx, meeting.accountId, recordingId, { status: 'rejected' })
            await audit.append(tx, meeting.accountId, {
              actor: auditActor(principal),
              action: 'recording.rejected',
              targetType: 'recording',
              targetId: recordingId,
              details: { meetingId: meeting.id, atCommit: true, violations: result.violations.map(toViolationItem) },
            }, now)
            return { refused: result }
          }
          await blobs.place(upload)
          moved = true
          const row = await recordings.update(tx, meeting.accountId, recordingId, {
            status: 'stored',
            grantId: result.grantId,
            storageKey: key,
            sizeBytes: upload.size,
            sha256: upload.sha256,
            storedAt: now,
          })
          await audit.append(tx, meeting.accountId, {
            actor: auditActor(principal),
            action: 'recording.stored',
            targetType: 'recording',
            targetId: recordingId,
            details: { meetingId: meeting.id, sizeBytes: upload.size, sha256: upload.sha256, grantId: result.grantId },
          }, now)
          return { row }
        })
        if (outcome.refused) throw consentMissing(outcome.refused)
        return toRecording(outcome.row!)
      } catch (error) {
        // Nothing of a refused or failed upload stays in the store.
        await (moved ? blobs.remove(key) : blobs.discard(upload))
        throw error
      }
    },

    /**
     * The host, an admin, or the operator under a running support grant reads the bytes; every
     * read is audited before a byte leaves (P-REC-6, P-GOV-2).
     */
    async openContent(principal: Principal, meetingId: string, recordingId: string) {
      const { meeting, manager, supportGrantId } = await gate.loadForArtefacts(principal, meetingId)
      if (!manager && !supportGrantId) throw new ForbiddenError('Only the host or an admin reads recording content')
      const row = await find(meeting, recordingId)
      if (row.status !== 'stored' || !row.storageKey) throw new NotFoundError('Recording content')
      const now = clock.now()
      await inTransaction((tx) =>
        audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'recording.content_read',
          targetType: 'recording',
          targetId: row.id,
          details: { meetingId: meeting.id, sizeBytes: row.sizeBytes, ...(supportGrantId ? { grantId: supportGrantId } : {}) },
        }, now),
      )
      return { stream: await blobs.open(row.storageKey), size: row.sizeBytes!, sha256: row.sha256! }
    },

    /** The host or an admin deletes: the bytes go, the row stays as a tombstone with its grant. */
    async remove(principal: Principal, meetingId: string, recordingId: string) {
      const { meeting, manager } = await gate.loadForArtefacts(principal, meetingId)
      if (!manager) throw new ForbiddenError('Only the host or an admin deletes a recording')
      await find(meeting, recordingId)
      const now = clock.now()
      const key = await inTransaction(async (tx) => {
        const row = (await recordings.find(meeting.accountId, meeting.id, recordingId, tx, true))!
        if (row.status === 'deleted') return null
        await recordings.update(tx, meeting.accountId, recordingId, { status: 'deleted', deletedAt: now, storageKey: null })
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'recording.deleted',
          targetType: 'recording',
          targetId: recordingId,
          details: { meetingId: meeting.id, hadContent: row.storageKey !== null },
        }, now)
        return row.storageKey
      })
      if (key) await blobs.remove(key)
    },
  }
}

export type RecordingsService = ReturnType<typeof createRecordingsService>
