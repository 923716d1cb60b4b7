import { and, asc, eq, gt } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { recordings } from '../../../db/schema/index.js'

export type RecordingRow = typeof recordings.$inferSelect

export function createRecordingsRepository(db: Db) {
  return {
    async insert(tx: Executor, row: typeof recordings.$inferInsert): Promise<RecordingRow> {
      const [inserted] = await tx.insert(recordings).values(row).returning()
      return inserted!
    },

    async find(accountId: string, meetingId: string, recordingId: string, tx?: Executor, lock = false): Promise<RecordingRow | undefined> {
      const query = (tx ?? db)
        .select()
        .from(recordings)
        .where(and(eq(recordings.accountId, accountId), eq(recordings.meetingId, meetingId), eq(recordings.id, recordingId)))
      const [row] = lock ? await query.for('update') : await query
      return row
    },

    async update(tx: Executor, accountId: string, recordingId: string, changes: Partial<typeof recordings.$inferInsert>): Promise<RecordingRow> {
      const [row] = await tx
        .update(recordings)
        .set(changes)
        .where(and(eq(recordings.accountId, accountId), eq(recordings.id, recordingId)))
        .returning()
      return row!
    },

    page(accountId: string, meetingId: string, afterId: string | undefined, limit: number): Promise<RecordingRow[]> {
      return db
        .select()
        .from(recordings)
        .where(and(eq(recordings.accountId, accountId), eq(recordings.meetingId, meetingId), afterId ? gt(recordings.id, afterId) : undefined))
        .orderBy(asc(recordings.id))
        .limit(limit)
    },
  }
}

export type RecordingsRepository = ReturnType<typeof createRecordingsRepository>
