import { sql } from 'drizzle-orm'
import { check, doublePrecision, foreignKey, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'
import { meetings, participants } from './meetings.js'
import { users } from './users.js'

// A screen share of the host or a cohost, as an interval on the server clock. At most one runs
// per meeting at a time.
export const screenShares = pgTable(
  'screen_shares',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    participantId: uuid('participant_id').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
    stoppedAt: timestamp('stopped_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'screen_shares_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    foreignKey({ name: 'screen_shares_participant_fk', columns: [t.accountId, t.participantId], foreignColumns: [participants.accountId, participants.id] }),
    uniqueIndex('screen_shares_one_running_unique').on(t.accountId, t.meetingId).where(sql`${t.stoppedAt} is null`),
    index('screen_shares_meeting_idx').on(t.accountId, t.meetingId, t.startedAt),
    check('screen_shares_order_check', sql`${t.stoppedAt} is null or ${t.stoppedAt} >= ${t.startedAt}`),
  ],
)

// An out-of-focus span. It opens on focus_lost and, on focus_regained or when the share stops,
// is either kept (at least the threshold long) or deleted: an open span is never shown, and a
// short one is never kept (P-ATT-3).
export const attentionSpans = pgTable(
  'attention_spans',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    participantId: uuid('participant_id').notNull(),
    lostAt: timestamp('lost_at', { withTimezone: true, precision: 3 }).notNull(),
    regainedAt: timestamp('regained_at', { withTimezone: true, precision: 3 }),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'attention_spans_participant_fk', columns: [t.accountId, t.participantId], foreignColumns: [participants.accountId, participants.id] }),
    foreignKey({ name: 'attention_spans_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    uniqueIndex('attention_spans_one_open_unique').on(t.accountId, t.participantId).where(sql`${t.regainedAt} is null`),
    index('attention_spans_meeting_idx').on(t.accountId, t.meetingId, t.participantId),
    index('attention_spans_expiry_idx').on(t.expiresAt),
    check('attention_spans_order_check', sql`${t.regainedAt} is null or ${t.regainedAt} > ${t.lostAt}`),
    check('attention_spans_kept_check', sql`(${t.regainedAt} is null) = (${t.expiresAt} is null)`),
  ],
)

export const NETWORK_TYPES = ['wifi', 'ethernet', 'cellular', 'other', 'unknown'] as const

// Quality figures only (P-MED-3): no content, no full address.
export const mediaDiagnostics = pgTable(
  'media_diagnostics',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    userId: uuid('user_id').notNull(),
    meetingId: uuid('meeting_id'),
    periodStart: timestamp('period_start', { withTimezone: true, precision: 3 }).notNull(),
    periodEnd: timestamp('period_end', { withTimezone: true, precision: 3 }).notNull(),
    bitrateKbps: integer('bitrate_kbps').notNull(),
    packetLossPct: doublePrecision('packet_loss_pct').notNull(),
    jitterMs: integer('jitter_ms').notNull(),
    roundTripMs: integer('round_trip_ms').notNull(),
    codec: text('codec').notNull(),
    networkType: text('network_type', { enum: NETWORK_TYPES }).notNull(),
    /** The client's network (/24 or /48), never its address. */
    clientNetwork: text('client_network'),
    receivedAt: timestamp('received_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'media_diagnostics_user_fk', columns: [t.accountId, t.userId], foreignColumns: [users.accountId, users.id] }),
    foreignKey({ name: 'media_diagnostics_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    index('media_diagnostics_user_idx').on(t.accountId, t.userId, t.receivedAt),
    index('media_diagnostics_expiry_idx').on(t.expiresAt),
    check('media_diagnostics_period_check', sql`${t.periodStart} < ${t.periodEnd}`),
    check('media_diagnostics_network_check', sql`${t.networkType} in ('wifi','ethernet','cellular','other','unknown')`),
  ],
)
