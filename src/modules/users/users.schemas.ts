import { z } from 'zod'
import { USER_STATUSES } from '../../../db/schema/index.js'
import { safeText } from '../../lib/text.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'

export const USER_ROLES = ['admin', 'member', 'recorder'] as const

export const UserParamsSchema = z.strictObject({ accountId: z.uuid(), userId: z.uuid() })

const Email = z.email().max(320)
const DisplayName = safeText(200)
const PictureUrl = z.url({ protocol: /^https$/ }).max(2000)
const Roles = z.array(z.enum(USER_ROLES)).min(1).max(3)
const BirthDate = z.iso
  .date()
  .refine((value) => value <= new Date().toISOString().slice(0, 10), 'must not be in the future')
  .describe('With the account\'s minor age threshold, decides isMinor')

export const CreateUserSchema = z
  .strictObject({
    email: Email,
    displayName: DisplayName,
    roles: Roles,
    pictureUrl: PictureUrl.optional(),
    isMinor: z.boolean().optional().describe('A verified "is minor" flag (P-MIN-1)'),
    birthDate: BirthDate.optional(),
  })
  .meta({ id: 'CreateUser' })

export const UpdateUserSchema = z
  .strictObject({
    email: Email.optional(),
    displayName: DisplayName.optional(),
    roles: Roles.optional(),
    pictureUrl: PictureUrl.nullable().optional(),
    isMinor: z.boolean().optional(),
    birthDate: BirthDate.nullable().optional(),
    status: z.enum(['active', 'restricted']).optional().describe('restricted: processing that depends on the user stops (P-DSR-4)'),
    guardianConsent: z
      .strictObject({ by: safeText(200, 'Who gave the guardian consent') })
      .nullable()
      .optional()
      .describe('Record (stamped with the server time) or remove the guardian consent of a minor'),
  })
  .meta({ id: 'UpdateUser' })

export const UserSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    email: z.string(),
    displayName: z.string(),
    pictureUrl: z.string().nullable(),
    roles: z.array(z.enum(USER_ROLES)),
    birthDate: z.string().nullable(),
    isMinor: z.boolean().describe('The verified flag, or a birth date under the account\'s threshold'),
    guardianConsent: z.object({ by: z.string(), at: z.iso.datetime() }).nullable(),
    status: z.enum(USER_STATUSES),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'User' })

export const UserPageSchema = pageSchema(UserSchema).meta({ id: 'UserPage' })

export const ListUsersQuerySchema = PageQuerySchema.extend({
  status: z.enum(USER_STATUSES).optional().describe('Only users in this status'),
})

export type CreateUser = z.infer<typeof CreateUserSchema>
export type UpdateUser = z.infer<typeof UpdateUserSchema>
export type ListUsersQuery = z.infer<typeof ListUsersQuerySchema>
