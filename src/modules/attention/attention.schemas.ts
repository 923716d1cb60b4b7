import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'

export const ScreenShareSchema = z.strictObject({ active: z.boolean() }).meta({ id: 'ScreenShareChange' })

export const ScreenShareStateSchema = z
  .object({
    active: z.boolean(),
    since: z.iso.datetime().nullable().describe('Start of the running share'),
    participantId: z.uuid().nullable().describe('Who is sharing'),
  })
  .meta({ id: 'ScreenShareState' })

/** How far an event's instant may be from the server clock. */
export const EVENT_SKEW_MS = 10_000

export const AttentionEventSchema = z
  .strictObject({
    participantId: z.uuid(),
    type: z.enum(['focus_lost', 'focus_regained']).describe('The meeting window lost or regained focus; nothing else about the screen is ever sent (P-ATT-3)'),
    at: instant(`The client's instant; within ${EVENT_SKEW_MS / 1000} s of the server clock`),
  })
  .meta({ id: 'AttentionEvent' })

export const AttentionSpanSchema = z
  .object({
    id: z.uuid(),
    participantId: z.uuid(),
    lostAt: z.iso.datetime(),
    regainedAt: z.iso.datetime(),
    seconds: z.number().describe('At least attention_tracking.threshold_seconds: shorter spans are never kept'),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'AttentionSpan' })

export const AttentionEventAnswerSchema = z
  .object({
    type: z.enum(['focus_lost', 'focus_regained']),
    at: z.iso.datetime(),
    kept: z.boolean().nullable().describe('focus_regained: whether the span was long enough to keep; focus_lost: null'),
    span: AttentionSpanSchema.nullable(),
  })
  .meta({ id: 'AttentionEventAnswer' })

export const AttentionSpanPageSchema = pageSchema(AttentionSpanSchema).meta({ id: 'AttentionSpanPage' })
export const ListAttentionQuerySchema = PageQuerySchema.extend({ participantId: z.uuid().optional() })

export type AttentionEvent = z.infer<typeof AttentionEventSchema>
