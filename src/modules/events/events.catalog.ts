// Every event the outbox carries (migration 0016 writes them by trigger, in the transaction of
// the change). Payloads carry ids, kinds and instants, never personal content: a consumer reads
// what it may through the API.
export const EVENT_TYPES = [
  'consent.granted',
  'consent.declined',
  'consent.withdrawn',
  'consent.notified',
  'notice.version_published',
  'participant.waiting',
  'participant.joined',
  'participant.left',
  'participant.role_changed',
  'meeting.started',
  'meeting.ended',
  'meeting.cancelled',
  'recording.stored',
  'recording.rejected',
  'recording.deleted',
  'transcript.stored',
  'transcript.rejected',
  'transcript.deleted',
  'settings.changed',
  'privacy_request.received',
  'privacy_request.verified',
  'privacy_request.in_progress',
  'privacy_request.completed',
  'privacy_request.rejected',
  'legal_hold.created',
  'legal_hold.released',
  'webhook.disabled',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Events that end a meeting's stream. */
export const CLOSING_EVENTS: ReadonlySet<string> = new Set(['meeting.ended', 'meeting.cancelled'])

export const EVENTS_CHANNEL = 'consentry_events'
export const DELIVERY_JOB = 'webhook.deliver'
