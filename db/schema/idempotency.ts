import { index, pgTable, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core'

// Answers to POSTs that carried an Idempotency-Key, so a retry gets the first answer and writes
// nothing new. Keyed by the caller: two principals may use the same key. status is null while
// the first request is still running. No foreign key to accounts: a platform principal's
// account id is its own, not a tenant's.
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    accountId: uuid('account_id').notNull(),
    subject: text('subject').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: smallint('status'),
    contentType: text('content_type'),
    responseBody: text('response_body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.subject, t.key] }),
    index('idempotency_keys_created_idx').on(t.createdAt),
  ],
)
