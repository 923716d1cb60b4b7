import { and, asc, eq, gt } from 'drizzle-orm'
import type { Db } from '../../../db/client.js'
import { mediaDiagnostics } from '../../../db/schema/index.js'

export type DiagnosticsRow = typeof mediaDiagnostics.$inferSelect

export function createMonitoringRepository(db: Db) {
  return {
    async insert(row: typeof mediaDiagnostics.$inferInsert): Promise<DiagnosticsRow> {
      const [inserted] = await db.insert(mediaDiagnostics).values(row).returning()
      return inserted!
    },

    pageOfUser(accountId: string, userId: string, afterId: string | undefined, limit: number): Promise<DiagnosticsRow[]> {
      return db
        .select()
        .from(mediaDiagnostics)
        .where(and(eq(mediaDiagnostics.accountId, accountId), eq(mediaDiagnostics.userId, userId), afterId ? gt(mediaDiagnostics.id, afterId) : undefined))
        .orderBy(asc(mediaDiagnostics.id))
        .limit(limit)
    },
  }
}

export type MonitoringRepository = ReturnType<typeof createMonitoringRepository>
