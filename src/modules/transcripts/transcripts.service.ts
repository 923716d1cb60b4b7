import type { InTransaction } from '../../../db/client.js'
import type { TranscriptSegment } from '../../../db/schema/index.js'
import type { Principal } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ForbiddenError, NotFoundError, type ProblemItem, ValidationError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { Span } from '../gate/gate.decision.js'
import { consentMissing, type GateService, gateInput, toViolationItem } from '../gate/gate.service.js'
import type { MeetingRow } from '../meetings/meetings.repository.js'
import type { RecordingsRepository } from '../recordings/recordings.repository.js'
import type { SupportService } from '../support/support.service.js'
import type { TranscriptRow, TranscriptsRepository } from './transcripts.repository.js'
import type { CreateTranscript } from './transcripts.schemas.js'

const DAY_MS = 86_400_000

const summary = (row: TranscriptRow) => ({
  id: row.id,
  meetingId: row.meetingId,
  recordingId: row.recordingId,
  status: row.status,
  startedAt: row.startedAt.toISOString(),
  endedAt: row.endedAt.toISOString(),
  grantId: row.grantId,
  segmentCount: row.segments.length,
  redactedSegments: row.redactedSegments,
  createdAt: row.createdAt.toISOString(),
  expiresAt: row.expiresAt.toISOString(),
  deletedAt: row.deletedAt ? row.deletedAt.toISOString() : null,
})

/** Each speaker's spans, as instants (rule 7: offsets from the transcript's start). */
function speakerSpans(input: CreateTranscript, startedAt: Date): { participantId: string; spans: Span[]; pointer: string }[] {
  const bySpeaker = new Map<string, { participantId: string; spans: Span[]; pointer: string }>()
  input.segments.forEach((segment, i) => {
    const span = { from: new Date(startedAt.getTime() + segment.startMs), to: new Date(startedAt.getTime() + segment.endMs) }
    const entry = bySpeaker.get(segment.speakerParticipantId)
    if (entry) entry.spans.push(span)
    else bySpeaker.set(segment.speakerParticipantId, { participantId: segment.speakerParticipantId, spans: [span], pointer: `/body/segments/${i}/speakerParticipantId` })
  })
  return [...bySpeaker.values()]
}

interface Deps {
  inTransaction: InTransaction
  transcripts: TranscriptsRepository
  recordings: RecordingsRepository
  gate: GateService
  audit: AuditRepository
  support: SupportService
  clock: Clock
}

