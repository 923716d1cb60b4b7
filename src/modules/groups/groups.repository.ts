import { and, asc, eq, gt } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import type { CacheBus } from '../../lib/cache.js'
import { groupMembers, groups } from '../../../db/schema/index.js'

export type GroupRow = typeof groups.$inferSelect
export type GroupMemberRow = typeof groupMembers.$inferSelect

export function createGroupsRepository(db: Db, cache: CacheBus) {
  return {
    async insert(tx: Executor, row: typeof groups.$inferInsert): Promise<GroupRow> {
      const [inserted] = await tx.insert(groups).values(row).returning()
      return inserted!
    },

    async findById(accountId: string, groupId: string, tx: Executor = db): Promise<GroupRow | undefined> {
      const [row] = await tx
        .select()
        .from(groups)
        .where(and(eq(groups.accountId, accountId), eq(groups.id, groupId)))
      return row
    },

    page(accountId: string, afterId: string | undefined, limit: number): Promise<GroupRow[]> {
      return db
        .select()
        .from(groups)
        .where(and(eq(groups.accountId, accountId), afterId ? gt(groups.id, afterId) : undefined))
        .orderBy(asc(groups.id))
        .limit(limit)
    },

    members(accountId: string, groupId: string, afterUserId: string | undefined, limit: number): Promise<GroupMemberRow[]> {
      return db
        .select()
        .from(groupMembers)
        .where(
          and(
            eq(groupMembers.accountId, accountId),
            eq(groupMembers.groupId, groupId),
            afterUserId ? gt(groupMembers.userId, afterUserId) : undefined,
          ),
        )
        .orderBy(asc(groupMembers.userId))
        .limit(limit)
    },

    /** True when the membership is new. */
    async addMember(tx: Executor, row: GroupMemberRow): Promise<boolean> {
      const inserted = await tx.insert(groupMembers).values(row).onConflictDoNothing().returning()
      cache.touch(tx, { accountId: row.accountId, userId: row.userId })
      return inserted.length > 0
    },

    /** True when there was a membership to remove. */
    async removeMember(tx: Executor, accountId: string, groupId: string, userId: string): Promise<boolean> {
      const removed = await tx
        .delete(groupMembers)
        .where(
          and(eq(groupMembers.accountId, accountId), eq(groupMembers.groupId, groupId), eq(groupMembers.userId, userId)),
        )
        .returning()
      cache.touch(tx, { accountId, userId })
      return removed.length > 0
    },

    /** Ids of the groups the user left. */
    async removeUserFromAll(tx: Executor, accountId: string, userId: string): Promise<string[]> {
      const removed = await tx
        .delete(groupMembers)
        .where(and(eq(groupMembers.accountId, accountId), eq(groupMembers.userId, userId)))
        .returning({ groupId: groupMembers.groupId })
      cache.touch(tx, { accountId, userId })
      return removed.map((row) => row.groupId)
    },
  }
}

export type GroupsRepository = ReturnType<typeof createGroupsRepository>
