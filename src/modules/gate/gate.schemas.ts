import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { GATED_SCOPES, RECORDING_KINDS } from '../../../db/schema/index.js'
import { VIOLATION_RULES } from './gate.decision.js'

/** How far an ended window's end may be ahead of the server clock (client clocks drift). */
export const CLOCK_SKEW_MS = 5_000

const ParticipantIds = z.array(z.uuid()).max(10_000)

/** The window and who is in it: shared by decisions and recordings. */
export const CaptureWindowShape = {
  startedAt: instant('Start of the captured window'),
  endedAt: instant(
    `End of the captured window: after startedAt (else 400). Storing a recording or transcript also needs a window that has ended: endedAt at most ${CLOCK_SKEW_MS / 1000} s ahead of the server clock`,
  ),
  capturedParticipantIds: ParticipantIds.optional().describe('Absent: everyone present during the window is captured (rule 1). Every id must be a participant of the meeting (else 400)'),
  excludedParticipantIds: ParticipantIds.optional().describe(
    'Kept out of capture by the client; in explicit mode every present participant without a grant must be listed (rule 5). No id may also be in capturedParticipantIds (else 400)',
  ),
}

export const DecisionRequestSchema = z
  .strictObject({
    scope: z.enum(GATED_SCOPES),
    kind: z
      .enum(RECORDING_KINDS)
      .optional()
      .describe('Recordings only (with another scope: 400): the kind the store would be (cloud, local). Absent, the window is allowed only if some kind is enabled'),
    ...CaptureWindowShape,
  })
  .meta({ id: 'DecisionRequest' })

export const ViolationSchema = z
  .object({
    participantId: z.uuid().nullable().describe('null for a violation of the whole meeting (notice_missing)'),
    rule: z.enum(VIOLATION_RULES),
    at: z.iso.datetime().describe('The first instant the rule fails (a withdrawal: its own instant)'),
    detail: z.string(),
  })
  .meta({ id: 'Violation' })

export const DecisionSchema = z
  .object({
    allowed: z.boolean(),
    scope: z.enum(GATED_SCOPES),
    mode: z.enum(['notice', 'acknowledge', 'explicit']),
    capturedParticipantIds: z.array(z.uuid()).describe('Participants captured for at least an instant of the window'),
    violations: z.array(ViolationSchema),
  })
  .meta({ id: 'Decision' })

export type DecisionRequest = z.infer<typeof DecisionRequestSchema>
export type CaptureWindow = { startedAt: string; endedAt: string; capturedParticipantIds?: string[] | undefined; excludedParticipantIds?: string[] | undefined }