export function createTranscriptsService({ inTransaction, transcripts, recordings, gate, audit, support, clock }: Deps) {
  async function find(meeting: MeetingRow, transcriptId: string): Promise<TranscriptRow> {
    const row = await transcripts.find(meeting.accountId, meeting.id, transcriptId)
    if (!row) throw new NotFoundError('Transcript')
    return row
  }

  return {
    /**
     * Gated like a recording with its own scope (P-REC-2): every speaker must pass the
     * transcript decision over their segments' spans. With `redact` the others' segments become
     * markers; without it one failing speaker refuses the whole transcript.
     */
    async create(principal: Principal, meetingId: string, input: CreateTranscript) {
      const meeting = await gate.loadForCapture(principal, meetingId)
      const request = gateInput('transcript', { startedAt: input.startedAt, endedAt: input.endedAt }, true)
      const length = request.window.to.getTime() - request.window.from.getTime()
      const bad: ProblemItem[] = []
      input.segments.forEach((segment, i) => {
        if (segment.endMs <= segment.startMs) bad.push({ pointer: `/body/segments/${i}/endMs`, detail: 'must be after startMs' })
        else if (segment.endMs > length) bad.push({ pointer: `/body/segments/${i}/endMs`, detail: `must be within the transcript's ${length} ms` })
      })
      if (bad.length > 0) throw new ValidationError('Segments outside the transcript', bad)
      if (input.recordingId && !(await recordings.find(meeting.accountId, meeting.id, input.recordingId))) {
        throw new ValidationError('Unknown recording', [{ pointer: '/body/recordingId', detail: 'not a recording of this meeting' }])
      }
      const outcome = await inTransaction(async (tx) => {
        const result = await gate.decideForStore(tx, principal, meeting, { ...request, captured: speakerSpans(input, request.window.from) }, { dropRefused: input.redact === true })
        const now = clock.now()
        if (!result.grantId) {
          await audit.append(tx, meeting.accountId, {
            actor: auditActor(principal),
            action: 'transcript.rejected',
            targetType: 'meeting',
            targetId: meeting.id,
            details: { startedAt: input.startedAt, endedAt: input.endedAt, violations: result.violations.map(toViolationItem) },
          }, now)
          return { refused: result }
        }
        const dropped = new Set(result.dropped)
        const segments: TranscriptSegment[] = input.segments.map((s) => ({
          speakerParticipantId: s.speakerParticipantId,
          startMs: s.startMs,
          endMs: s.endMs,
          text: dropped.has(s.speakerParticipantId) ? null : s.text,
          redacted: dropped.has(s.speakerParticipantId),
        }))
        const redactedSegments = segments.filter((s) => s.redacted).length
        const row = await transcripts.insert(tx, {
          accountId: meeting.accountId,
          id: newId(now.getTime()),
          meetingId: meeting.id,
          recordingId: input.recordingId ?? null,
          status: 'stored',
          startedAt: request.window.from,
          endedAt: request.window.to,
          grantId: result.grantId,
          segments,
          redactedSegments,
          createdBy: principal.subject,
          createdAt: now,
          // A transcript is kept as long as the recording it comes from: the period is fixed now.
          expiresAt: new Date(request.window.to.getTime() + (result.settings['recording.auto_delete_days']!.value as number) * DAY_MS),
        })
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'transcript.stored',
          targetType: 'transcript',
          targetId: row.id,
          details: { meetingId: meeting.id, grantId: result.grantId, segments: segments.length, redactedSegments, redactedSpeakers: result.dropped },
        }, now)
        return { row }
      })
      if (outcome.refused) throw consentMissing(outcome.refused)
      const row = outcome.row!
      return { ...summary(row), segments: row.segments }
    },

    async list(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined }) {
      const { meeting, supportGrantId } = await gate.loadForArtefacts(principal, meetingId)
      const rows = await transcripts.page(meeting.accountId, meeting.id, decodeCursor(query.cursor), query.limit + 1)
      if (supportGrantId) await support.auditRead(principal, meeting.accountId, supportGrantId, { what: 'transcript_list', targetType: 'meeting', targetId: meeting.id, meetingId: meeting.id })
      return toPage(rows, query.limit, (row) => row.id, summary)
    },

    /** The text itself: host, admin, or the operator under a running support grant; audited (P-REC-6, P-GOV-2). */
    async get(principal: Principal, meetingId: string, transcriptId: string) {
      const { meeting, manager, supportGrantId } = await gate.loadForArtefacts(principal, meetingId)
      if (!manager && !supportGrantId) throw new ForbiddenError('Only the host or an admin reads a transcript')
      const row = await find(meeting, transcriptId)
      await inTransaction((tx) =>
        audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'transcript.read',
          targetType: 'transcript',
          targetId: row.id,
          details: { meetingId: meeting.id, ...(supportGrantId ? { grantId: supportGrantId } : {}) },
        }, clock.now()),
      )
      return { ...summary(row), segments: row.segments }
    },

    async remove(principal: Principal, meetingId: string, transcriptId: string) {
      const { meeting, manager } = await gate.loadForArtefacts(principal, meetingId)
      if (!manager) throw new ForbiddenError('Only the host or an admin deletes a transcript')
      await find(meeting, transcriptId)
      const now = clock.now()
      await inTransaction(async (tx) => {
        if (!(await transcripts.markDeleted(tx, meeting.accountId, transcriptId, now))) return
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'transcript.deleted',
          targetType: 'transcript',
          targetId: transcriptId,
          details: { meetingId: meeting.id },
        }, now)
      })
    },
  }
}

export type TranscriptsService = ReturnType<typeof createTranscriptsService>
