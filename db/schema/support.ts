import { sql } from 'drizzle-orm'
import { check, index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

// Time-boxed support access (P-REC-6): only while a grant of the account runs may the operator
// (a `platform` principal) read that account's recordings and transcripts, and each read is
// audited with the grant's id. A grant is ended early by revoking it; rows are never deleted.
export const supportGrants = pgTable(
  'support_grants',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    reason: text('reason').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true, precision: 3 }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true, precision: 3 }).notNull(),
    grantedBy: text('granted_by').notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    revokedBy: text('revoked_by'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index('support_grants_active_idx').on(t.accountId, t.endsAt),
    check('support_grants_period_check', sql`${t.startsAt} < ${t.endsAt}`),
    check('support_grants_revoked_check', sql`(${t.revokedAt} is null) = (${t.revokedBy} is null)`),
  ],
)
