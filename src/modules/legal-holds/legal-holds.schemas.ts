import { z } from 'zod'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { instant } from '../../lib/instant.js'
import { safeText } from '../../lib/text.js'

export const LegalHoldParamsSchema = z.strictObject({ accountId: z.uuid(), holdId: z.uuid() })

export const CreateLegalHoldSchema = z
  .strictObject({
    subjectUserId: z.uuid().optional().describe('Hold everything of this user: recordings and transcripts of meetings they took part in, their attention spans, diagnostics and consent records. Exactly one of subjectUserId and meetingId'),
    meetingId: z.uuid().optional().describe("Hold everything of this meeting: its recordings, transcripts, attention spans, diagnostics and consent records"),
    reason: safeText(1000).describe('Why deletion is suspended (a dispute, a regulator\'s request): kept with the hold and in the audit trail'),
    from: instant('When the hold starts; now when omitted').optional(),
    until: instant('When the hold ends by itself; open-ended when omitted (release it with DELETE). After from').optional(),
  })
  .meta({ id: 'CreateLegalHold' })

export const LegalHoldSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    subjectUserId: z.uuid().nullable(),
    meetingId: z.uuid().nullable(),
    reason: z.string(),
    from: z.iso.datetime(),
    until: z.iso.datetime().nullable(),
    createdBy: z.string(),
    createdAt: z.iso.datetime(),
    releasedAt: z.iso.datetime().nullable(),
    releasedBy: z.string().nullable(),
    active: z.boolean().describe('Holding now: not released, started and not yet ended'),
  })
  .meta({ id: 'LegalHold' })

export const LegalHoldPageSchema = pageSchema(LegalHoldSchema).meta({ id: 'LegalHoldPage' })
export const ListLegalHoldsQuerySchema = PageQuerySchema

export type CreateLegalHold = z.infer<typeof CreateLegalHoldSchema>
