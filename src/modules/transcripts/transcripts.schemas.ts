import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'
import { CLOCK_SKEW_MS } from '../gate/gate.schemas.js'

export const TranscriptParamsSchema = z.strictObject({ meetingId: z.uuid(), transcriptId: z.uuid() })

const DAY_MS = 86_400_000

export const SegmentSchema = z.strictObject({
  speakerParticipantId: z.uuid(),
  startMs: z.number().int().min(0).max(DAY_MS).describe("Offset from the transcript's startedAt"),
  endMs: z.number().int().min(1).max(DAY_MS).describe("After startMs, and within the transcript's window (endedAt - startedAt)"),
  text: safeText(20_000),
})

export const CreateTranscriptSchema = z
  .strictObject({
    startedAt: instant('Start of the transcribed window'),
    endedAt: instant(`End of the transcribed window: after startedAt, and at most ${CLOCK_SKEW_MS / 1000} s ahead of the server clock`),
    recordingId: z.uuid().optional(),
    redact: z.boolean().optional().describe('true: segments of speakers without transcript consent are stored as redaction markers; otherwise they refuse the transcript'),
    segments: z.array(SegmentSchema).min(1).max(20_000),
  })
  .meta({ id: 'CreateTranscript' })

const StoredSegmentSchema = z.object({
  speakerParticipantId: z.uuid(),
  startMs: z.number().int(),
  endMs: z.number().int(),
  text: z.string().nullable().describe('null: redacted'),
  redacted: z.boolean(),
})

const transcriptFields = {
  id: z.uuid(),
  meetingId: z.uuid(),
  recordingId: z.uuid().nullable(),
  status: z.enum(['stored', 'deleted']),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  grantId: z.uuid(),
  segmentCount: z.number().int(),
  redactedSegments: z.number().int(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().describe('When the purge deletes it: its end plus recording.auto_delete_days as they were when it was stored'),
  deletedAt: z.iso.datetime().nullable(),
}

export const TranscriptSummarySchema = z.object(transcriptFields).meta({ id: 'TranscriptSummary' })
export const TranscriptSchema = z.object({ ...transcriptFields, segments: z.array(StoredSegmentSchema) }).meta({ id: 'Transcript' })
export const TranscriptPageSchema = pageSchema(TranscriptSummarySchema).meta({ id: 'TranscriptPage' })
export const ListTranscriptsQuerySchema = PageQuerySchema

export type CreateTranscript = z.infer<typeof CreateTranscriptSchema>
