import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  date,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'
export const USER_STATUSES = ['active', 'restricted', 'cancelled'] as const
export const users = pgTable(
  'users',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    /** Stored lower-cased, unique per account. */
    email: text('email').notNull(),
    displayName: text('display_name').notNull(),
    pictureUrl: text('picture_url'),
    roles: text('roles').array().notNull(),
    birthDate: date('birth_date', { mode: 'string' }),
    /** A verified "is minor" flag; with a birth date the account's threshold also decides. */
    isMinor: boolean('is_minor').notNull().default(false),
    guardianConsentBy: text('guardian_consent_by'),
    guardianConsentAt: timestamp('guardian_consent_at', { withTimezone: true }),
    status: text('status', { enum: USER_STATUSES }).notNull().default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    unique('users_account_email_unique').on(t.accountId, t.email),
    check('users_status_check', sql`${t.status} in ('active','restricted','cancelled')`),
    check('users_roles_check', sql`${t.roles} <@ array['admin','member','recorder']::text[] and cardinality(${t.roles}) > 0`),
    check(
      'users_guardian_consent_check',
      sql`(${t.guardianConsentBy} is null) = (${t.guardianConsentAt} is null)`,
    ),
  ],
)
