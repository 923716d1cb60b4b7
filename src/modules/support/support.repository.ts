import { and, desc, eq, gt, isNull, lte, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { supportGrants } from '../../../db/schema/index.js'

export type SupportGrantRow = typeof supportGrants.$inferSelect

// Support grants of one account; every query names it.
export function createSupportRepository(db: Db) {
  const active = db
    .select({ id: supportGrants.id })
    .from(supportGrants)
    .where(
      and(
        eq(supportGrants.accountId, sql.placeholder('accountId')),
        isNull(supportGrants.revokedAt),
        lte(supportGrants.startsAt, sql.placeholder('at')),
        gt(supportGrants.endsAt, sql.placeholder('at')),
      ),
    )
    .orderBy(desc(supportGrants.endsAt))
    .limit(1)
    .prepare('support_grant_active')

  return {
    /** The id of a grant running at `at`, if any: the operator's one way into the account's artefacts. */
    async activeAt(accountId: string, at: Date): Promise<string | undefined> {
      const [row] = await active.execute({ accountId, at: at.toISOString() })
      return row?.id
    },

    async insert(tx: Executor, row: typeof supportGrants.$inferInsert): Promise<SupportGrantRow> {
      const [inserted] = await tx.insert(supportGrants).values(row).returning()
      return inserted!
    },

    async find(accountId: string, grantId: string, tx: Executor = db): Promise<SupportGrantRow | undefined> {
      const [row] = await tx.select().from(supportGrants).where(and(eq(supportGrants.accountId, accountId), eq(supportGrants.id, grantId)))
      return row
    },

    /** Ends a grant early; undefined when it was already revoked. */
    async revoke(tx: Executor, accountId: string, grantId: string, by: string, at: Date): Promise<SupportGrantRow | undefined> {
      const [row] = await tx
        .update(supportGrants)
        .set({ revokedAt: at, revokedBy: by })
        .where(and(eq(supportGrants.accountId, accountId), eq(supportGrants.id, grantId), isNull(supportGrants.revokedAt)))
        .returning()
      return row
    },

    page(accountId: string, afterId: string | undefined, limit: number): Promise<SupportGrantRow[]> {
      return db
        .select()
        .from(supportGrants)
        .where(and(eq(supportGrants.accountId, accountId), afterId ? gt(supportGrants.id, afterId) : undefined))
        .orderBy(supportGrants.id)
        .limit(limit)
    },
  }
}

export type SupportRepository = ReturnType<typeof createSupportRepository>
