import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

// The tamper-evident trail: each entry's hash covers its content and the previous entry's
// hash, so editing or deleting any entry breaks the chain from that point on.
export const auditEntries = pgTable(
  'audit_entries',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    id: uuid('id').notNull(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    actorType: text('actor_type', { enum: ['user', 'platform', 'system'] }).notNull(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.seq] }), index('audit_entries_target_idx').on(t.accountId, t.targetId)],
)

// One row per account: the end of its chain. Appending locks this row, which orders the
// account's entries without locking the account row itself.
export const auditHeads = pgTable('audit_heads', {
  accountId: uuid('account_id')
    .primaryKey()
    .references(() => accounts.id),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
})

// Events written in the transaction of the change they describe, waiting to be chained. The
// chainer moves them into audit_entries in batches under the head's lock, so a busy account's
// writers do not queue behind one lock held across each commit. An event is never lost: it
// commits with its change, and a sweep chains what a stopped process left behind.
export const auditPending = pgTable(
  'audit_pending',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    id: uuid('id').notNull(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    actorType: text('actor_type', { enum: ['user', 'platform', 'system'] }).notNull(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.seq] })],
)
