import { z } from 'zod'
import { MEETING_STATUSES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

export const MeetingParamsSchema = z.strictObject({ meetingId: z.uuid() })

const TimeZone = z
  .string()
  .max(64)
  .refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone })
      return true
    } catch {
      return false
    }
  }, 'not an IANA time zone')
const Passcode = z.string().min(4).max(64).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')

export const CreateMeetingSchema = z
  .strictObject({
    topic: safeText(300),
    scheduledStart: z.iso.datetime({ offset: true }),
    durationMinutes: z.number().int().min(1).max(1440),
    timeZone: TimeZone,
    passcode: Passcode.optional().describe('Stored only as a salted hash'),
  })
  .meta({ id: 'CreateMeeting' })

export const UpdateMeetingSchema = z
  .strictObject({
    topic: safeText(300).optional(),
    scheduledStart: z.iso.datetime({ offset: true }).optional(),
    durationMinutes: z.number().int().min(1).max(1440).optional(),
    timeZone: TimeZone.optional(),
    passcode: Passcode.nullable().optional().describe('null removes the passcode'),
  })
  .meta({ id: 'UpdateMeeting' })

export const MeetingSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    hostUserId: z.uuid(),
    topic: z.string(),
    scheduledStart: z.iso.datetime(),
    durationMinutes: z.number().int(),
    timeZone: z.string(),
    joinUrl: z.string(),
    hasPasscode: z.boolean(),
    status: z.enum(MEETING_STATUSES),
    startedAt: z.iso.datetime().nullable(),
    endedAt: z.iso.datetime().nullable(),
    cancelledAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Meeting' })

export const CreatedMeetingSchema = MeetingSchema.extend({
  passcode: z
    .string()
    .optional()
    .describe('The passcode the server generated because meeting.passcode_required is on and none was given; shown only in this answer'),
}).meta({ id: 'CreatedMeeting' })

export const MeetingPageSchema = pageSchema(MeetingSchema).meta({ id: 'MeetingPage' })

export const ListMeetingsQuerySchema = PageQuerySchema.extend({
  from: z.iso.datetime({ offset: true }).optional().describe('Only meetings scheduled to start at or after this instant'),
  to: z.iso.datetime({ offset: true }).optional().describe('Only meetings scheduled to start before this instant'),
})

export type CreateMeeting = z.infer<typeof CreateMeetingSchema>
export type UpdateMeeting = z.infer<typeof UpdateMeetingSchema>
export type ListMeetingsQuery = z.infer<typeof ListMeetingsQuerySchema>
