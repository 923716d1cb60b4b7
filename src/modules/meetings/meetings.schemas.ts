import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { MEETING_STATUSES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

export const MeetingParamsSchema = z.strictObject({ meetingId: z.uuid() })

/**
 * The characters of every tz database name (Europe/Berlin, Etc/GMT+5, America/Port-au-Prince):
 * checked first, so the document's pattern is part of the rule and not a guess at it.
 */
export const TIME_ZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/

const TimeZone = z
  .string()
  .max(64)
  .refine((zone) => {
    if (!TIME_ZONE_PATTERN.test(zone)) return false
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone })
      return true
    } catch {
      return false
    }
  }, 'not an IANA time zone')
  .meta({
    pattern: TIME_ZONE_PATTERN.source,
    description:
      'An IANA time zone name that the server\'s time zone data (ICU, through Intl.DateTimeFormat) knows, such as Europe/Berlin, ' +
      'America/New_York or UTC. Names are matched without regard to case and links such as US/Eastern are accepted; ' +
      'UTC offsets such as +01:00 and unknown names are refused with 400',
    examples: ['Europe/Berlin'],
  })
const Passcode = z.string().min(4).max(64).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')

export const CreateMeetingSchema = z
  .strictObject({
    topic: safeText(300),
    scheduledStart: instant(),
    durationMinutes: z.number().int().min(1).max(1440),
    timeZone: TimeZone,
    passcode: Passcode.optional().describe('Stored only as a salted hash'),
  })
  .meta({
    id: 'CreateMeeting',
    examples: [{ topic: 'Weekly planning', scheduledStart: '2026-12-01T09:00:00+01:00', durationMinutes: 45, timeZone: 'Europe/Berlin', passcode: 'k7Qx-29' }],
  })

export const UpdateMeetingSchema = z
  .strictObject({
    topic: safeText(300).optional(),
    scheduledStart: instant().optional(),
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
  from: instant('Only meetings scheduled to start at or after this instant').optional(),
  to: instant('Only meetings scheduled to start before this instant').optional(),
})

export type CreateMeeting = z.infer<typeof CreateMeetingSchema>
export type UpdateMeeting = z.infer<typeof UpdateMeetingSchema>
export type ListMeetingsQuery = z.infer<typeof ListMeetingsQuerySchema>
