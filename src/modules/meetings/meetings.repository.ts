import { and, asc, eq, exists, getTableColumns, gt, gte, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { type CacheBus, ScopedCache } from '../../lib/cache.js'
import { GroupCommit } from '../../lib/group-commit.js'
import { meetings, participants, presenceIntervals, users } from '../../../db/schema/index.js'
import type { AuditActor, AuditRepository } from '../audit/audit.repository.js'

export type MeetingRow = typeof meetings.$inferSelect
export type ParticipantRow = typeof participants.$inferSelect
export type PresenceRow = typeof presenceIntervals.$inferSelect
export type MeetingStatus = MeetingRow['status']

/**
 * A participant's name, for queries that left-join their user: a guest's is their own, a user's is
 * read from the user row (so a renamed user shows the new name everywhere).
 */
const participantDisplayName = sql<string>`coalesce(${participants.guestDisplayName}, ${users.displayName}, '')`

/** A guest's join as joinGuest writes it: the participant, their first stay (unless they wait) and the audit event. */
export interface GuestJoin {
  accountId: string
  meetingId: string
  participantId: string
  stayId: string
  auditId: string
  actor: AuditActor
  displayName: string
  role: ParticipantRow['role']
  isMinor: boolean
  joinedBy: string
  /** The waiting room holds them: no stay opens until they are admitted. */
  waiting: boolean
  /** `<subject>:<Idempotency-Key>`, or null: a retry finds the guest the first run made. */
  requestKey: string | null
  at: Date
}

/** A user's join as joinUser writes it: their participant row (made on a first join, reused on a rejoin), their stay and the audit event. */
export interface UserJoin {
  accountId: string
  meetingId: string
  userId: string
  /** The id a first join gives the participant; a rejoin keeps the row's own. */
  participantId: string
  stayId: string
  auditId: string
  actor: AuditActor
  /** The role of a first join; a rejoin keeps the row's role. */
  role: ParticipantRow['role']
  /** Minor status only ever turns on: a user who was a minor at any join of this meeting stays protected as one. */
  isMinor: boolean
  /** The waiting room holds them (it is on and they do not manage the meeting), unless their row is a cohost's. */
  waits: boolean
  at: Date
}

const ph = sql.placeholder

// Meetings, their participants and presence intervals; every query names the account.
export function createMeetingsRepository(db: Db, audit: AuditRepository, cache: CacheBus) {
  // A join and a meeting's effective settings read the row on every request, and its statement
  // re-checks what must be current (a join locks the meeting while live): from memory.
  const readable = new ScopedCache<MeetingRow>(cache, 20_000)
  // Guests' joins in one statement (the join storm's hot path), for every join that arrived with
  // this one (group commit: one statement and one commit, each request answered with its own row;
  // a join alone is a batch of one). The meeting rows are share-locked while live, so an end that
  // races a join waits and then closes its stay too; the participants, their stays and the audit
  // events commit together, in arrival order. A guest is always a new participant, so no stay can
  // be open already. No row for a join whose meeting is not live (any more), nor for a second join
  // with the same request key (a retry).
  const guestInput = db.$with('input', {}).as(sql`select * from json_to_recordset(${ph('rows')}::json) as i(
      n integer, account_id uuid, meeting_id uuid, participant_id uuid, stay_id uuid, audit_id uuid, actor_type text, actor_id text,
      display_name text, role text, is_minor boolean, joined_by text, waiting boolean, request_key text, at timestamptz)`)
  const liveLocked = db.$with('locked', {}).as(sql`select m.account_id, m.id from meetings m
      where (m.account_id, m.id) in (select distinct x.account_id, x.meeting_id from input x) and m.status = 'live' for share`)
  const guestParticipant = db.$with('participant', getTableColumns(participants)).as(sql`insert into participants
      (account_id, id, meeting_id, user_id, guest_display_name, role, is_minor, joined_by, waiting_since, request_key, created_at)
    select x.account_id, x.participant_id, l.id, null, x.display_name, x.role, x.is_minor, x.joined_by,
      case when x.waiting then x.at end, x.request_key, x.at
    from input x join locked l on l.account_id = x.account_id and l.id = x.meeting_id
    order by x.n
    on conflict (account_id, request_key) where request_key is not null do nothing
    returning *`)
  const guestStay = db.$with('stay', {}).as(sql`insert into presence_intervals (account_id, id, meeting_id, participant_id, joined_at)
    select p.account_id, x.stay_id, p.meeting_id, p.id, x.at from participant p join input x on x.account_id = p.account_id and x.participant_id = p.id
    where p.waiting_since is null order by x.n`)
  const guestAudited = db.$with('audited', {}).as(
    audit.pendingFrom(sql`participant p join input x on x.account_id = p.account_id and x.participant_id = p.id order by x.n`, {
      accountId: sql`p.account_id`,
      id: sql`x.audit_id`,
      at: sql`x.at`,
      actorType: sql`x.actor_type`,
      actorId: sql`x.actor_id`,
      action: 'participant.joined',
      targetType: 'meeting',
      targetId: sql`p.meeting_id::text`,
      details: sql`jsonb_build_object('participantId', p.id, 'role', p.role, 'guest', true, 'waiting', p.waiting_since is not null)`,
    }),
  )
  const joinGuests = db.with(guestInput, liveLocked, guestParticipant, guestStay, guestAudited).select().from(guestParticipant).prepare('meeting_join_guests')
  const manyGuests = async (inputs: GuestJoin[]): Promise<(ParticipantRow | undefined)[]> => {
    const rows = inputs.map((input, n) => ({
      n,
      account_id: input.accountId,
      meeting_id: input.meetingId,
      participant_id: input.participantId,
      stay_id: input.stayId,
      audit_id: input.auditId,
      actor_type: input.actor.type,
      actor_id: input.actor.id,
      display_name: input.displayName,
      role: input.role,
      is_minor: input.isMinor,
      joined_by: input.joinedBy,
      waiting: input.waiting,
      request_key: input.requestKey,
      at: input.at.toISOString(),
    }))
    const written = new Map((await joinGuests.execute({ rows: JSON.stringify(rows) })).map((row) => [row.id, row]))
    return inputs.map((input) => written.get(input.participantId))
  }
  const guestBatcher = new GroupCommit(manyGuests)

  // Users' joins, one statement for every join of the turn as for guests. The participant row is
  // upserted (a rejoin reuses it) only where the user may enter: no open stay, and not already
  // waiting when the waiting room holds them; the stay opens unless they wait (the partial unique
  // index refuses a second open stay, for a rejoin racing another) and the audit event says which.
  // A join that may not enter answers no row: the meeting is not live, or the user is already in.
  // The open stay is looked up by participant_stay_open (migration 0018), with a snapshot of its
  // own: after waiting for an admission that holds the row, the statement's own snapshot would not
  // see the stay the admission opened; and a leave closing the stay is waited for. Rows are
  // upserted in one order (user), so two batches lock them in the same order; a batch never holds
  // one user twice (see manyUsers).
  const userInput = db.$with('input', {}).as(sql`select * from json_to_recordset(${ph('rows')}::json) as i(
      n integer, account_id uuid, meeting_id uuid, user_id uuid, participant_id uuid, stay_id uuid, audit_id uuid, actor_type text, actor_id text,
      role text, is_minor boolean, waits boolean, at timestamptz)`)
  const userParticipant = db.$with('participant', getTableColumns(participants)).as(sql`insert into participants
      (account_id, id, meeting_id, user_id, guest_display_name, role, is_minor, joined_by, waiting_since, request_key, created_at)
    select x.account_id, x.participant_id, l.id, x.user_id, null, x.role, x.is_minor, x.user_id::text,
      case when x.waits and x.role <> 'cohost' then x.at end, null, x.at
    from input x join locked l on l.account_id = x.account_id and l.id = x.meeting_id
    order by x.account_id, x.meeting_id, x.user_id
    on conflict (account_id, meeting_id, user_id) where user_id is not null do update
      set is_minor = participants.is_minor or excluded.is_minor,
          waiting_since = case when participants.role <> 'cohost' then excluded.waiting_since end
      where not participant_stay_open(participants.account_id, participants.id)
        and (excluded.waiting_since is null or participants.role = 'cohost' or participants.waiting_since is null)
    returning *`)
  const userStay = db.$with('stay', {}).as(sql`insert into presence_intervals (account_id, id, meeting_id, participant_id, joined_at)
    select p.account_id, x.stay_id, p.meeting_id, p.id, x.at
    from participant p join input x on x.account_id = p.account_id and x.meeting_id = p.meeting_id and x.user_id = p.user_id
    where p.waiting_since is null order by x.n
    on conflict do nothing
    returning participant_id`)
  const userAudited = db.$with('audited', {}).as(
    audit.pendingFrom(
      sql`participant p join input x on x.account_id = p.account_id and x.meeting_id = p.meeting_id and x.user_id = p.user_id
        left join stay s on s.participant_id = p.id
        where p.waiting_since is not null or s.participant_id is not null order by x.n`,
      {
        accountId: sql`p.account_id`,
        id: sql`x.audit_id`,
        at: sql`x.at`,
        actorType: sql`x.actor_type`,
        actorId: sql`x.actor_id`,
        action: sql`case when p.waiting_since is null then 'participant.joined' else 'participant.waiting' end`,
        targetType: 'meeting',
        targetId: sql`p.meeting_id::text`,
        details: sql`jsonb_build_object('participantId', p.id, 'role', p.role, 'guest', false)`,
      },
    ),
  )
  const joinUsers = db
    .with(userInput, liveLocked, userParticipant, userStay, userAudited)
    .select()
    .from(userParticipant)
    .where(sql`"participant"."waiting_since" is not null or exists (select 1 from stay s where s.participant_id = "participant"."id")`)
    .prepare('meeting_join_users')
  const manyUsers = async (inputs: UserJoin[]): Promise<(ParticipantRow | undefined)[]> => {
    const key = (input: UserJoin) => `${input.accountId}:${input.meetingId}:${input.userId}`
    // Two joins of one user would both read the row as it was: refused, the batch goes one join at
    // a time (group commit's fallback), and the second finds the first's stay or wait.
    if (new Set(inputs.map(key)).size < inputs.length) throw new Error('a user joins twice in one batch')
    const rows = inputs.map((input, n) => ({
      n,
      account_id: input.accountId,
      meeting_id: input.meetingId,
      user_id: input.userId,
      participant_id: input.participantId,
      stay_id: input.stayId,
      audit_id: input.auditId,
      actor_type: input.actor.type,
      actor_id: input.actor.id,
      role: input.role,
      is_minor: input.isMinor,
      waits: input.waits,
      at: input.at.toISOString(),
    }))
    const written = await joinUsers.execute({ rows: JSON.stringify(rows) })
    return inputs.map((input) => written.find((row) => row.accountId === input.accountId && row.meetingId === input.meetingId && row.userId === input.userId))
  }
  const userBatcher = new GroupCommit(manyUsers)

  const byId = db
    .select()
    .from(meetings)
    .where(and(eq(meetings.accountId, sql.placeholder('accountId')), eq(meetings.id, sql.placeholder('meetingId'))))
    .prepare('meeting_by_id')

  const participantOfUser = db
    .select()
    .from(participants)
    .where(
      and(
        eq(participants.accountId, sql.placeholder('accountId')),
        eq(participants.meetingId, sql.placeholder('meetingId')),
        eq(participants.userId, sql.placeholder('userId')),
      ),
    )
    .prepare('participant_of_user')

  const participantByRequestKey = db
    .select()
    .from(participants)
    .where(and(eq(participants.accountId, sql.placeholder('accountId')), eq(participants.requestKey, sql.placeholder('requestKey'))))
    .prepare('participant_by_request_key')

  // By primary key alone, the meeting compared in the caller: with the meeting in the WHERE clause
  // the planner may walk the meeting's index and filter, thousands of rows in a webinar.
  const participantById = db
    .select()
    .from(participants)
    .where(and(eq(participants.accountId, sql.placeholder('accountId')), eq(participants.id, sql.placeholder('participantId'))))
    .prepare('participant_by_id')

  return {
    /**
     * The meeting as last written, from memory: for reads whose own statement re-checks what must
     * be current (the status of a meeting a join locks), or that need only what never changes (its
     * host). Other processes' changes arrive within a second.
     */
    findCached(accountId: string, meetingId: string): Promise<MeetingRow | undefined> {
      return readable.load(`${accountId}:${meetingId}`, { accountId, meetingId }, async () => (await byId.execute({ accountId, meetingId }))[0]!)
    },

    async findById(accountId: string, meetingId: string, tx?: Executor): Promise<MeetingRow | undefined> {
      const rows = tx
        ? await tx.select().from(meetings).where(and(eq(meetings.accountId, accountId), eq(meetings.id, meetingId)))
        : await byId.execute({ accountId, meetingId })
      return rows[0]
    },

    /**
     * The meeting row, locked until the transaction ends: `share` for work that needs the status
     * to hold (a join while live), `update` for work that changes the row or must see every
     * consent that committed before it (a store), `key share` for a consent, which only needs to
     * be ordered against stores. A transition's UPDATE waits for the first two.
     */
    async lock(tx: Executor, accountId: string, meetingId: string, strength: 'key share' | 'share' | 'update'): Promise<MeetingRow | undefined> {
      const [row] = await tx
        .select()
        .from(meetings)
        .where(and(eq(meetings.accountId, accountId), eq(meetings.id, meetingId)))
        .for(strength)
      return row
    },

    async insert(tx: Executor, row: typeof meetings.$inferInsert): Promise<MeetingRow> {
      const [inserted] = await tx.insert(meetings).values(row).returning()
      return inserted!
    },

    async update(tx: Executor, accountId: string, meetingId: string, changes: Partial<typeof meetings.$inferInsert>) {
      cache.touch(tx, { accountId, meetingId })
      const [updated] = await tx
        .update(meetings)
        .set(changes)
        .where(and(eq(meetings.accountId, accountId), eq(meetings.id, meetingId)))
        .returning()
      return updated
    },

    /** Moves the meeting only if it is still in `from`: two racing transitions cannot both win. */
    async transition(tx: Executor, accountId: string, meetingId: string, from: MeetingStatus, changes: Partial<typeof meetings.$inferInsert>) {
      cache.touch(tx, { accountId, meetingId })
      const [updated] = await tx
        .update(meetings)
        .set(changes)
        .where(and(eq(meetings.accountId, accountId), eq(meetings.id, meetingId), eq(meetings.status, from)))
        .returning()
      return updated
    },

    page(
      accountId: string,
      options: { afterId?: string | undefined; limit: number; from?: Date | undefined; to?: Date | undefined; visibleTo?: string | undefined },
    ): Promise<MeetingRow[]> {
      const visibleTo = options.visibleTo
      return db
        .select()
        .from(meetings)
        .where(
          and(
            eq(meetings.accountId, accountId),
            options.afterId ? gt(meetings.id, options.afterId) : undefined,
            options.from ? gte(meetings.scheduledStart, options.from) : undefined,
            options.to ? lt(meetings.scheduledStart, options.to) : undefined,
            visibleTo
              ? or(
                  eq(meetings.hostUserId, visibleTo),
                  exists(
                    db
                      .select({ one: sql`1` })
                      .from(participants)
                      .where(
                        and(
                          eq(participants.accountId, meetings.accountId),
                          eq(participants.meetingId, meetings.id),
                          eq(participants.userId, visibleTo),
                        ),
                      ),
                  ),
                )
              : undefined,
          ),
        )
        .orderBy(asc(meetings.id))
        .limit(options.limit)
    },

    async participantOfUser(accountId: string, meetingId: string, userId: string, tx?: Executor) {
      const rows = tx
        ? await tx
            .select()
            .from(participants)
            .where(and(eq(participants.accountId, accountId), eq(participants.meetingId, meetingId), eq(participants.userId, userId)))
        : await participantOfUser.execute({ accountId, meetingId, userId })
      return rows[0]
    },

    async participant(accountId: string, meetingId: string, participantId: string, tx?: Executor) {
      const [row] = tx
        ? await tx
            .select()
            .from(participants)
            .where(and(eq(participants.accountId, accountId), eq(participants.id, participantId)))
        : await participantById.execute({ accountId, participantId })
      return row?.meetingId === meetingId ? row : undefined
    },

    /**
     * The user's participant row (made on a first join, reused on a rejoin) with their stay or their
     * place in the waiting room, written with the joins that arrived with it; undefined when the
     * meeting is not live or the user is already present or waiting. The caller chains the audit event.
     */
    joinUser(input: UserJoin): Promise<ParticipantRow | undefined> {
      return userBatcher.run(input)
    },

    /** The guest an earlier run of a join with this request key made. */
    async participantByRequestKey(accountId: string, requestKey: string): Promise<ParticipantRow | undefined> {
      return (await participantByRequestKey.execute({ accountId, requestKey }))[0]
    },

    /**
     * The guest's participant row, written with the joins that arrived with it (group commit);
     * undefined when the meeting is not live, or when a join with the same request key ran before
     * (a retry). The caller chains the audit event.
     */
    joinGuest(input: GuestJoin): Promise<ParticipantRow | undefined> {
      return guestBatcher.run(input)
    },

    /** False when the participant already has an open stay (the partial unique index decides). */
    async openStay(tx: Executor, row: typeof presenceIntervals.$inferInsert): Promise<boolean> {
      const inserted = await tx.insert(presenceIntervals).values(row).onConflictDoNothing().returning({ id: presenceIntervals.id })
      return inserted.length > 0
    },

    /** Takes a participant out of the waiting room (admitted, or gone); false when they were not waiting. */
    async stopWaiting(tx: Executor, accountId: string, participantId: string): Promise<boolean> {
      const rows = await tx
        .update(participants)
        .set({ waitingSince: null })
        .where(and(eq(participants.accountId, accountId), eq(participants.id, participantId), isNotNull(participants.waitingSince)))
        .returning({ id: participants.id })
      return rows.length > 0
    },

    /** Empties the meeting's waiting room (the meeting ended). */
    async clearWaiting(tx: Executor, accountId: string, meetingId: string): Promise<number> {
      const rows = await tx
        .update(participants)
        .set({ waitingSince: null })
        .where(and(eq(participants.accountId, accountId), eq(participants.meetingId, meetingId), isNotNull(participants.waitingSince)))
        .returning({ id: participants.id })
      return rows.length
    },

    async setRole(tx: Executor, accountId: string, participantId: string, role: ParticipantRow['role']): Promise<void> {
      await tx
        .update(participants)
        .set({ role })
        .where(and(eq(participants.accountId, accountId), eq(participants.id, participantId)))
    },

    /** Closes the participant's open stay; false when there is none. */
    async closeStay(tx: Executor, accountId: string, participantId: string, at: Date): Promise<boolean> {
      const closed = await tx
        .update(presenceIntervals)
        .set({ leftAt: at })
        .where(and(eq(presenceIntervals.accountId, accountId), eq(presenceIntervals.participantId, participantId), isNull(presenceIntervals.leftAt)))
        .returning({ id: presenceIntervals.id })
      return closed.length > 0
    },

    async closeAllStays(tx: Executor, accountId: string, meetingId: string, at: Date): Promise<number> {
      const closed = await tx
        .update(presenceIntervals)
        .set({ leftAt: at })
        .where(and(eq(presenceIntervals.accountId, accountId), eq(presenceIntervals.meetingId, meetingId), isNull(presenceIntervals.leftAt)))
        .returning({ id: presenceIntervals.id })
      return closed.length
    },

    /** Every participant of the meeting with their display name. */
    participantsOf(accountId: string, meetingId: string) {
      return db
        .select({ participant: participants, displayName: participantDisplayName })
        .from(participants)
        .leftJoin(users, and(eq(users.accountId, participants.accountId), eq(users.id, participants.userId)))
        .where(and(eq(participants.accountId, accountId), eq(participants.meetingId, meetingId)))
        .orderBy(asc(participants.id))
    },

    /** A page of participants with their display name; `only` reads one participant. */
    participantsPage(accountId: string, meetingId: string, afterId: string | undefined, limit: number, only?: string) {
      return db
        .select({ participant: participants, displayName: participantDisplayName })
        .from(participants)
        .leftJoin(users, and(eq(users.accountId, participants.accountId), eq(users.id, participants.userId)))
        .where(
          and(
            eq(participants.accountId, accountId),
            eq(participants.meetingId, meetingId),
            afterId ? gt(participants.id, afterId) : undefined,
            only ? eq(participants.id, only) : undefined,
          ),
        )
        .orderBy(asc(participants.id))
        .limit(limit)
    },

    stays(accountId: string, participantIds: string[]): Promise<PresenceRow[]> {
      if (participantIds.length === 0) return Promise.resolve([])
      return db
        .select()
        .from(presenceIntervals)
        .where(and(eq(presenceIntervals.accountId, accountId), inArray(presenceIntervals.participantId, participantIds)))
        .orderBy(asc(presenceIntervals.joinedAt))
    },
  }
}

export type MeetingsRepository = ReturnType<typeof createMeetingsRepository>
