import { z } from 'zod'
import { MEETING_STATUSES, PARTICIPANT_ROLES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'
import { Locale, MeetingNoticeSchema } from '../notices/notices.schemas.js'

const ConsentState = z.enum(['none', 'granted', 'declined', 'withdrawn', 'notified'])

export const MeetingParamsSchema = z.strictObject({ meetingId: z.uuid() })
export const ParticipantParamsSchema = z.strictObject({ meetingId: z.uuid(), participantId: z.uuid() })

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

export const MeetingPageSchema = pageSchema(MeetingSchema).meta({ id: 'MeetingPage' })

export const ListMeetingsQuerySchema = PageQuerySchema.extend({
  from: z.iso.datetime({ offset: true }).optional().describe('Only meetings scheduled to start at or after this instant'),
  to: z.iso.datetime({ offset: true }).optional().describe('Only meetings scheduled to start before this instant'),
})

export const JoinSchema = z
  .strictObject({
    guest: z
      .strictObject({ displayName: safeText(200), isMinor: z.boolean().optional() })
      .optional()
      .describe('Join a guest (no user row) on whose behalf the calling client acts'),
    role: z.enum(['cohost', 'attendee']).optional().describe('cohost only when the host or an admin makes the join'),
    passcode: z.string().max(64).optional(),
    locale: Locale.optional().describe('The language notices are shown in'),
  })
  .meta({ id: 'JoinMeeting' })

export const JoinAnswerSchema = z
  .object({
    participantId: z.uuid(),
    role: z.enum(PARTICIPANT_ROLES),
    settings: z
      .object({
        joinVideoOff: z.boolean(),
        joinMuted: z.boolean(),
        waitingRoom: z.boolean(),
        screenShare: z.enum(['host_only', 'all']),
        recordingCloud: z.boolean(),
        recordingLocal: z.boolean(),
        recordingConsentMode: z.enum(['explicit', 'acknowledge', 'notice']),
        transcript: z.boolean(),
        attentionTracking: z.boolean().describe('On: the client shows an indicator while tracking runs (P-ATT-4)'),
        recordingDenialAction: z
          .enum(['remove', 'read_only', 'stop_capture'])
          .describe('What the client does when this participant declines (rule 10, recording.denial_action)'),
      })
      .describe('What the client applies on entry, from the effective meeting settings'),
    notices: z.array(MeetingNoticeSchema).describe('Notices this participant must be shown now: those not answered in their current version'),
    consent: z
      .object({ recording: ConsentState, transcript: ConsentState, attentionTracking: ConsentState })
      .describe("The participant's current consent decision per scope"),
  })
  .meta({ id: 'JoinAnswer' })

export const PresenceSchema = z.object({ joinedAt: z.iso.datetime(), leftAt: z.iso.datetime().nullable() })

export const ParticipantSchema = z
  .object({
    id: z.uuid(),
    meetingId: z.uuid(),
    userId: z.uuid().nullable(),
    displayName: z.string(),
    guest: z.boolean(),
    role: z.enum(PARTICIPANT_ROLES),
    isMinor: z.boolean(),
    present: z.boolean(),
    intervals: z.array(PresenceSchema),
    totalSeconds: z.number().int().nonnegative().describe('Length of participation, open stays counted to now or to the meeting end'),
  })
  .meta({ id: 'Participant' })

export const ParticipantPageSchema = pageSchema(ParticipantSchema).meta({ id: 'ParticipantPage' })

export type CreateMeeting = z.infer<typeof CreateMeetingSchema>
export type UpdateMeeting = z.infer<typeof UpdateMeetingSchema>
export type ListMeetingsQuery = z.infer<typeof ListMeetingsQuerySchema>
export type Join = z.infer<typeof JoinSchema>
