import { eq, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { accounts, consentGrants } from '../../../db/schema/index.js'
import { type ChainRow, chainRowsQuery, toChain } from '../settings/settings.repository.js'
import type { Chain } from '../settings/settings.resolve.js'
import type { DecisionScope, FactParticipant, FactRecord, FactStay, FactVersion, GateFacts } from './gate.decision.js'

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] }

// Everything the decision needs about one meeting and scope, in one statement: the meeting, its
// settings chain, participants (with the user's guardian consent), presence, the scope's consent
// records and the kind's notice versions. Columns are written out qualified by alias: drizzle renders a column object inside a
// `sql` template unqualified, which inside these subqueries would bind to the wrong table.
/** An instant as epoch milliseconds (a JSON number). */
const ms = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::bigint`)
const accountId = sql.placeholder('accountId')
const meetingId = sql.placeholder('meetingId')
const FACTS = {
  meeting: sql<Json<MeetingRef> | null>`(
    select json_build_object('accountId', m.account_id, 'id', m.id, 'hostUserId', m.host_user_id, 'status', m.status)
    from meetings m where m.account_id = ${accountId} and m.id = ${meetingId})`,
  // The host's settings chain with the meeting layer: the meeting's consent mode, resolved by the settings engine.
  chain: sql<ChainRow[]>`(
    select coalesce(json_agg(c), '[]'::json) from (${chainRowsQuery({
      accountId,
      userId: sql`(select m2.host_user_id from meetings m2 where m2.account_id = ${accountId} and m2.id = ${meetingId})`,
      meetingId,
    })}) c)`,
  // The per-participant lists are arrays of arrays with instants as epoch milliseconds: a third of
  // the bytes of keyed objects with timestamp text, and no date parsing (measured by the bench).
  participants: sql<[string, string | null, boolean, number | null][]>`(
    select coalesce(json_agg(json_build_array(p.id, p.user_id, p.is_minor, ${ms('u.guardian_consent_at')})), '[]'::json)
    from participants p left join users u on u.account_id = p.account_id and u.id = p.user_id
    where p.account_id = ${accountId} and p.meeting_id = ${meetingId})`,
  stays: sql<[string, number, number | null][]>`(
    select coalesce(json_agg(json_build_array(s.participant_id, ${ms('s.joined_at')}, ${ms('s.left_at')})), '[]'::json)
    from presence_intervals s
    where s.account_id = ${accountId} and s.meeting_id = ${meetingId})`,
  records: sql<[string, string, FactRecord['decision'], string, string | null, number][]>`(
    select coalesce(json_agg(json_build_array(r.id, r.participant_id, r.decision, r.method, r.notice_version_id, ${ms('r.at')}) order by r.at, r.seq), '[]'::json)
    from consent_records r
    where r.account_id = ${accountId} and r.meeting_id = ${meetingId}
      and r.scope = ${sql.placeholder('scope')} and r.participant_id is not null)`,
  versions: sql<Json<FactVersion>[]>`(
    select coalesce(json_agg(json_build_object('id', v.id, 'noticeId', v.notice_id, 'version', v.version,
      'requiresReconsent', v.requires_reconsent, 'publishedAt', v.published_at) order by v.published_at), '[]'::json)
    from notice_versions v
    where v.account_id = ${accountId} and v.kind = ${sql.placeholder('scope')})`,
}

const date = (value: string) => new Date(value)

/** The meeting as the gate needs it: whose chain, and whether it exists at all. */
export interface MeetingRef {
  accountId: string
  id: string
  hostUserId: string
  status: string
}

export type LoadedFacts = GateFacts & { meeting: MeetingRef | null; chain: Chain }

function toFacts(row: { [K in keyof typeof FACTS]: unknown }): LoadedFacts {
  const r = row as {
    meeting: MeetingRef | null
    chain: ChainRow[]
    participants: [string, string | null, boolean, number | null][]
    stays: [string, number, number | null][]
    records: [string, string, FactRecord['decision'], string, string | null, number][]
    versions: Json<FactVersion>[]
  }
  return {
    meeting: r.meeting,
    chain: toChain(r.chain),
    participants: r.participants.map(([id, userId, isMinor, guardian]) => ({ id, userId, isMinor, guardianConsentAt: guardian === null ? null : new Date(guardian) })),
    stays: r.stays.map(([participantId, joined, left]) => ({ participantId, joinedAt: new Date(joined), leftAt: left === null ? null : new Date(left) })),
    records: r.records.map(([id, participantId, decision, method, noticeVersionId, at]) => ({ id, participantId, decision, method, noticeVersionId, at: new Date(at) })),
    versions: r.versions.map((v) => ({ ...v, publishedAt: date(v.publishedAt) })),
  }
}

export function createGateRepository(db: Db) {
  const facts = db.select(FACTS).from(accounts).where(eq(accounts.id, sql.placeholder('accountId'))).prepare('gate_facts')

  return {
    /** One round trip; inside a store's transaction it reads what committed before it. */
    async facts(accountId: string, meetingId: string, scope: DecisionScope, tx?: Executor): Promise<LoadedFacts> {
      // A transaction prepares the same statement on its own connection (postgres.js caches it there).
      const statement = tx ? tx.select(FACTS).from(accounts).where(eq(accounts.id, sql.placeholder('accountId'))).prepare('gate_facts') : facts
      const rows = await statement.execute({ accountId, meetingId, scope })
      return toFacts(rows[0]!)
    },

    async insertGrant(tx: Executor, row: typeof consentGrants.$inferInsert) {
      await tx.insert(consentGrants).values(row)
    },
  }
}

export type GateRepository = ReturnType<typeof createGateRepository>
