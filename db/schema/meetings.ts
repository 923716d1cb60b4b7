import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'
import { users } from './users.js'

export const MEETING_STATUSES = ['scheduled', 'live', 'ended', 'cancelled'] as const
export const PARTICIPANT_ROLES = ['host', 'cohost', 'attendee'] as const

export const meetings = pgTable(
  'meetings',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    hostUserId: uuid('host_user_id').notNull(),
    topic: text('topic').notNull(),
    scheduledStart: timestamp('scheduled_start', { withTimezone: true }).notNull(),
    durationMinutes: integer('duration_minutes').notNull(),
    timeZone: text('time_zone').notNull(),
    joinUrl: text('join_url').notNull(),
    /** scrypt$<salt>$<hash>; never the passcode itself. */
    passcodeHash: text('passcode_hash'),
    status: text('status', { enum: MEETING_STATUSES }).notNull().default('scheduled'),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'meetings_host_fk', columns: [t.accountId, t.hostUserId], foreignColumns: [users.accountId, users.id] }),
    index('meetings_host_idx').on(t.accountId, t.hostUserId),
    index('meetings_scheduled_idx').on(t.accountId, t.scheduledStart),
    check('meetings_status_check', sql`${t.status} in ('scheduled','live','ended','cancelled')`),
    check('meetings_duration_check', sql`${t.durationMinutes} between 1 and 1440`),
    check('meetings_live_started_check', sql`${t.status} = 'scheduled' or ${t.status} = 'cancelled' or ${t.startedAt} is not null`),
    check('meetings_ended_check', sql`${t.status} <> 'ended' or ${t.endedAt} is not null`),
  ],
)

// A person in a meeting: a user of the account (one row per user and meeting, however often they
// rejoin) or a guest with a display name (no user row). Each stay is a presence interval.
export const participants = pgTable(
  'participants',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    userId: uuid('user_id'),
    guestDisplayName: text('guest_display_name'),
    role: text('role', { enum: PARTICIPANT_ROLES }).notNull(),
    isMinor: boolean('is_minor').notNull().default(false),
    /** The principal that made the join (the client acting for a guest), who may also leave for them. */
    joinedBy: text('joined_by').notNull(),
    /**
     * Set while the participant is in the waiting room (meeting.waiting_room): no presence
     * interval is open, so nothing captures them, until the host, a cohost or an admin admits them.
     */
    waitingSince: timestamp('waiting_since', { withTimezone: true, precision: 3 }),
    /** A guest join's `<subject>:<Idempotency-Key>`: a retry finds the guest its first run made. */
    requestKey: text('request_key'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'participants_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    foreignKey({ name: 'participants_user_fk', columns: [t.accountId, t.userId], foreignColumns: [users.accountId, users.id] }),
    uniqueIndex('participants_meeting_user_unique').on(t.accountId, t.meetingId, t.userId).where(sql`${t.userId} is not null`),
    uniqueIndex('participants_request_key_unique').on(t.accountId, t.requestKey).where(sql`${t.requestKey} is not null`),
    index('participants_meeting_idx').on(t.accountId, t.meetingId),
    index('participants_user_idx').on(t.accountId, t.userId),
    check('participants_role_check', sql`${t.role} in ('host','cohost','attendee')`),
    check('participants_user_or_guest_check', sql`(${t.userId} is null) <> (${t.guestDisplayName} is null)`),
  ],
)

export const presenceIntervals = pgTable(
  'presence_intervals',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    participantId: uuid('participant_id').notNull(),
    joinedAt: timestamp('joined_at', { withTimezone: true, precision: 3 }).notNull(),
    leftAt: timestamp('left_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({
      name: 'presence_participant_fk',
      columns: [t.accountId, t.participantId],
      foreignColumns: [participants.accountId, participants.id],
    }),
    foreignKey({ name: 'presence_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    // At most one open stay per participant: a second join without a leave cannot slip in.
    uniqueIndex('presence_one_open_unique').on(t.accountId, t.participantId).where(sql`${t.leftAt} is null`),
    index('presence_meeting_idx').on(t.accountId, t.meetingId, t.joinedAt),
    check('presence_order_check', sql`${t.leftAt} is null or ${t.leftAt} >= ${t.joinedAt}`),
  ],
)
