import { and, asc, eq, gt, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../../db/client.js'
import { auditEntries, auditHeads } from '../../../db/schema/index.js'
import { newId } from '../../lib/ids.js'
import type { Principal } from '../../lib/access.js'
import { canonicalJson } from '../../lib/canonical-json.js'
import { type ChainedFields, entryHash, GENESIS_HASH } from './audit.chain.js'

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

export function createAuditRepository(db: Db) {
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
     * Appends one entry inside the caller's transaction. Locking the account's head row orders
     * concurrent writers, so the chain never forks; the entry commits or rolls back with the change.
     */
    async append(tx: Executor, accountId: string, event: AuditEvent, at: Date): Promise<AuditEntryRow> {
      const [head] = await tx.select().from(auditHeads).where(eq(auditHeads.accountId, accountId)).for('update')
      if (!head) throw new Error(`audit chain of account ${accountId} was never started`)
      const fields: ChainedFields = {
        accountId,
        seq: head.seq + 1,
        id: newId(at.getTime()),
        at,
        actorType: event.actor.type,
        actorId: event.actor.id,
        action: event.action,
        targetType: event.targetType,
        targetId: event.targetId,
        details: event.details ?? {},
      }
      const hash = entryHash(head.hash, fields)
      await tx.update(auditHeads).set({ seq: fields.seq, hash }).where(eq(auditHeads.accountId, accountId))
      const [row] = await tx
        .insert(auditEntries)
        .values({ ...fields, prevHash: head.hash, hash })
        .returning()
      return row!
    },

    page(accountId: string, afterSeq: number, limit: number): Promise<AuditEntryRow[]> {
      return byPage.execute({ accountId, after: afterSeq, limit })
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
