import { sql } from 'drizzle-orm'
import { check, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

export const SETTING_LAYERS = ['account', 'group', 'user', 'meeting'] as const
export const LOCK_LAYERS = ['account', 'group'] as const
export const LOCK_KINDS = ['fixed', 'floor'] as const
export const VALUE_ORIGINS = ['explicit', 'gpc_signal', 'dnt_signal'] as const

// One row per (layer, scope, key) that a layer sets. scope_id is the account, group, user or
// meeting id of the layer. A missing row means "inherit".
export const settingValues = pgTable(
  'setting_values',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    layer: text('layer', { enum: SETTING_LAYERS }).notNull(),
    scopeId: uuid('scope_id').notNull(),
    key: text('key').notNull(),
    value: jsonb('value').$type<unknown>().notNull(),
    /** explicit, or written on the user's behalf by a privacy signal (Sec-GPC, DNT). */
    origin: text('origin', { enum: VALUE_ORIGINS }).notNull().default('explicit'),
    updatedBy: text('updated_by').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.layer, t.scopeId, t.key] }),
    check('setting_values_layer_check', sql`${t.layer} in ('account','group','user','meeting')`),
    check('setting_values_origin_check', sql`${t.origin} in ('explicit','gpc_signal','dnt_signal')`),
  ],
)

// Locks exist only at the account and group layers: `fixed` freezes a key for every lower layer,
// `floor` lets lower layers only choose a more private value.
export const settingLocks = pgTable(
  'setting_locks',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    layer: text('layer', { enum: LOCK_LAYERS }).notNull(),
    scopeId: uuid('scope_id').notNull(),
    key: text('key').notNull(),
    kind: text('kind', { enum: LOCK_KINDS }).notNull(),
    lockedBy: text('locked_by').notNull(),
    lockedAt: timestamp('locked_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.layer, t.scopeId, t.key] }),
    check('setting_locks_layer_check', sql`${t.layer} in ('account','group')`),
    check('setting_locks_kind_check', sql`${t.kind} in ('fixed','floor')`),
  ],
)
