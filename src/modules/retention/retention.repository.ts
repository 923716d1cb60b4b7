import { type SQL, sql } from 'drizzle-orm'
import { type Db, type Executor, pgArray, rowsOf } from '../../../db/client.js'
import { RETENTION_BOUNDS, type DataCategory } from './retention.catalog.js'

// The purge's statements. Every column is qualified with its table's alias: an unqualified name
// inside a correlated subquery silently binds to the outer table.

/** An instant as a parameter both drivers send the same way. */
const ts = (at: Date) => sql`${at.toISOString()}::timestamptz`

/** A hold running at `asOf` (alias h). */
const activeHold = (asOf: Date) => sql`h.released_at is null and h.from_at <= ${ts(asOf)} and (h.until_at is null or h.until_at > ${ts(asOf)})`

/** Categories whose rows carry their own expiry (or a fixed period): one statement across accounts. */
export type SweptCategory = 'recordings' | 'transcripts' | 'attention_spans' | 'media_diagnostics' | 'idempotent_answers' | 'finished_jobs' | 'export_documents' | 'events' | 'webhook_deliveries'

interface Swept {
  table: SQL
  /** Rows past their period (alias x). */
  eligible: (asOf: Date) => SQL
  /** The rows a hold covers (aliases x and h); undefined: no hold applies. */
  heldBy?: SQL
  /** The key columns of a row, for the statement that applies the purge to the picked ones. */
  key: SQL
  match: SQL
  /** What the purge does to the picked rows (alias t, joined to picked as p by `match`). */
  apply: (asOf: Date) => SQL
  /** Extra columns the caller needs from a picked row. */
  extra?: SQL
  order: SQL
}

const participantOfSubject = (meetingColumn: SQL) =>
  sql`exists (select 1 from participants as hp where hp.account_id = x.account_id and hp.meeting_id = ${meetingColumn} and hp.user_id = h.subject_user_id)`

const SWEPT: Record<SweptCategory, Swept> = {
  recordings: {
    table: sql`recordings`,
    eligible: (asOf) => sql`x.status in ('pending', 'stored') and x.expires_at <= ${ts(asOf)}`,
    // A user's hold covers the recordings that captured them.
    heldBy: sql`h.meeting_id = x.meeting_id or exists (select 1 from participants as hp where hp.account_id = x.account_id and hp.meeting_id = x.meeting_id
      and hp.user_id = h.subject_user_id and x.captured_participant_ids @> jsonb_build_array(hp.id::text))`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: (asOf) => sql`update recordings as t set status = 'deleted', deleted_at = ${ts(asOf)}, storage_key = null from picked as p where`,
    extra: sql`, x.storage_key`,
    order: sql`x.expires_at`,
  },
  transcripts: {
    table: sql`transcripts`,
    eligible: (asOf) => sql`x.status = 'stored' and x.expires_at <= ${ts(asOf)}`,
    heldBy: sql`h.meeting_id = x.meeting_id or ${participantOfSubject(sql`x.meeting_id`)}`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: (asOf) => sql`update transcripts as t set status = 'deleted', deleted_at = ${ts(asOf)}, segments = '[]'::jsonb from picked as p where`,
    order: sql`x.expires_at`,
  },
  attention_spans: {
    table: sql`attention_spans`,
    eligible: (asOf) => sql`x.expires_at <= ${ts(asOf)}`,
    heldBy: sql`h.meeting_id = x.meeting_id or exists (select 1 from participants as hp where hp.account_id = x.account_id and hp.id = x.participant_id and hp.user_id = h.subject_user_id)`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: () => sql`delete from attention_spans as t using picked as p where`,
    order: sql`x.expires_at`,
  },
  media_diagnostics: {
    table: sql`media_diagnostics`,
    eligible: (asOf) => sql`x.expires_at <= ${ts(asOf)}`,
    heldBy: sql`h.meeting_id = x.meeting_id or h.subject_user_id = x.user_id`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: () => sql`delete from media_diagnostics as t using picked as p where`,
    order: sql`x.expires_at`,
  },
  idempotent_answers: {
    table: sql`idempotency_keys`,
    eligible: (asOf) => sql`x.created_at <= ${ts(asOf)} - interval '24 hours'`,
    key: sql`x.account_id, x.subject, x.key as id`,
    match: sql`t.account_id = p.account_id and t.subject = p.subject and t.key = p.id`,
    apply: () => sql`delete from idempotency_keys as t using picked as p where`,
    order: sql`x.created_at`,
  },
  export_documents: {
    table: sql`privacy_exports`,
    eligible: (asOf) => sql`x.expires_at <= ${ts(asOf)}`,
    key: sql`x.account_id, x.request_id as id`,
    match: sql`t.account_id = p.account_id and t.request_id = p.id`,
    apply: () => sql`delete from privacy_exports as t using picked as p where`,
    order: sql`x.expires_at`,
  },
  events: {
    table: sql`events`,
    eligible: (asOf) => sql`x.cursor is not null and x.occurred_at <= ${ts(asOf)} - interval '30 days'`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: () => sql`delete from events as t using picked as p where`,
    order: sql`x.occurred_at`,
  },
  webhook_deliveries: {
    table: sql`webhook_deliveries`,
    eligible: (asOf) => sql`x.created_at <= ${ts(asOf)} - interval '30 days'`,
    key: sql`x.account_id, x.id`,
    match: sql`t.account_id = p.account_id and t.id = p.id`,
    apply: () => sql`delete from webhook_deliveries as t using picked as p where`,
    order: sql`x.created_at`,
  },
  finished_jobs: {
    table: sql`jobs`,
    eligible: (asOf) => sql`x.status in ('done', 'failed') and x.finished_at <= ${ts(asOf)} - interval '7 days'`,
    key: sql`x.account_id, x.id`,
    match: sql`t.id = p.id`,
    apply: () => sql`delete from jobs as t using picked as p where`,
    order: sql`x.finished_at`,
  },
}

