import { eq, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { accounts, consentGrants } from '../../../db/schema/index.js'
import { type ChainRow, chainRowsQuery, toChain } from '../settings/settings.repository.js'
import { accountLayerOf, type Chain, resolveValues } from '../settings/settings.resolve.js'
import type { DecisionScope, FactRecord, FactVersion, GateFacts, Span } from './gate.decision.js'

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] }

// Everything the decision needs about one meeting and scope, in one statement: the meeting, its
// settings chain, participants (with a minor's user's guardian consent), presence, the scope's
// consent records and the kind's notice versions. Columns are written out qualified by alias:
// drizzle renders a column object inside a `sql` template unqualified, which inside these
// subqueries would bind to the wrong table.
//
// Only the facts that can matter between `from` and `to` (the earliest and latest instant the
// decision looks at) are sent: stays that overlap them, and of the records each participant's
// last one at or before `from` (what stands when the window opens) and those inside. A long
// meeting whose participants answered many times moves what one window needs, not its history.
// (DISTINCT ON over the meeting's index measured as fast as reading every record for one record
// per participant; a per-participant lateral lookup took half as long again.)
//
// The three per-participant lists are the bulk of the answer (a 100-participant meeting: 300
// items): each is a JSON array of arrays, instants as epoch milliseconds, written by string
// concatenation. json_build_array costs PostgreSQL a type lookup per argument and row (a third
// more time for these lists, measured with pgbench), and a JSON text is still the cheapest for
// Node to parse. Every value is a uuid, a number, a boolean, a checked decision or a checked method
// word, so none needs escaping; anything else would fail JSON.parse rather than be misread.
/** An instant as epoch milliseconds. */
const ms = (column: string) => `(date_part('epoch', ${column}) * 1000)::bigint`
const jsonList = (item: string, order = '') => sql.raw(`coalesce('[' || string_agg(${item}, ','${order}) || ']', '[]')`)
const DEVICE_KEYS = ['permissions.camera', 'permissions.microphone'] as const
const DEVICE_KEYS_SQL = sql.raw(DEVICE_KEYS.map((key) => `'${key}'`).join(', '))
// The values reach the statement through subqueries, so no plan can be fitted to them and the
// server keeps one generic plan per connection after its five trial plans. With table statistics
// (any server that runs autovacuum) plans fitted to each request's values looked cheaper, and the
// statement, some thirty relations, was planned on every execution: 2.5 ms of PostgreSQL CPU per
// 100-participant decision, 0.8 ms with the one plan (npm run bench after an ANALYZE).
const opaque = (name: string, type: string) => sql`(select ${sql.placeholder(name)}::${sql.raw(type)})`
const accountId = opaque('accountId', 'uuid')
const meetingId = opaque('meetingId', 'uuid')
const scope = opaque('scope', 'text')
const from = opaque('from', 'timestamptz')
const to = opaque('to', 'timestamptz')
const RECORD_COLUMNS = sql.raw('r.id, r.participant_id, r.decision, r.method, r.notice_version_id, r.at, r.seq')
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
  // A guardian's consent counts for minors only: adults' users are not looked up (a join did look
  // them up, one index scan per participant, the account's users each time under a generic plan).
  participants: sql<string>`(
    select ${jsonList(`'["' || p.id || '",' || coalesce('"' || p.user_id || '"', 'null') || ',' || p.is_minor || ',' || coalesce(case when p.is_minor and p.user_id is not null then (select ${ms('u.guardian_consent_at')} from users u where u.account_id = p.account_id and u.id = p.user_id) end::text, 'null') || ']'`)}
    from participants p
    where p.account_id = ${accountId} and p.meeting_id = ${meetingId})`,
  stays: sql<string>`(
    select ${jsonList(`'["' || s.participant_id || '",' || ${ms('s.joined_at')} || ',' || coalesce(${ms('s.left_at')}::text, 'null') || ']'`, ' order by s.joined_at')}
    from presence_intervals s
    where s.account_id = ${accountId} and s.meeting_id = ${meetingId} and s.joined_at < ${to} and (s.left_at is null or s.left_at > ${from}))`,
  records: sql<string>`(
    select ${jsonList(`'["' || concat_ws('","', x.id, x.participant_id, x.decision, x.method) || '",' || coalesce('"' || x.notice_version_id || '"', 'null') || ',' || ${ms('x.at')} || ']'`, ' order by x.at, x.seq')}
    from (
      select ${RECORD_COLUMNS} from consent_records r
       where r.account_id = ${accountId} and r.meeting_id = ${meetingId} and r.scope = ${scope}
         and r.participant_id is not null and r.at > ${from} and r.at < ${to}
      union all
      (select distinct on (r.participant_id) ${RECORD_COLUMNS} from consent_records r
        where r.account_id = ${accountId} and r.meeting_id = ${meetingId} and r.scope = ${scope}
          and r.participant_id is not null and r.at <= ${from}
        order by r.participant_id, r.at desc, r.seq desc)) x)`,
  // Device permissions set for the participants' users below the account layer (their groups and
  // their own), so each participant's effective camera and microphone resolve like anyone's.
  permissions: sql<(ChainRow & { participant_id: string })[]>`(
    select coalesce(json_agg(x), '[]'::json) from (
      select p.id as participant_id, 'value' as row_kind, v.layer, v.scope_id, v.key, v.value, v.origin, null::text as kind,
             v.updated_by as by, v.updated_at as at, null::integer as rank
        from participants p
        join setting_values v on v.account_id = p.account_id and v.layer = 'user' and v.scope_id = p.user_id and v.key in (${DEVICE_KEYS_SQL})
       where p.account_id = ${accountId} and p.meeting_id = ${meetingId}
      union all
      select p.id, 'value', v.layer, v.scope_id, v.key, v.value, v.origin, null, v.updated_by, v.updated_at, g.rank
        from participants p
        join group_members gm on gm.account_id = p.account_id and gm.user_id = p.user_id
        join groups g on g.account_id = gm.account_id and g.id = gm.group_id
        join setting_values v on v.account_id = p.account_id and v.layer = 'group' and v.scope_id = gm.group_id and v.key in (${DEVICE_KEYS_SQL})
       where p.account_id = ${accountId} and p.meeting_id = ${meetingId}
      union all
      select p.id, 'lock', l.layer, l.scope_id, l.key, null, null, l.kind, l.locked_by, l.locked_at, g.rank
        from participants p
        join group_members gm on gm.account_id = p.account_id and gm.user_id = p.user_id
        join groups g on g.account_id = gm.account_id and g.id = gm.group_id
        join setting_locks l on l.account_id = p.account_id and l.layer = 'group' and l.scope_id = gm.group_id and l.key in (${DEVICE_KEYS_SQL})
       where p.account_id = ${accountId} and p.meeting_id = ${meetingId}) x)`,
  versions: sql<Json<FactVersion>[]>`(
    select coalesce(json_agg(json_build_object('id', v.id, 'noticeId', v.notice_id, 'version', v.version,
      'requiresReconsent', v.requires_reconsent, 'publishedAt', v.published_at) order by v.published_at), '[]'::json)
    from notice_versions v
    where v.account_id = ${accountId} and v.kind = ${scope})`,
}

