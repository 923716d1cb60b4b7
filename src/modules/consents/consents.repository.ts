import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lte, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { consentRecords } from '../../../db/schema/index.js'

export type ConsentRow = typeof consentRecords.$inferSelect

// The meeting side of the append-only consent records; every query names the account.
export function createConsentsRepository(db: Db) {
  const latestOfParticipant = db
    .selectDistinctOn([consentRecords.scope])
    .from(consentRecords)
    .where(
      and(
        eq(consentRecords.accountId, sql.placeholder('accountId')),
        eq(consentRecords.meetingId, sql.placeholder('meetingId')),
        eq(consentRecords.participantId, sql.placeholder('participantId')),
      ),
    )
    .orderBy(consentRecords.scope, desc(consentRecords.at), desc(consentRecords.seq))
    .prepare('consent_latest_of_participant')

  return {
    /** Nothing is written when a record with the same request key exists (a retry that ran again). */
    async insert(tx: Executor, row: typeof consentRecords.$inferInsert): Promise<ConsentRow | undefined> {
      const [inserted] = await tx
        .insert(consentRecords)
        .values(row)
        .onConflictDoNothing({ target: [consentRecords.accountId, consentRecords.requestKey], where: sql`${consentRecords.requestKey} is not null` })
        .returning()
      return inserted
    },

    async byRequestKey(tx: Executor, accountId: string, requestKey: string): Promise<ConsentRow | undefined> {
      const [row] = await tx
        .select()
        .from(consentRecords)
        .where(and(eq(consentRecords.accountId, accountId), eq(consentRecords.requestKey, requestKey)))
      return row
    },

    /** History by id; with `asOf`, only each (participant, scope)'s latest record at that instant. */
    page(
      accountId: string,
      meetingId: string,
      options: { afterId?: string | undefined; limit: number; asOf?: Date | undefined; participantId?: string | undefined; scope?: string | undefined },
    ): Promise<ConsentRow[]> {
      const filters = and(
        eq(consentRecords.accountId, accountId),
        eq(consentRecords.meetingId, meetingId),
        isNotNull(consentRecords.participantId),
        options.participantId ? eq(consentRecords.participantId, options.participantId) : undefined,
        options.scope ? eq(consentRecords.scope, options.scope) : undefined,
      )
      const latestThen = options.asOf
        ? db
            .selectDistinctOn([consentRecords.participantId, consentRecords.scope], { id: consentRecords.id })
            .from(consentRecords)
            .where(and(filters, lte(consentRecords.at, options.asOf)))
            .orderBy(consentRecords.participantId, consentRecords.scope, desc(consentRecords.at), desc(consentRecords.seq))
        : undefined
      return db
        .select()
        .from(consentRecords)
        .where(and(filters, options.afterId ? gt(consentRecords.id, options.afterId) : undefined, latestThen ? inArray(consentRecords.id, latestThen) : undefined))
        .orderBy(asc(consentRecords.id))
        .limit(options.limit)
    },

    /** The current record of every (participant, scope) of the meeting. */
    latestOfMeeting(accountId: string, meetingId: string): Promise<ConsentRow[]> {
      return db
        .selectDistinctOn([consentRecords.participantId, consentRecords.scope])
        .from(consentRecords)
        .where(and(eq(consentRecords.accountId, accountId), eq(consentRecords.meetingId, meetingId), isNotNull(consentRecords.participantId)))
        .orderBy(consentRecords.participantId, consentRecords.scope, desc(consentRecords.at), desc(consentRecords.seq))
    },

    /** A user's latest account-wide record of a scope (no meeting): opt-ins such as media monitoring. */
    async latestOfUser(accountId: string, userId: string, scope: string): Promise<ConsentRow | undefined> {
      const [row] = await db
        .select()
        .from(consentRecords)
        .where(and(eq(consentRecords.accountId, accountId), eq(consentRecords.userId, userId), eq(consentRecords.scope, scope), isNull(consentRecords.meetingId)))
        .orderBy(desc(consentRecords.at), desc(consentRecords.seq))
        .limit(1)
      return row
    },

    latestOfParticipant(accountId: string, meetingId: string, participantId: string): Promise<ConsentRow[]> {
      return latestOfParticipant.execute({ accountId, meetingId, participantId })
    },
  }
}

export type ConsentsRepository = ReturnType<typeof createConsentsRepository>
