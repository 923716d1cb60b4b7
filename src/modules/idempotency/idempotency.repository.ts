import { and, eq, isNull, lt, sql } from 'drizzle-orm'
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
  const keyed = and(
    eq(idempotencyKeys.accountId, sql.placeholder('accountId')),
    eq(idempotencyKeys.subject, sql.placeholder('subject')),
    eq(idempotencyKeys.key, sql.placeholder('key')),
  )
  // Every POST with a key runs claim and complete: prepared, planned once per connection.
  const claim = db
    .insert(idempotencyKeys)
    .values({
      accountId: sql.placeholder('accountId'),
      subject: sql.placeholder('subject'),
      key: sql.placeholder('key'),
      requestHash: sql.placeholder('requestHash'),
      createdAt: sql.placeholder('createdAt'),
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key })
    .prepare('idempotency_claim')
  const complete = db
    .update(idempotencyKeys)
    .set({ status: sql`${sql.placeholder('status')}`, contentType: sql`${sql.placeholder('contentType')}`, responseBody: sql`${sql.placeholder('responseBody')}` })
    .where(keyed)
    .prepare('idempotency_complete')
  const find = db.select().from(idempotencyKeys).where(keyed).prepare('idempotency_find')

  return {
    /** True when this request is the first with the key: it runs, and its answer is stored. */
    async claim(k: IdempotencyKey, requestHash: string, now: Date): Promise<boolean> {
      const rows = await claim.execute({ ...k, requestHash, createdAt: now })
      return rows.length > 0
    },

    async find(k: IdempotencyKey): Promise<StoredAnswer | undefined> {
      const [row] = await find.execute({ ...k })
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
      await complete.execute({ ...k, status, contentType, responseBody })
    },

    /** Forgets a claim whose request failed on our side, so the client's retry runs again. */
    async release(k: IdempotencyKey) {
      await db.delete(idempotencyKeys).where(and(byKey(k), isNull(idempotencyKeys.status)))
    },
  }
}

export type IdempotencyRepository = ReturnType<typeof createIdempotencyRepository>