const OF_ACCOUNT = eq(accounts.id, accountId)
const date = (value: string) => new Date(value)

/** The meeting as the gate needs it: whose chain, and whether it exists at all. */
export interface MeetingRef {
  accountId: string
  id: string
  hostUserId: string
  status: string
}

export type LoadedFacts = GateFacts & { meeting: MeetingRef | null; chain: Chain }

/**
 * Whether each participant's effective camera and microphone are both off (P-SET-2): the account
 * layer of the meeting's chain, under the participant's own groups and user layer. A guest has
 * only the account layer.
 */
function devicesOffOf(chain: Chain, rows: (ChainRow & { participant_id: string })[]): (participantId: string) => boolean {
  const account = accountLayerOf(chain)
  const off = (c: Chain) => Object.values(resolveValues(c, DEVICE_KEYS)).every((value) => value === false)
  const base = off(account)
  const own = new Map<string, ChainRow[]>()
  for (const row of rows) own.set(row.participant_id, [...(own.get(row.participant_id) ?? []), row])
  return (participantId) => {
    const rowsOfParticipant = own.get(participantId)
    if (!rowsOfParticipant) return base
    const mine = toChain(rowsOfParticipant)
    return off({ values: [...account.values, ...mine.values], locks: [...account.locks, ...mine.locks] })
  }
}

function toFacts(row: { [K in keyof typeof FACTS]: unknown }): LoadedFacts {
  const r = row as {
    meeting: MeetingRef | null
    chain: ChainRow[]
    participants: string
    stays: string
    records: string
    permissions: (ChainRow & { participant_id: string })[]
    versions: Json<FactVersion>[]
  }
  const participants = JSON.parse(r.participants) as [string, string | null, boolean, number | null][]
  const stays = JSON.parse(r.stays) as [string, number, number | null][]
  const records = JSON.parse(r.records) as [string, string, FactRecord['decision'], string, string | null, number][]
  const chain = toChain(r.chain)
  const devicesOff = devicesOffOf(chain, r.permissions)
  return {
    meeting: r.meeting,
    chain,
    participants: participants.map(([id, userId, isMinor, guardian]) => ({
      id,
      userId,
      isMinor,
      guardianConsentAt: guardian === null ? null : new Date(guardian),
      devicesOff: devicesOff(id),
    })),
    stays: stays.map(([participantId, joined, left]) => ({ participantId, joinedAt: new Date(joined), leftAt: left === null ? null : new Date(left) })),
    records: records.map(([id, participantId, decision, method, noticeVersionId, at]) => ({ id, participantId, decision, method, noticeVersionId, at: new Date(at) })),
    versions: r.versions.map((v) => ({ ...v, publishedAt: date(v.publishedAt) })),
  }
}

export function createGateRepository(db: Db) {
  const facts = db.select(FACTS).from(accounts).where(OF_ACCOUNT).prepare('gate_facts')

  return {
    /**
     * One round trip; inside a store's transaction it reads what committed before it. `within`:
     * the earliest and the latest instant the decision will look at.
     */
    async facts(accountId: string, meetingId: string, scope: DecisionScope, within: Span, tx?: Executor): Promise<LoadedFacts> {
      // A transaction prepares the same statement on its own connection (postgres.js caches it there).
      const statement = tx ? tx.select(FACTS).from(accounts).where(OF_ACCOUNT).prepare('gate_facts') : facts
      const rows = await statement.execute({ accountId, meetingId, scope, from: within.from.toISOString(), to: within.to.toISOString() })
      return toFacts(rows[0]!)
    },

    async insertGrant(tx: Executor, row: typeof consentGrants.$inferInsert) {
      await tx.insert(consentGrants).values(row)
    },
  }
}

export type GateRepository = ReturnType<typeof createGateRepository>