export interface PickedRow {
  account_id: string | null
  id: string
  storage_key?: string | null
}

export interface WithheldRow {
  account_id: string
  hold_id: string
  n: number
}

/** Limits a statement to some accounts (alias x); all when undefined. */
const within = (accountIds: string[] | undefined, column = sql`x.account_id`) => (accountIds ? sql`and ${column} = any(${pgArray(accountIds)}::uuid[])` : sql``)

const notHeld = (swept: Pick<Swept, 'heldBy'>, asOf: Date) =>
  swept.heldBy ? sql`and not exists (select 1 from legal_holds as h where h.account_id = x.account_id and ${activeHold(asOf)} and (${swept.heldBy}))` : sql``

/** The account's period of a setting-driven category, in the account layer (default otherwise). */
const accountPeriod = (key: string) =>
  sql`coalesce((select (sv.value #>> '{}')::int from setting_values as sv where sv.account_id = a.id and sv.layer = 'account' and sv.scope_id = a.id and sv.key = ${key}), ${RETENTION_BOUNDS[key]!.default})`

/** Consent records no longer needed as proof (alias x), given the account's cutoff. */
const evidenceEligible = (accountId: string, cutoff: Date) => sql`x.account_id = ${accountId} and x.at <= ${ts(cutoff)} and (
    (x.meeting_id is not null
      and exists (select 1 from meetings as m where m.account_id = x.account_id and m.id = x.meeting_id and m.status in ('ended', 'cancelled'))
      and not exists (select 1 from recordings as r where r.account_id = x.account_id and r.meeting_id = x.meeting_id and r.status in ('pending', 'stored'))
      and not exists (select 1 from transcripts as tr where tr.account_id = x.account_id and tr.meeting_id = x.meeting_id and tr.status = 'stored'))
    or (x.meeting_id is null and exists (select 1 from consent_records as n where n.account_id = x.account_id and n.meeting_id is null
      and n.user_id = x.user_id and n.scope = x.scope and n.seq > x.seq)))`

const evidenceHeldBy = sql`h.meeting_id = x.meeting_id or h.subject_user_id = x.user_id
  or exists (select 1 from participants as hp where hp.account_id = x.account_id and hp.id = x.participant_id and hp.user_id = h.subject_user_id)`

