import { newId } from '../../src/lib/ids.js'
import type { MeetingConsentInput } from '../../src/modules/consents/consents.repository.js'
import type { GuestJoin, UserJoin } from '../../src/modules/meetings/meetings.repository.js'

// The inputs of the group-committed writes, for tests that call the repositories directly: fresh
// ids, the common case, and what a test changes in `extra`.

/** A guest joined at once by the member `joinedBy`'s client. */
export const guestJoin = (accountId: string, meetingId: string, joinedBy: string, displayName: string, extra: Partial<GuestJoin> = {}): GuestJoin => ({
  accountId,
  meetingId,
  participantId: newId(),
  stayId: newId(),
  auditId: newId(),
  actor: { type: 'user', id: joinedBy },
  displayName,
  role: 'attendee',
  isMinor: false,
  joinedBy,
  waiting: false,
  requestKey: null,
  at: new Date(),
  ...extra,
})

/** A user joining as an attendee, not held by a waiting room. */
export const userJoin = (accountId: string, meetingId: string, userId: string, extra: Partial<UserJoin> = {}): UserJoin => ({
  accountId,
  meetingId,
  userId,
  participantId: newId(),
  stayId: newId(),
  auditId: newId(),
  actor: { type: 'user', id: userId },
  role: 'attendee',
  isMinor: false,
  waits: false,
  at: new Date(),
  ...extra,
})

/** A guest's recording grant by click, recorded by `recordedBy`'s client and stamped by the database. */
export const meetingConsent = (accountId: string, meetingId: string, recordedBy: string, participantId: string, extra: Partial<MeetingConsentInput> = {}): MeetingConsentInput => ({
  accountId,
  id: newId(),
  auditId: newId(),
  actor: { type: 'user', id: recordedBy },
  userId: null,
  meetingId,
  participantId,
  scope: 'recording',
  decision: 'granted',
  method: 'click_continue',
  noticeVersionId: null,
  guardianName: null,
  recordedBy,
  at: null,
  userAgent: null,
  clientNetwork: null,
  requestKey: null,
  receiptKid: 'k1',
  ...extra,
})
