import { asc, eq, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { accounts } from '../../../db/schema/index.js'

export type AccountRow = typeof accounts.$inferSelect
export type NewAccountRow = typeof accounts.$inferInsert

// accounts is the tenant table itself: its id is the tenant id every other query is scoped by.
export function createAccountsRepository(db: Db) {
  const byId = db.select().from(accounts).where(eq(accounts.id, sql.placeholder('id'))).prepare('account_by_id')

  return {
    async findById(accountId: string, tx?: Executor): Promise<AccountRow | undefined> {
      const rows = tx
        ? await tx.select().from(accounts).where(eq(accounts.id, accountId))
        : await byId.execute({ id: accountId })
      return rows[0]
    },

    async insert(tx: Executor, row: NewAccountRow): Promise<AccountRow> {
      const [inserted] = await tx.insert(accounts).values(row).returning()
      return inserted!
    },

    async update(tx: Executor, accountId: string, changes: Partial<NewAccountRow>): Promise<AccountRow | undefined> {
      const [updated] = await tx.update(accounts).set(changes).where(eq(accounts.id, accountId)).returning()
      return updated
    },

    async oldest(): Promise<AccountRow | undefined> {
      const [row] = await db.select().from(accounts).orderBy(asc(accounts.id)).limit(1)
      return row
    },
  }
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>
