import { z } from 'zod'
import { safeText } from '../../lib/text.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'

export const GroupParamsSchema = z.strictObject({ accountId: z.uuid(), groupId: z.uuid() })
export const MemberParamsSchema = z.strictObject({ accountId: z.uuid(), groupId: z.uuid(), userId: z.uuid() })

export const CreateGroupSchema = z
  .strictObject({
    name: safeText(200),
    rank: z
      .number()
      .int()
      .min(-1000)
      .max(1000)
      .optional()
      .describe('A user in several groups takes each setting from the group with the highest rank (default 0)'),
  })
  .meta({ id: 'CreateGroup' })

export const GroupSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    name: z.string(),
    rank: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Group' })

export const GroupPageSchema = pageSchema(GroupSchema).meta({ id: 'GroupPage' })

export const GroupMemberSchema = z.object({ userId: z.uuid(), addedAt: z.iso.datetime() }).meta({ id: 'GroupMember' })
export const GroupMemberPageSchema = pageSchema(GroupMemberSchema).meta({ id: 'GroupMemberPage' })

export { PageQuerySchema }
export type CreateGroup = z.infer<typeof CreateGroupSchema>
