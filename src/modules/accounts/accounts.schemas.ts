import { z } from 'zod'
import { safeText } from '../../lib/text.js'
import { ACCOUNT_STATUSES, DATA_REGIONS, MINOR_AGE_THRESHOLDS } from '../../../db/schema/index.js'

export const AccountParamsSchema = z.strictObject({ accountId: z.uuid() })

const MinorAgeThreshold = z
  .union(MINOR_AGE_THRESHOLDS.map((age) => z.literal(age)) as [z.ZodLiteral<13>, z.ZodLiteral<14>, z.ZodLiteral<16>, z.ZodLiteral<18>])
  .describe('Age under which a user is a minor (P-MIN-1)')
const RequestDeadlineDays = z.number().int().min(1).max(90).describe('Days to answer a data-subject request')

export const CreateAccountSchema = z
  .strictObject({
    name: safeText(200),
    dataRegion: z.enum(DATA_REGIONS).describe('Where the account\'s data is stored and processed (P-RES-1)'),
    minorAgeThreshold: MinorAgeThreshold.optional(),
    requestDeadlineDays: RequestDeadlineDays.optional(),
    requestDeadlineBusinessDays: z.boolean().optional(),
  })
  .meta({ id: 'CreateAccount' })

export const UpdateAccountSchema = z
  .strictObject({
    name: safeText(200).optional(),
    dataRegion: z
      .enum(DATA_REGIONS)
      .optional()
      .describe('Accepted only when unchanged: no request moves an account to another region (P-RES-1)'),
    minorAgeThreshold: MinorAgeThreshold.optional(),
    requestDeadlineDays: RequestDeadlineDays.optional(),
    requestDeadlineBusinessDays: z.boolean().optional(),
  })
  .meta({ id: 'UpdateAccount' })

export const AccountSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    dataRegion: z.enum(DATA_REGIONS),
    minorAgeThreshold: z.number().int(),
    requestDeadlineDays: z.number().int(),
    requestDeadlineBusinessDays: z.boolean(),
    status: z.enum(ACCOUNT_STATUSES),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Account' })

export type CreateAccount = z.infer<typeof CreateAccountSchema>
export type UpdateAccount = z.infer<typeof UpdateAccountSchema>