const auditHeldBy = sql`x.target_id = h.subject_user_id::text or x.actor_id = h.subject_user_id::text
  or x.target_id = h.meeting_id::text or x.details ->> 'meetingId' = h.meeting_id::text`

export function createRetentionRepository(db: Db) {
  return {
    /** Picks up to `limit` expired, unheld rows no other purge holds (SKIP LOCKED), applies the purge to them, and answers them. */
    async sweep(tx: Executor, category: SweptCategory, asOf: Date, limit: number, accountIds?: string[]): Promise<PickedRow[]> {
      const s = SWEPT[category]
      return rowsOf<PickedRow>(
        await tx.execute(sql`with picked as (
            select ${s.key}${s.extra ?? sql``} from ${s.table} as x
            where ${s.eligible(asOf)} ${within(accountIds)} ${notHeld(s, asOf)}
            order by ${s.order}
            limit ${limit}
            for update of x skip locked),
          applied as (${s.apply(asOf)} ${s.match})
          select p.* from picked as p`),
      )
    },

    /** What a run would purge now, without locking or changing anything (dry runs). */
    async eligible(category: SweptCategory, asOf: Date, accountIds?: string[]): Promise<PickedRow[]> {
      const s = SWEPT[category]
      return rowsOf<PickedRow>(await db.execute(sql`select ${s.key} from ${s.table} as x where ${s.eligible(asOf)} ${within(accountIds)} ${notHeld(s, asOf)} order by ${s.order}`))
    },

    /** Expired rows a hold keeps, per account and hold. */
    async withheld(category: SweptCategory, asOf: Date, accountIds?: string[]): Promise<WithheldRow[]> {
      const s = SWEPT[category]
      if (!s.heldBy) return []
      return rowsOf<WithheldRow>(
        await db.execute(sql`select x.account_id, h.id as hold_id, count(*)::int as n from ${s.table} as x
          join legal_holds as h on h.account_id = x.account_id and ${activeHold(asOf)} and (${s.heldBy})
          where ${s.eligible(asOf)} ${within(accountIds)} group by x.account_id, h.id`),
      )
    },

    /** Every account with its audit and evidence periods. */
    async accountPeriods(accountIds?: string[]): Promise<{ id: string; audit_days: number; evidence_years: number }[]> {
      return rowsOf(
        await db.execute(sql`select a.id, ${accountPeriod('retention.audit_days')} as audit_days, ${accountPeriod('retention.evidence_years')} as evidence_years
          from accounts as a where true ${within(accountIds, sql`a.id`)} order by a.id`),
      )
    },

    /** The evidence-only exception of the append-only triggers, for this transaction: rows at or before `cutoff` may be deleted. */
    async allowPurgeBefore(tx: Executor, cutoff: Date) {
      await tx.execute(sql`select set_config('consentry.purge_before', ${cutoff.toISOString()}, true)`)
    },

    async sweepEvidence(tx: Executor, accountId: string, cutoff: Date, asOf: Date, limit: number): Promise<PickedRow[]> {
      return rowsOf<PickedRow>(
        await tx.execute(sql`with picked as (
            select x.account_id, x.id from consent_records as x
            where ${evidenceEligible(accountId, cutoff)} ${notHeld({ heldBy: evidenceHeldBy }, asOf)}
            order by x.seq limit ${limit}
            for update of x skip locked),
          applied as (delete from consent_records as t using picked as p where t.account_id = p.account_id and t.id = p.id)
          select p.* from picked as p`),
      )
    },

    async eligibleEvidence(accountId: string, cutoff: Date, asOf: Date): Promise<PickedRow[]> {
      return rowsOf<PickedRow>(
        await db.execute(sql`select x.account_id, x.id from consent_records as x where ${evidenceEligible(accountId, cutoff)} ${notHeld({ heldBy: evidenceHeldBy }, asOf)}`),
      )
    },

    async withheldEvidence(accountId: string, cutoff: Date, asOf: Date): Promise<WithheldRow[]> {
      return rowsOf<WithheldRow>(
        await db.execute(sql`select x.account_id, h.id as hold_id, count(*)::int as n from consent_records as x
          join legal_holds as h on h.account_id = x.account_id and ${activeHold(asOf)} and (${evidenceHeldBy})
          where ${evidenceEligible(accountId, cutoff)} group by x.account_id, h.id`),
      )
    },

    /**
     * The last audit entry that may go: every entry up to it is older than the cutoff and none is
     * held (the trail is cut only from its start), and it is not past the head: an entry written
     * behind the chain's back must not disappear under a signed checkpoint. Undefined when nothing may go.
     */
    async auditCut(accountId: string, cutoff: Date, asOf: Date, tx: Executor = db): Promise<{ first: number; cut: number } | undefined> {
      const [row] = rowsOf<{ first: string | number | null; keep: string | number | null; last: string | number | null }>(
        await tx.execute(sql`select
            (select min(x.seq) from audit_entries as x where x.account_id = ${accountId}) as first,
            least((select max(x.seq) from audit_entries as x where x.account_id = ${accountId}),
              (select h.seq from audit_heads as h where h.account_id = ${accountId})) as last,
            (select min(x.seq) from audit_entries as x where x.account_id = ${accountId} and (x.at > ${ts(cutoff)}
              or exists (select 1 from legal_holds as h where h.account_id = x.account_id and ${activeHold(asOf)} and (${auditHeldBy})))) as keep`),
      )
      if (!row || row.first === null) return undefined
      const first = Number(row.first)
      const cut = row.keep === null ? Number(row.last) : Number(row.keep) - 1
      return cut >= first ? { first, cut } : undefined
    },

    /** Old audit entries a hold keeps in the trail. */
    async withheldAudit(accountId: string, cutoff: Date, asOf: Date): Promise<WithheldRow[]> {
      return rowsOf<WithheldRow>(
        await db.execute(sql`select x.account_id, h.id as hold_id, count(*)::int as n from audit_entries as x
          join legal_holds as h on h.account_id = x.account_id and ${activeHold(asOf)} and (${auditHeldBy})
          where x.account_id = ${accountId} and x.at <= ${ts(cutoff)} group by x.account_id, h.id`),
      )
    },

    /** Locks the account's audit head unless another purge holds it (then: false, skip the account this run). */
    async lockAuditHead(tx: Executor, accountId: string): Promise<boolean> {
      return rowsOf(await tx.execute(sql`select h.account_id from audit_heads as h where h.account_id = ${accountId} for update skip locked`)).length > 0
    },

    async auditEntryAt(tx: Executor, accountId: string, seq: number): Promise<{ hash: string; at: Date } | undefined> {
      const [row] = rowsOf<{ hash: string; at: string | Date }>(await tx.execute(sql`select x.hash, x.at from audit_entries as x where x.account_id = ${accountId} and x.seq = ${seq}`))
      return row ? { hash: row.hash, at: new Date(row.at) } : undefined
    },

    async deleteAuditUpTo(tx: Executor, accountId: string, seq: number): Promise<number> {
      return rowsOf(await tx.execute(sql`delete from audit_entries as x where x.account_id = ${accountId} and x.seq <= ${seq} returning x.seq`)).length
    },

    async saveCheckpoint(tx: Executor, checkpoint: { accountId: string; seq: number; hash: string; at: Date; kid: string; signature: string }) {
      await tx.execute(sql`insert into audit_checkpoints (account_id, seq, hash, at, kid, signature)
        values (${checkpoint.accountId}, ${checkpoint.seq}, ${checkpoint.hash}, ${ts(checkpoint.at)}, ${checkpoint.kid}, ${checkpoint.signature})
        on conflict (account_id) do update set seq = excluded.seq, hash = excluded.hash, at = excluded.at, kid = excluded.kid, signature = excluded.signature`)
    },

    /** Which of these blob keys a recording row still points at. */
    async referencedKeys(keys: string[]): Promise<Set<string>> {
      if (keys.length === 0) return new Set()
      const rows = rowsOf<{ storage_key: string }>(await db.execute(sql`select r.storage_key from recordings as r where r.storage_key = any(${pgArray(keys)}::text[])`))
      return new Set(rows.map((row) => row.storage_key))
    },
  }
}

export type RetentionRepository = ReturnType<typeof createRetentionRepository>
export type { DataCategory }
