import { and, asc, eq, getTableColumns, gt, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { type CacheBus, ScopedCache } from '../../lib/cache.js'
import { accounts, type USER_STATUSES, users } from '../../../db/schema/index.js'

export type UserRow = typeof users.$inferSelect
export type NewUserRow = typeof users.$inferInsert
/** A user with the one account field needed to tell whether they are a minor. */
export type UserWithThreshold = UserRow & { minorAgeThreshold: number }

const withThreshold = { ...getTableColumns(users), minorAgeThreshold: accounts.minorAgeThreshold }

// Every query names the account: a user id alone never finds a row.
export function createUsersRepository(db: Db, cache: CacheBus) {
  // Asked on every authenticated request: served from memory, dropped when the user changes.
  const standings = new ScopedCache<Pick<UserRow, 'status' | 'roles'>>(cache, 50_000)
  const selectUsers = (executor: Executor) =>
    executor.select(withThreshold).from(users).innerJoin(accounts, eq(accounts.id, users.accountId))

  const byId = selectUsers(db)
    .where(and(eq(users.accountId, sql.placeholder('accountId')), eq(users.id, sql.placeholder('userId'))))
    .prepare('user_by_id')

  const statusById = db
    .select({ status: users.status, roles: users.roles })
    .from(users)
    .where(and(eq(users.accountId, sql.placeholder('accountId')), eq(users.id, sql.placeholder('userId'))))
    .prepare('user_status_by_id')

  return {
    /** What a token's user may still do: their status and the roles their row holds now. */
    async standingOf(accountId: string, userId: string): Promise<Pick<UserRow, 'status' | 'roles'> | undefined> {
      return standings.load(`${accountId}:${userId}`, { accountId, userId }, async () => (await statusById.execute({ accountId, userId }))[0]!)
    },

    async findById(accountId: string, userId: string, tx?: Executor): Promise<UserWithThreshold | undefined> {
      const rows = tx
        ? await selectUsers(tx).where(and(eq(users.accountId, accountId), eq(users.id, userId)))
        : await byId.execute({ accountId, userId })
      return rows[0]
    },

    async page(
      accountId: string,
      options: { afterId?: string | undefined; limit: number; status?: (typeof USER_STATUSES)[number] | undefined },
    ): Promise<UserWithThreshold[]> {
      return selectUsers(db)
        .where(
          and(
            eq(users.accountId, accountId),
            options.afterId ? gt(users.id, options.afterId) : undefined,
            options.status ? eq(users.status, options.status) : undefined,
          ),
        )
        .orderBy(asc(users.id))
        .limit(options.limit)
    },

    async insert(tx: Executor, row: NewUserRow): Promise<void> {
      await tx.insert(users).values(row)
      cache.touch(tx, { accountId: row.accountId, userId: row.id })
    },

    async update(tx: Executor, accountId: string, userId: string, changes: Partial<NewUserRow>): Promise<void> {
      await tx
        .update(users)
        .set(changes)
        .where(and(eq(users.accountId, accountId), eq(users.id, userId)))
      if (changes.status !== undefined || changes.roles !== undefined) cache.touch(tx, { accountId, userId })
    },

    async firstAdmin(accountId: string): Promise<UserRow | undefined> {
      const [row] = await db
        .select()
        .from(users)
        .where(and(eq(users.accountId, accountId), sql`'admin' = any(${users.roles})`, eq(users.status, 'active')))
        .orderBy(asc(users.id))
        .limit(1)
      return row
    },
  }
}

export type UsersRepository = ReturnType<typeof createUsersRepository>
