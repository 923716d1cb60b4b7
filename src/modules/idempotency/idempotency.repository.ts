import { and, eq, isNull, lt } from 'drizzle-orm'
import type { Db } from '../../../db/client.js'
import { idempotencyKeys } from '../../../db/schema/index.js'

export interface IdempotencyKey {
  accountId: string
  subject: string
  key: string
}

export type StoredAnswer = typeof idempotencyKeys.$inferSelect

export function createIdempotencyRepository(db: Db) {
  const byKey = (k: IdempotencyKey) =>
    and(eq(idempotencyKeys.accountId, k.accountId), eq(idempotencyKeys.subject, k.subject), eq(idempotencyKeys.key, k.key))

  return {
    /** True when this request is the first with the key: it runs, and its answer is stored. */
    async claim(k: IdempotencyKey, requestHash: string, now: Date): Promise<boolean> {
      const rows = await db
        .insert(idempotencyKeys)
        .values({ ...k, requestHash, createdAt: now })
        .onConflictDoNothing()
        .returning({ key: idempotencyKeys.key })
      return rows.length > 0
    },

    async find(k: IdempotencyKey): Promise<StoredAnswer | undefined> {
      const [row] = await db.select().from(idempotencyKeys).where(byKey(k))
      return row
    },

    /** Takes over a claim whose request never finished (its process died) before `staleBefore`. */
    async takeOver(k: IdempotencyKey, requestHash: string, now: Date, staleBefore: Date): Promise<boolean> {
      const rows = await db
        .update(idempotencyKeys)
        .set({ createdAt: now })
        .where(and(byKey(k), eq(idempotencyKeys.requestHash, requestHash), isNull(idempotencyKeys.status), lt(idempotencyKeys.createdAt, staleBefore)))
        .returning({ key: idempotencyKeys.key })
      return rows.length > 0
    },

    async complete(k: IdempotencyKey, status: number, contentType: string | null, responseBody: string | null) {
      await db.update(idempotencyKeys).set({ status, contentType, responseBody }).where(byKey(k))
    },

    /** Forgets a claim whose request failed on our side, so the client's retry runs again. */
    async release(k: IdempotencyKey) {
      await db.delete(idempotencyKeys).where(and(byKey(k), isNull(idempotencyKeys.status)))
    },
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
