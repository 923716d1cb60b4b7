import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { type CacheBus, ScopedCache } from '../../lib/cache.js'
import { notices, noticeVersions } from '../../../db/schema/index.js'

export type NoticeRow = typeof notices.$inferSelect
export type NoticeVersionRow = typeof noticeVersions.$inferSelect
export type NoticeKind = NoticeRow['kind']
export type NoticeWithVersion = { notice: NoticeRow; version: NoticeVersionRow }

// Notices and their immutable versions; every query names the account.
export function createNoticesRepository(db: Db, cache: CacheBus) {
  /** The latest version of each notice of the given kinds (DISTINCT ON keeps one row per notice). */
  const current = (executor: Executor, accountId: string, kinds: readonly NoticeKind[]): Promise<NoticeWithVersion[]> =>
    executor
      .selectDistinctOn([noticeVersions.noticeId], { notice: notices, version: noticeVersions })
      .from(noticeVersions)
      .innerJoin(notices, and(eq(notices.accountId, noticeVersions.accountId), eq(notices.id, noticeVersions.noticeId)))
      .where(and(eq(noticeVersions.accountId, accountId), inArray(noticeVersions.kind, [...kinds])))
      .orderBy(noticeVersions.noticeId, desc(noticeVersions.version))

  const currentNotices = new ScopedCache<NoticeWithVersion[]>(cache, 5_000)

  return {
    async insertNotice(tx: Executor, row: typeof notices.$inferInsert): Promise<NoticeRow> {
      const [inserted] = await tx.insert(notices).values(row).returning()
      cache.touch(tx, { accountId: row.accountId })
      return inserted!
    },

    async insertVersion(tx: Executor, row: typeof noticeVersions.$inferInsert): Promise<NoticeVersionRow> {
      const [inserted] = await tx.insert(noticeVersions).values(row).returning()
      cache.touch(tx, { accountId: row.accountId })
      return inserted!
    },

    /** The notice locked for publishing, so two publishers cannot take the same number. */
    async lockNotice(tx: Executor, accountId: string, noticeId: string): Promise<NoticeRow | undefined> {
      const [row] = await tx.select().from(notices).where(and(eq(notices.accountId, accountId), eq(notices.id, noticeId))).for('update')
      return row
    },

    async latestVersion(accountId: string, noticeId: string, executor: Executor = db): Promise<NoticeVersionRow | undefined> {
      const [row] = await executor
        .select()
        .from(noticeVersions)
        .where(and(eq(noticeVersions.accountId, accountId), eq(noticeVersions.noticeId, noticeId)))
        .orderBy(desc(noticeVersions.version))
        .limit(1)
      return row
    },

    /** Whether a version after `version` of the notice asks for consent again (P-GOV-3). */
    async reconsentSince(accountId: string, noticeId: string, version: number): Promise<boolean> {
      const rows = await db
        .select({ id: noticeVersions.id })
        .from(noticeVersions)
        .where(
          and(
            eq(noticeVersions.accountId, accountId),
            eq(noticeVersions.noticeId, noticeId),
            gt(noticeVersions.version, version),
            eq(noticeVersions.requiresReconsent, true),
          ),
        )
        .limit(1)
      return rows.length > 0
    },

    async version(accountId: string, versionId: string, executor: Executor = db): Promise<NoticeVersionRow | undefined> {
      const [row] = await executor
        .select()
        .from(noticeVersions)
        .where(and(eq(noticeVersions.accountId, accountId), eq(noticeVersions.id, versionId)))
      return row
    },

    /** Notices of the account with their current version, by id. */
    async page(accountId: string, options: { afterId?: string | undefined; kind?: NoticeKind | undefined; limit: number }): Promise<NoticeWithVersion[]> {
      return db
        .select({ notice: notices, version: noticeVersions })
        .from(notices)
        .innerJoin(
          noticeVersions,
          and(
            eq(noticeVersions.accountId, notices.accountId),
            eq(noticeVersions.noticeId, notices.id),
            eq(
              noticeVersions.version,
              sql`(select max(v2.version) from notice_versions v2 where v2.account_id = "notices"."account_id" and v2.notice_id = "notices"."id")`,
            ),
          ),
        )
        .where(and(eq(notices.accountId, accountId), options.afterId ? gt(notices.id, options.afterId) : undefined, options.kind ? eq(notices.kind, options.kind) : undefined))
        .orderBy(asc(notices.id))
        .limit(options.limit)
    },

    /** Each notice of the kinds with its current version; outside a transaction from memory (every join reads it). */
    current: (accountId: string, kinds: readonly NoticeKind[], executor: Executor = db) =>
      executor === db
        ? currentNotices.load(`${accountId}:${[...kinds].sort().join(',')}`, { accountId }, () => current(db, accountId, kinds))
        : current(executor, accountId, kinds),
  }
}

export type NoticesRepository = ReturnType<typeof createNoticesRepository>
