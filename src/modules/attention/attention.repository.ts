import { and, asc, eq, gt, isNotNull, isNull, lte, or, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { attentionSpans, screenShares } from '../../../db/schema/index.js'

export type ScreenShareRow = typeof screenShares.$inferSelect
export type AttentionSpanRow = typeof attentionSpans.$inferSelect

export function createAttentionRepository(db: Db) {
  return {
    async runningShare(accountId: string, meetingId: string, tx: Executor = db): Promise<ScreenShareRow | undefined> {
      const [row] = await tx
        .select()
        .from(screenShares)
        .where(and(eq(screenShares.accountId, accountId), eq(screenShares.meetingId, meetingId), isNull(screenShares.stoppedAt)))
      return row
    },

    /** True when a share covers the instant: started at or before it, not stopped by then. */
    async sharingAt(accountId: string, meetingId: string, at: Date, tx: Executor = db): Promise<boolean> {
      const rows = await tx
        .select({ id: screenShares.id })
        .from(screenShares)
        .where(
          and(
            eq(screenShares.accountId, accountId),
            eq(screenShares.meetingId, meetingId),
            lte(screenShares.startedAt, at),
            or(isNull(screenShares.stoppedAt), gt(screenShares.stoppedAt, at)),
          ),
        )
        .limit(1)
      return rows.length > 0
    },

    /** The share covering the instant, row-locked until the transaction ends (a stop waits for it). */
    async shareAt(tx: Executor, accountId: string, meetingId: string, at: Date): Promise<ScreenShareRow | undefined> {
      const [row] = await tx
        .select()
        .from(screenShares)
        .where(
          and(
            eq(screenShares.accountId, accountId),
            eq(screenShares.meetingId, meetingId),
            lte(screenShares.startedAt, at),
            or(isNull(screenShares.stoppedAt), gt(screenShares.stoppedAt, at)),
          ),
        )
        .limit(1)
        .for('share')
      return row
    },

    /** Opens a share unless one runs (the partial unique index decides); undefined when one did. */
    async startShare(tx: Executor, row: typeof screenShares.$inferInsert): Promise<ScreenShareRow | undefined> {
      const [inserted] = await tx.insert(screenShares).values(row).onConflictDoNothing().returning()
      return inserted
    },

    async stopShare(tx: Executor, accountId: string, meetingId: string, at: Date): Promise<ScreenShareRow | undefined> {
      const [row] = await tx
        .update(screenShares)
        .set({ stoppedAt: sql`greatest(${screenShares.startedAt}, ${at.toISOString()}::timestamptz)` })
        .where(and(eq(screenShares.accountId, accountId), eq(screenShares.meetingId, meetingId), isNull(screenShares.stoppedAt)))
        .returning()
      return row
    },

    async openSpan(accountId: string, participantId: string, tx: Executor = db): Promise<AttentionSpanRow | undefined> {
      const [row] = await tx
        .select()
        .from(attentionSpans)
        .where(and(eq(attentionSpans.accountId, accountId), eq(attentionSpans.participantId, participantId), isNull(attentionSpans.regainedAt)))
      return row
    },

    async openSpansOfMeeting(tx: Executor, accountId: string, meetingId: string): Promise<AttentionSpanRow[]> {
      return tx
        .select()
        .from(attentionSpans)
        .where(and(eq(attentionSpans.accountId, accountId), eq(attentionSpans.meetingId, meetingId), isNull(attentionSpans.regainedAt)))
    },

    /** False when the participant already has an open span. */
    async insertOpenSpan(tx: Executor, row: typeof attentionSpans.$inferInsert): Promise<boolean> {
      const rows = await tx.insert(attentionSpans).values(row).onConflictDoNothing().returning({ id: attentionSpans.id })
      return rows.length > 0
    },

    async keepSpan(tx: Executor, accountId: string, spanId: string, regainedAt: Date, expiresAt: Date): Promise<AttentionSpanRow> {
      const [row] = await tx
        .update(attentionSpans)
        .set({ regainedAt, expiresAt })
        .where(and(eq(attentionSpans.accountId, accountId), eq(attentionSpans.id, spanId)))
        .returning()
      return row!
    },

    async dropSpan(tx: Executor, accountId: string, spanId: string): Promise<void> {
      await tx.delete(attentionSpans).where(and(eq(attentionSpans.accountId, accountId), eq(attentionSpans.id, spanId)))
    },

    /** Kept spans only: open ones are never shown. */
    page(accountId: string, meetingId: string, options: { participantId?: string | undefined; afterId?: string | undefined; limit: number }) {
      return db
        .select()
        .from(attentionSpans)
        .where(
          and(
            eq(attentionSpans.accountId, accountId),
            eq(attentionSpans.meetingId, meetingId),
            isNotNull(attentionSpans.regainedAt),
            options.participantId ? eq(attentionSpans.participantId, options.participantId) : undefined,
            options.afterId ? gt(attentionSpans.id, options.afterId) : undefined,
          ),
        )
        .orderBy(asc(attentionSpans.id))
        .limit(options.limit)
    },
  }
}

export type AttentionRepository = ReturnType<typeof createAttentionRepository>
