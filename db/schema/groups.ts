import { foreignKey, index, integer, pgTable, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'
import { users } from './users.js'

export const groups = pgTable(
  'groups',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    /** When a user is in several groups, the group with the highest rank wins a setting. */
    rank: integer('rank').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] }), unique('groups_account_name_unique').on(t.accountId, t.name)],
)

export const groupMembers = pgTable(
  'group_members',
  {
    accountId: uuid('account_id').notNull(),
    groupId: uuid('group_id').notNull(),
    userId: uuid('user_id').notNull(),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.groupId, t.userId] }),
    foreignKey({
      name: 'group_members_group_fk',
      columns: [t.accountId, t.groupId],
      foreignColumns: [groups.accountId, groups.id],
    }).onDelete('cascade'),
    foreignKey({
      name: 'group_members_user_fk',
      columns: [t.accountId, t.userId],
      foreignColumns: [users.accountId, users.id],
    }),
    index('group_members_user_idx').on(t.accountId, t.userId),
  ],
)
