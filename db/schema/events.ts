import { sql } from 'drizzle-orm'
import { bigint, boolean, check, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

// The transactional outbox. Triggers on the tables that change (migration 0016) write an event
// in the same transaction as the change; ids made in the application are not in commit order,
// so the relay stamps `cursor` after commit, one stamper at a time: a consumer that resumes
// after a cursor never skips an event committed late.
export const events = pgTable(
  'events',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    type: text('type').notNull(),
    meetingId: uuid('meeting_id'),
    /** The participant the event is about; attendees' streams show only their own. */
    participantId: uuid('participant_id'),
    /** Ids, kinds and instants: never personal content. */
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    cursor: bigint('cursor', { mode: 'number' }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    uniqueIndex('events_cursor_unique').on(t.cursor),
    index('events_unstamped_idx').on(t.occurredAt).where(sql`${t.cursor} is null`),
    index('events_meeting_idx').on(t.accountId, t.meetingId, t.cursor),
  ],
)

// An account's webhook endpoints (Standard Webhooks). The secret is stored encrypted; after a
// rotation the previous one signs too until `previousUntil`.
export const webhooks = pgTable(
  'webhooks',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    url: text('url').notNull(),
    /** Event types it receives; empty: all. */
    eventTypes: text('event_types').array().notNull(),
    enabled: boolean('enabled').notNull(),
    disabledReason: text('disabled_reason'),
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousUntil: timestamp('previous_until', { withTimezone: true, precision: 3 }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
)

// One event to one endpoint, delivered at least once by a job on the job runner.
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    webhookId: uuid('webhook_id').notNull(),
    eventId: uuid('event_id').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastLatencyMs: integer('last_latency_ms'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    uniqueIndex('webhook_deliveries_once_unique').on(t.accountId, t.webhookId, t.eventId),
    index('webhook_deliveries_webhook_idx').on(t.accountId, t.webhookId, t.createdAt),
    foreignKey({ name: 'webhook_deliveries_webhook_fk', columns: [t.accountId, t.webhookId], foreignColumns: [webhooks.accountId, webhooks.id] }),
    check('webhook_deliveries_status_check', sql`${t.status} in ('pending','delivered','failed')`),
  ],
)
