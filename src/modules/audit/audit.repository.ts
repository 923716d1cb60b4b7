import { and, asc, eq, gt, type SQL, sql } from 'drizzle-orm'
import { type Db, type Executor, rowsOf } from '../../../db/client.js'
import { auditCheckpoints, auditEntries, auditHeads, auditPending } from '../../../db/schema/index.js'
import { canonicalJson } from '../../lib/canonical-json.js'
import { newId } from '../../lib/ids.js'
import type { Principal } from '../../lib/access.js'
import { type AuditCheckpoint, type ChainedFields, entryHash, GENESIS_HASH } from './audit.chain.js'

export type AuditEntryRow = typeof auditEntries.$inferSelect

export interface AuditActor {
  type: 'user' | 'platform' | 'system'
  id: string
}

export interface AuditEvent {
  actor: AuditActor
  action: string
  targetType: string
  targetId: string
  /** Names of changed fields, ids, states: never personal values. */
  details?: Record<string, unknown>
}

const CHAIN_BATCH = 500

export function createAuditRepository(db: Db) {
  const touched = new WeakMap<Executor, Set<string>>()

  const byPage = db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.accountId, sql.placeholder('accountId')), gt(auditEntries.seq, sql.placeholder('after'))))
    .orderBy(asc(auditEntries.seq))
    .limit(sql.placeholder('limit'))
    .prepare('audit_page')

  return {
    /** Starts an account's chain; runs in the transaction that creates the account. */
    async startChain(tx: Executor, accountId: string) {
      await tx.insert(auditHeads).values({ accountId, seq: 0, hash: GENESIS_HASH })
    },

    /**
     * Records an event inside the caller's transaction: it commits or rolls back with the change.
     * It joins the hash chain when the transaction runner calls `chain` after the commit.
     */
    async append(tx: Executor, accountId: string, event: AuditEvent, at: Date): Promise<void> {
      await tx.insert(auditPending).values({
        accountId,
        id: newId(at.getTime()),
        at,
        actorType: event.actor.type,
        actorId: event.actor.id,
        action: event.action,
        targetType: event.targetType,
        targetId: event.targetId,
        details: event.details ?? {},
      })
      touched.get(tx)?.add(accountId)
    },

    /**
     * The statement that records one pending event per row of `source` (a CTE of the caller's
     * statement), for a change written in a single statement: the event commits with it, and the
     * caller chains the account afterwards. `fields` are SQL over the source's columns.
     */
    pendingFrom(source: SQL, fields: { accountId: SQL; id: SQL; at: SQL; actorType: SQL; actorId: SQL; action: string | SQL; targetType: string; targetId: SQL; details: SQL }): SQL {
      return sql`insert into audit_pending (account_id, id, at, actor_type, actor_id, action, target_type, target_id, details)
        select ${fields.accountId}, ${fields.id}, ${fields.at}, ${fields.actorType}, ${fields.actorId}, ${fields.action}::text, ${fields.targetType}::text, ${fields.targetId}, ${fields.details}
        from ${source}`
    },

    /** The accounts a transaction appended events to are collected into `accounts`. */
    track(tx: Executor, accounts: Set<string>) {
      touched.set(tx, accounts)
    },

    /**
     * Moves up to `batch` pending events of the account into the chain, in one transaction under
     * the head's row lock (writers of other processes wait; none forks the chain). Answers how
     * many it chained.
     */
    async chain(accountId: string, batch = CHAIN_BATCH): Promise<number> {
      return db.transaction(async (tx) => {
        // This commit need not wait for the disk: if a crash loses it, the delete of the pending
        // rows is lost with it, and the sweep chains them again from audit_pending.
        const [head] = rowsOf<{ seq: string | number; hash: string }>(
          await tx.execute(sql`select h.seq, h.hash, set_config('synchronous_commit', 'off', true) from audit_heads h where h.account_id = ${accountId} for update`),
        )
        if (!head) throw new Error(`audit chain of account ${accountId} was never started`)
        const pending = await tx.select().from(auditPending).where(eq(auditPending.accountId, accountId)).orderBy(asc(auditPending.seq)).limit(batch)
        if (pending.length === 0) return 0
        let seq = Number(head.seq)
        let hash = head.hash
        const links = pending.map((event) => {
          const fields: ChainedFields = {
            accountId,
            seq: ++seq,
            id: event.id,
            at: event.at,
            actorType: event.actorType,
            actorId: event.actorId,
            action: event.action,
            targetType: event.targetType,
            targetId: event.targetId,
            details: event.details,
          }
          const prevHash = hash
          hash = entryHash(prevHash, fields)
          return { pending_seq: event.seq, seq: fields.seq, prev_hash: prevHash, hash }
        })
        // The events move from audit_pending into the chain with their links, and the head moves,
        // in one statement: only the links travel (a batch of entries as parameters was most of a
        // busy account's chaining cost).
        await tx.execute(sql`with link as (select * from json_to_recordset(${JSON.stringify(links)}::json) as l(pending_seq bigint, seq bigint, prev_hash text, hash text)),
          moved as (delete from audit_pending as p using link as l where p.account_id = ${accountId} and p.seq = l.pending_seq
            returning p.account_id, l.seq, p.id, p.at, p.actor_type, p.actor_id, p.action, p.target_type, p.target_id, p.details, l.prev_hash, l.hash),
          entered as (insert into audit_entries (account_id, seq, id, at, actor_type, actor_id, action, target_type, target_id, details, prev_hash, hash)
            select * from moved)
          update audit_heads set seq = ${seq}, hash = ${hash} where account_id = ${accountId}`)
        return pending.length
      })
    },

    /**
     * Chains everything of the account that committed before the call: batches until one comes
     * back short (only a full batch means more may be waiting).
     */
    async chainAll(accountId: string): Promise<void> {
      while ((await this.chain(accountId)) === CHAIN_BATCH) {
        // a full batch: there may be more
      }
    },

    /** Accounts with events waiting (what a stopped process left behind). */
    async accountsWithPending(): Promise<string[]> {
      const rows = await db.selectDistinct({ accountId: auditPending.accountId }).from(auditPending)
      return rows.map((row) => row.accountId)
    },

    page(accountId: string, afterSeq: number, limit: number): Promise<AuditEntryRow[]> {
      return byPage.execute({ accountId, after: afterSeq, limit })
    },

    async checkpoint(accountId: string): Promise<AuditCheckpoint | undefined> {
      const [row] = await db.select().from(auditCheckpoints).where(eq(auditCheckpoints.accountId, accountId))
      return row
    },

    head(accountId: string) {
      return db.select().from(auditHeads).where(eq(auditHeads.accountId, accountId)).then((rows) => rows[0])
    },
  }
}

export type AuditRepository = ReturnType<typeof createAuditRepository>

export function auditActor(principal: Principal): AuditActor {
  return { type: principal.roles.includes('platform') ? 'platform' : 'user', id: principal.subject }
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: 'consentry' }

/** Names of the fields whose values differ: what an audit entry may say about a change. */
export function changedFields<T extends object>(before: T, changes: Partial<T>): string[] {
  return Object.keys(changes).filter((key) => {
    const next = changes[key as keyof T]
    return next !== undefined && canonicalJson(next) !== canonicalJson(before[key as keyof T])
  })
}
