import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { legalHolds } from '../../../db/schema/index.js'

export type LegalHoldRow = typeof legalHolds.$inferSelect

// Legal holds of one account; every query names it.
export function createLegalHoldsRepository(db: Db) {
  return {
    async insert(tx: Executor, row: typeof legalHolds.$inferInsert): Promise<LegalHoldRow> {
      const [inserted] = await tx.insert(legalHolds).values(row).returning()
      return inserted!
    },

    async find(accountId: string, holdId: string, tx: Executor = db): Promise<LegalHoldRow | undefined> {
      const [row] = await tx.select().from(legalHolds).where(and(eq(legalHolds.accountId, accountId), eq(legalHolds.id, holdId)))
      return row
    },

    /** An unreleased hold on the same subject or meeting over the same period. */
    async findSame(tx: Executor, hold: Pick<LegalHoldRow, 'accountId' | 'subjectUserId' | 'meetingId' | 'fromAt' | 'untilAt'>): Promise<LegalHoldRow | undefined> {
      const [row] = await tx
        .select()
        .from(legalHolds)
        .where(
          and(
            eq(legalHolds.accountId, hold.accountId),
            isNull(legalHolds.releasedAt),
            hold.subjectUserId ? eq(legalHolds.subjectUserId, hold.subjectUserId) : eq(legalHolds.meetingId, hold.meetingId!),
            eq(legalHolds.fromAt, hold.fromAt),
            hold.untilAt ? eq(legalHolds.untilAt, hold.untilAt) : isNull(legalHolds.untilAt),
          ),
        )
        .limit(1)
      return row
    },

    /** Ends a hold; undefined when it was already released. */
    async release(tx: Executor, accountId: string, holdId: string, by: string, at: Date): Promise<LegalHoldRow | undefined> {
      const [row] = await tx
        .update(legalHolds)
        .set({ releasedAt: at, releasedBy: by })
        .where(and(eq(legalHolds.accountId, accountId), eq(legalHolds.id, holdId), isNull(legalHolds.releasedAt)))
        .returning()
      return row
    },

    page(accountId: string, afterId: string | undefined, limit: number): Promise<LegalHoldRow[]> {
      return db
        .select()
        .from(legalHolds)
        .where(and(eq(legalHolds.accountId, accountId), afterId ? gt(legalHolds.id, afterId) : undefined))
        .orderBy(legalHolds.id)
        .limit(limit)
    },

    /** Serialises creations of one account's holds, so two identical ones cannot both pass the check. */
    async lockAccount(tx: Executor, accountId: string) {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('legal_holds'), hashtext(${accountId}))`)
    },
  }
}

export type LegalHoldsRepository = ReturnType<typeof createLegalHoldsRepository>
