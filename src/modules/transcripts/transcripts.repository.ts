import { and, asc, eq, gt } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { transcripts } from '../../../db/schema/index.js'

export type TranscriptRow = typeof transcripts.$inferSelect

export function createTranscriptsRepository(db: Db) {
  return {
    async insert(tx: Executor, row: typeof transcripts.$inferInsert): Promise<TranscriptRow> {
      const [inserted] = await tx.insert(transcripts).values(row).returning()
      return inserted!
    },

    async find(accountId: string, meetingId: string, transcriptId: string, tx: Executor = db): Promise<TranscriptRow | undefined> {
      const [row] = await tx
        .select()
        .from(transcripts)
        .where(and(eq(transcripts.accountId, accountId), eq(transcripts.meetingId, meetingId), eq(transcripts.id, transcriptId)))
      return row
    },

    /** Deleting keeps the row (its grant and audit trail) and drops every segment. */
    async markDeleted(tx: Executor, accountId: string, transcriptId: string, at: Date): Promise<boolean> {
      const rows = await tx
        .update(transcripts)
        .set({ status: 'deleted', deletedAt: at, segments: [] })
        .where(and(eq(transcripts.accountId, accountId), eq(transcripts.id, transcriptId), eq(transcripts.status, 'stored')))
        .returning({ id: transcripts.id })
      return rows.length > 0
    },

    page(accountId: string, meetingId: string, afterId: string | undefined, limit: number): Promise<TranscriptRow[]> {
      return db
        .select()
        .from(transcripts)
        .where(and(eq(transcripts.accountId, accountId), eq(transcripts.meetingId, meetingId), afterId ? gt(transcripts.id, afterId) : undefined))
        .orderBy(asc(transcripts.id))
        .limit(limit)
    },
  }
}

export type TranscriptsRepository = ReturnType<typeof createTranscriptsRepository>
