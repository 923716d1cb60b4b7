import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

export const SUPPORT_GRANT_MAX_DAYS = 30

export const SupportGrantParamsSchema = z.strictObject({ accountId: z.uuid(), grantId: z.uuid() })

export const CreateSupportGrantSchema = z
  .strictObject({
    reason: safeText(1000, 'Why the operator needs access (a ticket, a dispute): kept with the grant and in the audit trail'),
    until: instant(`When access ends: in the future, at most ${SUPPORT_GRANT_MAX_DAYS} days ahead`),
  })
  .meta({ id: 'CreateSupportGrant' })

export const SupportGrantSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    reason: z.string(),
    startsAt: z.iso.datetime(),
    endsAt: z.iso.datetime(),
    grantedBy: z.string(),
    revokedAt: z.iso.datetime().nullable(),
    revokedBy: z.string().nullable(),
    active: z.boolean().describe('Running now: not revoked, started and not yet ended'),
  })
  .meta({ id: 'SupportGrant' })

export const SupportGrantPageSchema = pageSchema(SupportGrantSchema).meta({ id: 'SupportGrantPage' })
export const ListSupportGrantsQuerySchema = PageQuerySchema

export type CreateSupportGrant = z.infer<typeof CreateSupportGrantSchema>
