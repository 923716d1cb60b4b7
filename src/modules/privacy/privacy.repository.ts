import { and, asc, desc, eq, gt, inArray, or, sql } from 'drizzle-orm'
import { type Db, type Executor, pgArray, rowsOf } from '../../../db/client.js'
import {
  attentionSpans,
  auditEntries,
  consentClientDetails,
  consentRecords,
  groupMembers,
  groups,
  idempotencyKeys,
  mediaDiagnostics,
  meetings,
  noticeVersions,
  participants,
  presenceIntervals,
  privacyExports,
  privacyRequestHistory,
  privacyRequests,
  recordings,
  settingValues,
  transcripts,
  type TranscriptSegment,
  users,
} from '../../../db/schema/index.js'

export type PrivacyRequestRow = typeof privacyRequests.$inferSelect
export type HistoryRow = typeof privacyRequestHistory.$inferSelect

/** Who a request is about: a user, or a guest (one participation, no user row). */
export type Subject = { accountId: string; userId: string } | { accountId: string; guest: { meetingId: string; participantId: string } }

const OPEN = ['received', 'verified', 'in_progress'] as const

// Privacy requests of one account, and the subject's data they read and erase; every query names the account.
export function createPrivacyRepository(db: Db) {
  /** The subject's participations (a user's in every meeting; a guest's one). */
  async function participationIds(tx: Executor, subject: Subject): Promise<string[]> {
    if ('guest' in subject) return [subject.guest.participantId]
    const rows = await tx
      .select({ id: participants.id })
      .from(participants)
      .where(and(eq(participants.accountId, subject.accountId), eq(participants.userId, subject.userId)))
    return rows.map((row) => row.id)
  }

  return {
    participationIds: (subject: Subject, tx: Executor = db) => participationIds(tx, subject),

    async insert(tx: Executor, row: typeof privacyRequests.$inferInsert): Promise<PrivacyRequestRow> {
      const [inserted] = await tx.insert(privacyRequests).values(row).returning()
      return inserted!
    },

    /** An open request of the same type for the same subject. */
    async findOpen(tx: Executor, accountId: string, type: string, subject: { userId: string | null; participantId: string | null }): Promise<PrivacyRequestRow | undefined> {
      const [row] = await tx
        .select()
        .from(privacyRequests)
        .where(
          and(
            eq(privacyRequests.accountId, accountId),
            eq(privacyRequests.type, type as PrivacyRequestRow['type']),
            inArray(privacyRequests.status, [...OPEN]),
            subject.userId ? eq(privacyRequests.subjectUserId, subject.userId) : eq(privacyRequests.subjectParticipantId, subject.participantId!),
          ),
        )
        .limit(1)
      return row
    },

    async find(accountId: string, requestId: string, tx: Executor = db): Promise<PrivacyRequestRow | undefined> {
      const [row] = await tx.select().from(privacyRequests).where(and(eq(privacyRequests.accountId, accountId), eq(privacyRequests.id, requestId)))
      return row
    },

    /** Locks the request for a change of state. */
    async lock(tx: Executor, accountId: string, requestId: string): Promise<PrivacyRequestRow | undefined> {
      const [row] = await tx.select().from(privacyRequests).where(and(eq(privacyRequests.accountId, accountId), eq(privacyRequests.id, requestId))).for('update')
      return row
    },

    async update(tx: Executor, accountId: string, requestId: string, changes: Partial<typeof privacyRequests.$inferInsert>): Promise<PrivacyRequestRow> {
      const [row] = await tx.update(privacyRequests).set(changes).where(and(eq(privacyRequests.accountId, accountId), eq(privacyRequests.id, requestId))).returning()
      return row!
    },

    async addHistory(tx: Executor, row: typeof privacyRequestHistory.$inferInsert) {
      await tx.insert(privacyRequestHistory).values(row)
    },

    async historyOf(accountId: string, requestIds: string[]): Promise<HistoryRow[]> {
      if (requestIds.length === 0) return []
      return db
        .select()
        .from(privacyRequestHistory)
        .where(and(eq(privacyRequestHistory.accountId, accountId), inArray(privacyRequestHistory.requestId, requestIds)))
        .orderBy(asc(privacyRequestHistory.seq))
    },

    ownRequests(accountId: string, userId: string): Promise<PrivacyRequestRow[]> {
      return db
        .select()
        .from(privacyRequests)
        .where(and(eq(privacyRequests.accountId, accountId), eq(privacyRequests.subjectUserId, userId)))
        .orderBy(desc(privacyRequests.receivedAt))
    },

    /** An account's requests by due date (the extended one where extended), optionally filtered. */
    page(accountId: string, filter: { status?: string | undefined; type?: string | undefined; overdueAt?: Date | undefined }, afterId: string | undefined, limit: number) {
      const due = sql`coalesce(${privacyRequests.extendedTo}, ${privacyRequests.dueAt})`
      return db
        .select()
        .from(privacyRequests)
        .where(
          and(
            eq(privacyRequests.accountId, accountId),
            filter.status ? eq(privacyRequests.status, filter.status as PrivacyRequestRow['status']) : undefined,
            filter.type ? eq(privacyRequests.type, filter.type as PrivacyRequestRow['type']) : undefined,
            filter.overdueAt ? and(inArray(privacyRequests.status, [...OPEN]), sql`${due} < ${filter.overdueAt.toISOString()}::timestamptz`) : undefined,
            afterId ? gt(privacyRequests.id, afterId) : undefined,
          ),
        )
        .orderBy(asc(due), asc(privacyRequests.id))
        .limit(limit)
    },

    async overdueCount(accountId: string, at: Date): Promise<number> {
      const [row] = rowsOf<{ n: number }>(
        await db.execute(sql`select count(*)::int as n from privacy_requests as r where r.account_id = ${accountId}
          and r.status in ('received', 'verified', 'in_progress') and coalesce(r.extended_to, r.due_at) < ${at.toISOString()}::timestamptz`),
      )
      return Number(row?.n ?? 0)
    },

    async saveExport(tx: Executor, row: typeof privacyExports.$inferInsert) {
      await tx
        .insert(privacyExports)
        .values(row)
        .onConflictDoUpdate({ target: [privacyExports.accountId, privacyExports.requestId], set: { document: row.document, createdAt: row.createdAt, expiresAt: row.expiresAt } })
    },

    async findExport(accountId: string, requestId: string) {
      const [row] = await db.select().from(privacyExports).where(and(eq(privacyExports.accountId, accountId), eq(privacyExports.requestId, requestId)))
      return row
    },

    async exportIds(accountId: string, requestIds: string[]): Promise<Set<string>> {
      if (requestIds.length === 0) return new Set()
      const rows = await db
        .select({ requestId: privacyExports.requestId })
        .from(privacyExports)
        .where(and(eq(privacyExports.accountId, accountId), inArray(privacyExports.requestId, requestIds)))
      return new Set(rows.map((row) => row.requestId))
    },

    // ---- What is held about a subject (access), category by category ----

    async gather(subject: Subject) {
      const acc = subject.accountId
      const parts = await participationIds(db, subject)
      const userId = 'userId' in subject ? subject.userId : null
      const profile = userId ? await db.select().from(users).where(and(eq(users.accountId, acc), eq(users.id, userId))) : []
      const memberships = userId
        ? await db
            .select({ groupId: groupMembers.groupId, groupName: groups.name })
            .from(groupMembers)
            .innerJoin(groups, and(eq(groups.accountId, groupMembers.accountId), eq(groups.id, groupMembers.groupId)))
            .where(and(eq(groupMembers.accountId, acc), eq(groupMembers.userId, userId)))
        : []
      const settings = userId
        ? await db
            .select({ key: settingValues.key, value: settingValues.value, origin: settingValues.origin, updatedAt: settingValues.updatedAt })
            .from(settingValues)
            .where(and(eq(settingValues.accountId, acc), eq(settingValues.layer, 'user'), eq(settingValues.scopeId, userId)))
        : []
      const participations = parts.length
        ? await db
            .select({ participant: participants, meetingTopic: meetings.topic, meetingStatus: meetings.status })
            .from(participants)
            .innerJoin(meetings, and(eq(meetings.accountId, participants.accountId), eq(meetings.id, participants.meetingId)))
            .where(and(eq(participants.accountId, acc), inArray(participants.id, parts)))
        : []
      const presence = parts.length
        ? await db.select().from(presenceIntervals).where(and(eq(presenceIntervals.accountId, acc), inArray(presenceIntervals.participantId, parts)))
        : []
      const consentFilter = or(userId ? eq(consentRecords.userId, userId) : undefined, parts.length ? inArray(consentRecords.participantId, parts) : undefined)
      const consents = await db
        .select({ record: consentRecords, client: consentClientDetails, notice: { id: noticeVersions.id, version: noticeVersions.version, text: noticeVersions.text, sha256: noticeVersions.sha256 } })
        .from(consentRecords)
        .leftJoin(consentClientDetails, and(eq(consentClientDetails.accountId, consentRecords.accountId), eq(consentClientDetails.recordId, consentRecords.id)))
        .leftJoin(noticeVersions, and(eq(noticeVersions.accountId, consentRecords.accountId), eq(noticeVersions.id, consentRecords.noticeVersionId)))
        .where(and(eq(consentRecords.accountId, acc), consentFilter ?? sql`false`))
        .orderBy(asc(consentRecords.at), asc(consentRecords.seq))
      const captured = parts.length
        ? rowsOf<typeof recordings.$inferSelect & Record<string, unknown>>(
            await db.execute(sql`select r.id, r.meeting_id, r.kind, r.status, r.started_at, r.ended_at, r.expires_at, r.region, r.stored_at, r.deleted_at
              from recordings as r where r.account_id = ${acc} and exists (select 1 from jsonb_array_elements_text(r.captured_participant_ids) as c(id) where c.id = any(${pgArray(parts)}::text[]))`),
          )
        : []
      const transcriptRows = parts.length
        ? await db
            .select()
            .from(transcripts)
            .where(and(eq(transcripts.accountId, acc), inArray(transcripts.meetingId, [...new Set(participations.map((p) => p.participant.meetingId))])))
        : []
      const partSet = new Set(parts)
      const ownSegments = transcriptRows
        .map((row) => ({ transcriptId: row.id, meetingId: row.meetingId, status: row.status, segments: row.segments.filter((segment) => partSet.has(segment.speakerParticipantId)) }))
        .filter((row) => row.segments.length > 0)
      const spans = parts.length ? await db.select().from(attentionSpans).where(and(eq(attentionSpans.accountId, acc), inArray(attentionSpans.participantId, parts))) : []
      const diagnostics = userId ? await db.select().from(mediaDiagnostics).where(and(eq(mediaDiagnostics.accountId, acc), eq(mediaDiagnostics.userId, userId))) : []
      const ids = [userId, ...parts].filter((id): id is string => id !== null)
      const auditAbout = await db
        .select({ seq: auditEntries.seq, at: auditEntries.at, action: auditEntries.action, actorType: auditEntries.actorType, actorId: auditEntries.actorId, targetType: auditEntries.targetType, targetId: auditEntries.targetId })
        .from(auditEntries)
        .where(and(eq(auditEntries.accountId, acc), or(inArray(auditEntries.targetId, ids), inArray(auditEntries.actorId, ids))))
        .orderBy(asc(auditEntries.seq))
      const answers = userId
        ? await db
            .select({ key: idempotencyKeys.key, status: idempotencyKeys.status, createdAt: idempotencyKeys.createdAt })
            .from(idempotencyKeys)
            .where(and(eq(idempotencyKeys.accountId, acc), eq(idempotencyKeys.subject, userId)))
        : []
      const exports = userId
        ? await db
            .select({ requestId: privacyExports.requestId, createdAt: privacyExports.createdAt, expiresAt: privacyExports.expiresAt })
            .from(privacyExports)
            .innerJoin(privacyRequests, and(eq(privacyRequests.accountId, privacyExports.accountId), eq(privacyRequests.id, privacyExports.requestId)))
            .where(and(eq(privacyExports.accountId, acc), eq(privacyRequests.subjectUserId, userId)))
        : []
      const requests = userId
        ? await db.select({ id: privacyRequests.id, type: privacyRequests.type, status: privacyRequests.status, receivedAt: privacyRequests.receivedAt }).from(privacyRequests).where(and(eq(privacyRequests.accountId, acc), eq(privacyRequests.subjectUserId, userId)))
        : []
      return { profile, memberships, settings, participations, presence, consents, captured, ownSegments, spans, diagnostics, auditAbout, answers, exports, requests }
    },

    // ---- Erasure ----

    /** Recordings that captured the subject and are still held (not deleted). */
    async recordingsOf(tx: Executor, accountId: string, parts: string[]): Promise<{ id: string; meetingId: string; storageKey: string | null }[]> {
      if (parts.length === 0) return []
      return rowsOf<{ id: string; meetingId: string; storageKey: string | null }>(
        await tx.execute(sql`select r.id, r.meeting_id as "meetingId", r.storage_key as "storageKey" from recordings as r
          where r.account_id = ${accountId} and r.status in ('pending', 'stored')
            and exists (select 1 from jsonb_array_elements_text(r.captured_participant_ids) as c(id) where c.id = any(${pgArray(parts)}::text[]))`),
      )
    },

    async deleteRecordings(tx: Executor, accountId: string, ids: string[], at: Date) {
      if (ids.length === 0) return
      await tx.update(recordings).set({ status: 'deleted', deletedAt: at, storageKey: null }).where(and(eq(recordings.accountId, accountId), inArray(recordings.id, ids)))
    },

    /** The subject's transcript segments become redaction markers; answers how many. */
    async redactSegments(tx: Executor, accountId: string, parts: string[], skipMeetings: Set<string>): Promise<number> {
      if (parts.length === 0) return 0
      const partSet = new Set(parts)
      const rows = await tx
        .select({ id: transcripts.id, meetingId: transcripts.meetingId, segments: transcripts.segments })
        .from(transcripts)
        .where(and(eq(transcripts.accountId, accountId), eq(transcripts.status, 'stored')))
        .for('update')
      let redacted = 0
      for (const row of rows) {
        if (skipMeetings.has(row.meetingId)) continue
        let changed = false
        const segments: TranscriptSegment[] = row.segments.map((segment) => {
          if (!partSet.has(segment.speakerParticipantId) || segment.text === null) return segment
          changed = true
          redacted++
          return { ...segment, text: null, redacted: true }
        })
        if (changed) {
          await tx
            .update(transcripts)
            .set({ segments, redactedSegments: segments.filter((segment) => segment.redacted).length })
            .where(and(eq(transcripts.accountId, accountId), eq(transcripts.id, row.id)))
        }
      }
      return redacted
    },

    async deleteSpans(tx: Executor, accountId: string, parts: string[], skipMeetings: Set<string>): Promise<number> {
      if (parts.length === 0) return 0
      const rows = await tx
        .delete(attentionSpans)
        .where(and(eq(attentionSpans.accountId, accountId), inArray(attentionSpans.participantId, parts), skipMeetings.size ? sql`${attentionSpans.meetingId} <> all(${pgArray([...skipMeetings])}::uuid[])` : undefined))
        .returning({ id: attentionSpans.id })
      return rows.length
    },

    async deleteDiagnostics(tx: Executor, accountId: string, userId: string): Promise<number> {
      return (await tx.delete(mediaDiagnostics).where(and(eq(mediaDiagnostics.accountId, accountId), eq(mediaDiagnostics.userId, userId))).returning({ id: mediaDiagnostics.id })).length
    },

    async deleteAnswers(tx: Executor, accountId: string, userId: string): Promise<number> {
      return (await tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.accountId, accountId), eq(idempotencyKeys.subject, userId))).returning({ key: idempotencyKeys.key })).length
    },

    async deleteOwnSettings(tx: Executor, accountId: string, userId: string): Promise<number> {
      return (
        await tx
          .delete(settingValues)
          .where(and(eq(settingValues.accountId, accountId), eq(settingValues.layer, 'user'), eq(settingValues.scopeId, userId)))
          .returning({ key: settingValues.key })
      ).length
    },

    /** The user agents and networks beside the subject's consent records (the records stay). */
    async deleteClientDetails(tx: Executor, accountId: string, userId: string | null, parts: string[]): Promise<number> {
      const rows = rowsOf(
        await tx.execute(sql`delete from consent_client_details as d using consent_records as c
          where d.account_id = ${accountId} and c.account_id = d.account_id and c.id = d.record_id
            and (${userId ? sql`c.user_id = ${userId}` : sql`false`} or c.participant_id = any(${pgArray(parts)}::uuid[]))
          returning d.record_id`),
      )
      return rows.length
    },

    async deleteExportsOf(tx: Executor, accountId: string, userId: string): Promise<number> {
      return rowsOf(
        await tx.execute(sql`delete from privacy_exports as e using privacy_requests as r
          where e.account_id = ${accountId} and r.account_id = e.account_id and r.id = e.request_id and r.subject_user_id = ${userId} returning e.request_id`),
      ).length
    },

    async anonymiseGuest(tx: Executor, accountId: string, participantId: string) {
      await tx.update(participants).set({ guestDisplayName: 'Erased guest' }).where(and(eq(participants.accountId, accountId), eq(participants.id, participantId)))
    },

    async clearRectificationDetails(tx: Executor, accountId: string, userId: string) {
      await tx
        .update(privacyRequests)
        .set({ details: {} })
        .where(and(eq(privacyRequests.accountId, accountId), eq(privacyRequests.subjectUserId, userId), eq(privacyRequests.type, 'rectification'), sql`${privacyRequests.status} in ('completed', 'rejected')`))
    },

    /** The subject's standing grants: the latest record of each meeting participation and scope, and of each account-wide scope, where it grants. */
    async standingGrants(tx: Executor, accountId: string, userId: string | null, parts: string[]) {
      return rowsOf<{ meeting_id: string | null; participant_id: string | null; scope: string; notice_version_id: string | null }>(
        await tx.execute(sql`select l.meeting_id, l.participant_id, l.scope, l.notice_version_id from (
            select distinct on (c.meeting_id, c.participant_id, c.scope) c.meeting_id, c.participant_id, c.scope, c.decision, c.notice_version_id
            from consent_records as c
            where c.account_id = ${accountId}
              and (c.participant_id = any(${pgArray(parts)}::uuid[]) or (${userId ? sql`c.user_id = ${userId}` : sql`false`} and c.meeting_id is null))
            order by c.meeting_id, c.participant_id, c.scope, c.at desc, c.seq desc) as l
          where l.decision = 'granted'`),
      )
    },

    async insertWithdrawal(tx: Executor, row: typeof consentRecords.$inferInsert) {
      await tx.insert(consentRecords).values(row)
    },

    /** Meetings of the subject's participations, for holds on a meeting. */
    async meetingsOf(parts: string[], accountId: string, tx: Executor = db): Promise<string[]> {
      if (parts.length === 0) return []
      const rows = await tx.selectDistinct({ meetingId: participants.meetingId }).from(participants).where(and(eq(participants.accountId, accountId), inArray(participants.id, parts)))
      return rows.map((row) => row.meetingId)
    },

    /** Running holds over the subject or any of these meetings. */
    async holdsOver(tx: Executor, accountId: string, userId: string | null, meetingIds: string[], at: Date) {
      return rowsOf<{ id: string; subject_user_id: string | null; meeting_id: string | null }>(
        await tx.execute(sql`select h.id, h.subject_user_id, h.meeting_id from legal_holds as h
          where h.account_id = ${accountId} and h.released_at is null and h.from_at <= ${at.toISOString()}::timestamptz
            and (h.until_at is null or h.until_at > ${at.toISOString()}::timestamptz)
            and (${userId ? sql`h.subject_user_id = ${userId}` : sql`false`} or h.meeting_id = any(${pgArray(meetingIds)}::uuid[]))`),
      )
    },
  }
}

export type PrivacyRepository = ReturnType<typeof createPrivacyRepository>
