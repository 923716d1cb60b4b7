import { sql } from 'drizzle-orm'
import { bigint, check, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

// A legal hold suspends deletion (P-RET-2): while it runs, the purge (and erasure) skip every row
// of its subject user or its meeting and report them as withheld under the hold's id. A hold is
// ended by releasing it; rows are never deleted, so the trail of what was held stays whole.
export const legalHolds = pgTable(
  'legal_holds',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    subjectUserId: uuid('subject_user_id'),
    meetingId: uuid('meeting_id'),
    reason: text('reason').notNull(),
    fromAt: timestamp('from_at', { withTimezone: true, precision: 3 }).notNull(),
    untilAt: timestamp('until_at', { withTimezone: true, precision: 3 }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    releasedAt: timestamp('released_at', { withTimezone: true, precision: 3 }),
    releasedBy: text('released_by'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index('legal_holds_subject_idx').on(t.accountId, t.subjectUserId),
    index('legal_holds_meeting_idx').on(t.accountId, t.meetingId),
    check('legal_holds_target_check', sql`(${t.subjectUserId} is null) <> (${t.meetingId} is null)`),
    check('legal_holds_period_check', sql`${t.untilAt} is null or ${t.fromAt} < ${t.untilAt}`),
    check('legal_holds_released_check', sql`(${t.releasedAt} is null) = (${t.releasedBy} is null)`),
  ],
)

// Where an account's audit trail now starts, once the purge removed entries past their period:
// the chain hash at the cut, signed with the receipt key (its id kept, so it verifies after a
// rotation). Verification starts from it instead of the genesis hash.
export const auditCheckpoints = pgTable('audit_checkpoints', {
  accountId: uuid('account_id')
    .primaryKey()
    .references(() => accounts.id),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
  kid: text('kid').notNull(),
  signature: text('signature').notNull(),
})
