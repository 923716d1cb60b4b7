import { z } from 'zod'
import { RECORDING_KINDS, RECORDING_STATUSES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { CaptureWindowShape } from '../gate/gate.schemas.js'

export const RecordingParamsSchema = z.strictObject({ meetingId: z.uuid(), recordingId: z.uuid() })

export const CreateRecordingSchema = z
  .strictObject({ kind: z.enum(RECORDING_KINDS).describe('cloud: bytes follow with PUT …/content; local: metadata only'), ...CaptureWindowShape })
  .meta({
    id: 'CreateRecording',
    examples: [{ kind: 'cloud', startedAt: '2026-12-01T09:00:00Z', endedAt: '2026-12-01T09:45:00Z', excludedParticipantIds: ['7c2e9f41-1d3b-4a6e-b8f0-2a5c9d7e1b63'] }],
  })

export const RecordingSchema = z
  .object({
    id: z.uuid(),
    meetingId: z.uuid(),
    kind: z.enum(RECORDING_KINDS),
    status: z.enum(RECORDING_STATUSES),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime(),
    capturedParticipantIds: z.array(z.uuid()),
    excludedParticipantIds: z.array(z.uuid()),
    grantId: z.uuid().describe("The gate's decision record that allowed it"),
    sizeBytes: z.number().int().nullable(),
    sha256: z.string().nullable(),
    region: z.string(),
    expiresAt: z.iso.datetime().nullable().describe('Cloud recordings: deleted after recording.auto_delete_days'),
    createdAt: z.iso.datetime(),
    storedAt: z.iso.datetime().nullable(),
    deletedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Recording' })

export const RecordingPageSchema = pageSchema(RecordingSchema).meta({ id: 'RecordingPage' })
export const ListRecordingsQuerySchema = PageQuerySchema

export type CreateRecording = z.infer<typeof CreateRecordingSchema>
