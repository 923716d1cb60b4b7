import { sql } from 'drizzle-orm'
import { boolean, check, pgTable, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core'

export const DATA_REGIONS = ['cn', 'hk', 'sg', 'eu', 'us', 'uk', 'in', 'jp', 'au', 'br', 'ca'] as const
export const MINOR_AGE_THRESHOLDS = [13, 14, 16, 18] as const
export const ACCOUNT_STATUSES = ['active', 'suspended', 'cancelled'] as const

// The tenant. Every other table carries account_id and leads its primary key with it.
export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    dataRegion: text('data_region', { enum: DATA_REGIONS }).notNull(),
    minorAgeThreshold: smallint('minor_age_threshold').notNull().default(16),
    requestDeadlineDays: smallint('request_deadline_days').notNull().default(15),
    requestDeadlineBusinessDays: boolean('request_deadline_business_days').notNull().default(false),
    status: text('status', { enum: ACCOUNT_STATUSES }).notNull().default('active'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    check('accounts_data_region_check', sql`${t.dataRegion} in ('cn','hk','sg','eu','us','uk','in','jp','au','br','ca')`),
    check('accounts_minor_age_threshold_check', sql`${t.minorAgeThreshold} in (13, 14, 16, 18)`),
    check('accounts_request_deadline_days_check', sql`${t.requestDeadlineDays} between 1 and 90`),
    check('accounts_status_check', sql`${t.status} in ('active','suspended','cancelled')`),
  ],
)
