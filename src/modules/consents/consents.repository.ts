import { and, asc, desc, eq, getTableColumns, gt, inArray, isNotNull, isNull, lte, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { ATTESTED_METHOD_LIST, consentClientDetails, consentRecords } from '../../../db/schema/index.js'
import { GroupCommit } from '../../lib/group-commit.js'
import type { AuditActor, AuditRepository } from '../audit/audit.repository.js'

export type ConsentRow = typeof consentRecords.$inferSelect

/** What a consent POST checks before it writes, read in one statement. */
export interface ConsentContext {
  meeting: { id: string; hostUserId: string } | null
  participant: {
    id: string
    userId: string | null
    joinedBy: string | null
    isMinor: boolean
    /** The participant has answered this scope themself (a method that is not someone else's word). */
    answeredSelf: boolean
  } | null
  version: { id: string; kind: string; version: number; sha256: string; currentId: string; currentVersion: number } | null
  /** The record an earlier request with the same Idempotency-Key wrote: what its answer and a retry's comparison need. */
  existing: AnsweredRecord | null
}

/** What a consent POST's context is read for. */
interface ContextQuery {
  accountId: string
  meetingId: string
  participantId: string
  scope: string
  noticeVersionId: string | null
  requestKey: string | null
}

/** The fields of a record that its answer (and receipt) carries, and a retry is compared on. */
export type AnsweredRecord = Pick<
  ConsentRow,
  'accountId' | 'id' | 'meetingId' | 'participantId' | 'scope' | 'decision' | 'method' | 'noticeVersionId' | 'guardianName' | 'at' | 'receiptKid'
>

const ANSWERED_JSON = `json_build_object('accountId', r.account_id, 'id', r.id, 'meetingId', r.meeting_id, 'participantId', r.participant_id,
  'scope', r.scope, 'decision', r.decision, 'method', r.method, 'noticeVersionId', r.notice_version_id, 'guardianName', r.guardian_name,
  'at', (extract(epoch from r.at) * 1000)::bigint, 'receiptKid', r.receipt_kid)`

/** A meeting consent as recordMeetingConsent writes it; `at` null: the database's clock stamps it. */
export interface MeetingConsentInput {
  accountId: string
  id: string
  auditId: string
  actor: AuditActor
  userId: string | null
  meetingId: string
  participantId: string
  scope: string
  decision: ConsentRow['decision']
  method: string
  noticeVersionId: string | null
  guardianName: string | null
  recordedBy: string
  at: Date | null
  userAgent: string | null
  clientNetwork: string | null
  requestKey: string | null
  receiptKid: string
}

const ph = sql.placeholder
const attestedSql = sql.raw(ATTESTED_METHOD_LIST.map((method) => `'${method}'`).join(', '))

// The meeting side of the append-only consent records; every query names the account.
/** A record to write, with the client it came from (kept beside it, in consent_client_details). */
export type ConsentInsert = typeof consentRecords.$inferInsert & { userAgent?: string | null | undefined; clientNetwork?: string | null | undefined }

/** The client details of records just written; nothing for a record without any. */
export async function insertClientDetails(tx: Executor, rows: { accountId: string; recordId: string; userAgent?: string | null | undefined; clientNetwork?: string | null | undefined }[]) {
  const kept = rows.filter((row) => row.userAgent || row.clientNetwork).map((row) => ({ accountId: row.accountId, recordId: row.recordId, userAgent: row.userAgent ?? null, clientNetwork: row.clientNetwork ?? null }))
  if (kept.length > 0) await tx.insert(consentClientDetails).values(kept)
}

export function createConsentsRepository(db: Db, audit: AuditRepository) {
  // The meeting, the participant and the notice version with its notice's current version, for
  // every consent POST that arrived in this turn (group read: one statement, each request answered
  // with its own row; a request alone is a batch of one). The subqueries name every column by
  // alias: drizzle would render column objects unqualified. Planned for each batch, not prepared:
  // a plan cached while consent_records was small walked the account's records by its leading
  // column for the own-answer check (both of its indexes start with the account, and an empty
  // table costs them the same), 4 ms of PostgreSQL per join-storm participant once the account
  // held 60,000 records; a fresh plan sees the table's size, and a batch pays for one plan.
  const contexts = (rows: string) =>
    db
      .with(
        db.$with('input', {}).as(sql`select * from json_to_recordset(${rows}::json) as i(
          n integer, account_id uuid, meeting_id uuid, participant_id uuid, scope text, notice_version_id uuid, request_key text)`),
      )
      .select({
        n: sql<number>`x.n`,
        meeting: sql<[string, string] | null>`(select json_build_array(m.id, m.host_user_id) from meetings m where m.account_id = x.account_id and m.id = x.meeting_id)`,
        // By primary key, the meeting compared after: with the meeting in the WHERE clause the planner
        // may walk the meeting's index and filter, thousands of rows for a webinar's participant.
        participant: sql<[string, string | null, string | null, boolean, boolean] | null>`(select case when p.meeting_id = x.meeting_id then json_build_array(p.id, p.user_id, p.joined_by, p.is_minor,
            exists (select 1 from consent_records o where o.account_id = p.account_id and o.participant_id = p.id
              and o.scope = x.scope and o.method not in (${attestedSql}))) end
          from participants p
          where p.account_id = x.account_id and p.id = x.participant_id)`,
        version: sql<[string, string, number, string, string, number] | null>`(select json_build_array(v.id, v.kind, v.version, v.sha256, c.id, c.version)
          from notice_versions v cross join lateral (select c.id, c.version from notice_versions c where c.account_id = v.account_id and c.notice_id = v.notice_id order by c.version desc limit 1) c
          where v.account_id = x.account_id and v.id = x.notice_version_id)`,
        existing: sql<(Omit<AnsweredRecord, 'at'> & { at: number }) | null>`(select ${sql.raw(ANSWERED_JSON)} from consent_records r
          where r.account_id = x.account_id and r.request_key = x.request_key)`,
      })
      .from(sql`input x`)
  const manyContexts = async (inputs: ContextQuery[]): Promise<ConsentContext[]> => {
    const rows = inputs.map((input, n) => ({
      n,
      account_id: input.accountId,
      meeting_id: input.meetingId,
      participant_id: input.participantId,
      scope: input.scope,
      notice_version_id: input.noticeVersionId,
      request_key: input.requestKey,
    }))
    const read = new Map((await contexts(JSON.stringify(rows))).map((row) => [row.n, row]))
    return inputs.map((_, n) => {
      const { meeting, participant, version, existing } = read.get(n)!
      return {
        meeting: meeting && { id: meeting[0], hostUserId: meeting[1] },
        participant: participant && { id: participant[0], userId: participant[1], joinedBy: participant[2], isMinor: participant[3], answeredSelf: participant[4] },
        version: version && { id: version[0], kind: version[1], version: version[2], sha256: version[3], currentId: version[4], currentVersion: version[5] },
        existing: existing && { ...existing, at: new Date(existing.at) },
      }
    })
  }
  const contextReader = new GroupCommit(manyContexts)

  // Rule 8 in one statement, for the records of every request that arrived together (group
  // commit: one statement and one commit, each request answered with its own row; a request
  // alone is a batch of one). The meeting rows are locked (key share, which a store's FOR UPDATE
  // waits for) before any instant is taken, so a record's instant follows every store that
  // decided before it; the audit events and client details commit with the records. The instants are
  // taken in arrival order (PostgreSQL evaluates a volatile function of the select list after its
  // ORDER BY, and the serial `seq` follows the same order), so a withdrawal sent after a grant in
  // the same batch is stamped after it. Two rows with one request key: the second writes nothing.
  const batchInput = db.$with('input', {}).as(sql`select * from json_to_recordset(${ph('rows')}::json) as i(
      n integer, account_id uuid, id uuid, audit_id uuid, actor_type text, actor_id text, user_id uuid, meeting_id uuid, participant_id uuid,
      scope text, decision text, method text, notice_version_id uuid, guardian_name text, recorded_by text, at timestamptz,
      user_agent text, client_network text, request_key text, receipt_kid text)`)
  const batchLocked = db.$with('locked', {}).as(sql`select m.account_id, m.id from meetings m
      where (m.account_id, m.id) in (select distinct x.account_id, x.meeting_id from input x) for key share`)
  const batchInserted = db.$with('inserted', getTableColumns(consentRecords)).as(sql`insert into consent_records
      (account_id, id, user_id, meeting_id, participant_id, scope, decision, method, notice_version_id, guardian_name, recorded_by, at, request_key, receipt_kid)
    select x.account_id, x.id, x.user_id, l.id, x.participant_id, x.scope, x.decision, x.method, x.notice_version_id, x.guardian_name, x.recorded_by,
      coalesce(x.at, date_trunc('milliseconds', clock_timestamp())), x.request_key, x.receipt_kid
    from input x join locked l on l.account_id = x.account_id and l.id = x.meeting_id
    order by x.n
    on conflict (account_id, request_key) where request_key is not null do nothing
    returning *`)
  const batchAudited = db.$with('audited', {}).as(
    audit.pendingFrom(sql`inserted i join input x on x.account_id = i.account_id and x.id = i.id order by x.n`, {
      accountId: sql`i.account_id`,
      id: sql`x.audit_id`,
      at: sql`i.at`,
      actorType: sql`x.actor_type`,
      actorId: sql`x.actor_id`,
      action: 'consent.recorded',
      targetType: 'participant',
      targetId: sql`i.participant_id::text`,
      details: sql`jsonb_build_object('meetingId', i.meeting_id, 'recordId', i.id, 'scope', i.scope, 'decision', i.decision, 'method', i.method, 'noticeVersionId', i.notice_version_id)`,
    }),
  )
  const batchClient = db.$with('client', {}).as(sql`insert into consent_client_details (account_id, record_id, user_agent, client_network)
    select i.account_id, i.id, x.user_agent, x.client_network from inserted i join input x on x.account_id = i.account_id and x.id = i.id
    where x.user_agent is not null or x.client_network is not null`)
  const recordMeetingConsents = db.with(batchInput, batchLocked, batchInserted, batchAudited, batchClient).select().from(batchInserted).prepare('consent_record_meetings')

  const many = async (inputs: MeetingConsentInput[]): Promise<(ConsentRow | undefined)[]> => {
    const rows = inputs.map((input, n) => ({
      n,
      account_id: input.accountId,
      id: input.id,
      audit_id: input.auditId,
      actor_type: input.actor.type,
      actor_id: input.actor.id,
      user_id: input.userId,
      meeting_id: input.meetingId,
      participant_id: input.participantId,
      scope: input.scope,
      decision: input.decision,
      method: input.method,
      notice_version_id: input.noticeVersionId,
      guardian_name: input.guardianName,
      recorded_by: input.recordedBy,
      at: input.at?.toISOString() ?? null,
      user_agent: input.userAgent,
      client_network: input.clientNetwork,
      request_key: input.requestKey,
      receipt_kid: input.receiptKid,
    }))
    const written = new Map((await recordMeetingConsents.execute({ rows: JSON.stringify(rows) })).map((row) => [row.id, row]))
    return inputs.map((input) => written.get(input.id))
  }
  const batcher = new GroupCommit(many)

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
    /** `requestKey`: the request's `<subject>:<Idempotency-Key>`, to find what an earlier run of it wrote. */
    context(accountId: string, meetingId: string, participantId: string, scope: string, noticeVersionId: string | null, requestKey: string | null): Promise<ConsentContext> {
      return contextReader.run({ accountId, meetingId, participantId, scope, noticeVersionId, requestKey })
    },

    /**
     * Appends a participant's consent record and its audit event in one statement (with those of
     * the requests that arrived with it: group commit). Undefined when the meeting is gone, or
     * when a record with the same request key exists (a retry that ran again).
     */
    recordMeetingConsent(input: MeetingConsentInput): Promise<ConsentRow | undefined> {
      return batcher.run(input)
    },

    /** Nothing is written when a record with the same request key exists (a retry that ran again). */
    async insert(tx: Executor, input: ConsentInsert): Promise<ConsentRow | undefined> {
      const { userAgent, clientNetwork, ...row } = input
      const [inserted] = await tx
        .insert(consentRecords)
        .values(row)
        .onConflictDoNothing({ target: [consentRecords.accountId, consentRecords.requestKey], where: sql`${consentRecords.requestKey} is not null` })
        .returning()
      if (inserted) await insertClientDetails(tx, [{ accountId: inserted.accountId, recordId: inserted.id, userAgent, clientNetwork }])
      return inserted
    },

    async byRequestKey(accountId: string, requestKey: string, tx: Executor = db): Promise<ConsentRow | undefined> {
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
