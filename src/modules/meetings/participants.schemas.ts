import { z } from 'zod'
import { PARTICIPANT_ROLES } from '../../../db/schema/index.js'
import { pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'
import { Locale, MeetingNoticeSchema } from '../notices/notices.schemas.js'

const ConsentState = z.enum(['none', 'granted', 'declined', 'withdrawn', 'notified'])

export const ParticipantParamsSchema = z.strictObject({ meetingId: z.uuid(), participantId: z.uuid() })

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
    waiting: z
      .boolean()
      .describe('In the waiting room (meeting.waiting_room): not present, so never captured, until the host, a cohost or an admin admits them'),
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
    permissions: z
      .object({ camera: z.boolean(), microphone: z.boolean(), screenCapture: z.boolean() })
      .describe(
        "The participant's own device permissions (P-SET-2): what is off is never collected; with camera and microphone both off the recording gate refuses to capture them unless they are excluded",
      ),
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
    waiting: z.boolean().describe('In the waiting room, waiting to be admitted'),
    intervals: z.array(PresenceSchema),
    totalSeconds: z.number().int().nonnegative().describe('Length of participation, open stays counted to now or to the meeting end'),
  })
  .meta({ id: 'Participant' })

export const ParticipantPageSchema = pageSchema(ParticipantSchema).meta({ id: 'ParticipantPage' })

export const ChangeRoleSchema = z
  .strictObject({ role: z.enum(['cohost', 'attendee']).describe('A cohost admits from the waiting room and reads what the host reads') })
  .meta({ id: 'ChangeParticipantRole' })

export const AdmissionSchema = z
  .object({ participantId: z.uuid(), admittedAt: z.iso.datetime().describe('Server clock; presence counts from here') })
  .meta({ id: 'Admission' })

export type Join = z.infer<typeof JoinSchema>
export type ChangeRole = z.infer<typeof ChangeRoleSchema>
