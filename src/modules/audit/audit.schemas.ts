import { z } from 'zod'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'

export const AuditEntrySchema = z
  .object({
    id: z.uuid(),
    seq: z.number().int().positive(),
    at: z.iso.datetime(),
    actor: z.object({ type: z.enum(['user', 'platform', 'system']), id: z.string() }),
    action: z.string().describe('What happened, e.g. user.created, settings.changed'),
    target: z.object({ type: z.string(), id: z.string() }),
    details: z.record(z.string(), z.unknown()).describe('Changed field names and states; never personal values'),
    prevHash: z.string().length(64),
    hash: z.string().length(64),
  })
  .meta({ id: 'AuditEntry' })

export const AuditPageSchema = pageSchema(AuditEntrySchema).meta({ id: 'AuditEntryPage' })

export const AuditQuerySchema = PageQuerySchema

export const AuditVerificationSchema = z
  .object({
    valid: z.boolean(),
    entriesChecked: z.number().int().nonnegative(),
    firstInvalidSeq: z.number().int().nullable().describe('The first entry whose hash or link does not match'),
    headSeq: z.number().int().nonnegative(),
    checkpointSeq: z
      .number()
      .int()
      .nullable()
      .describe('Where the trail starts when the purge removed entries past their period: the last removed entry, whose hash a signed checkpoint keeps; null when nothing was purged'),
  })
  .meta({ id: 'AuditVerification' })

export { AccountParamsSchema }
