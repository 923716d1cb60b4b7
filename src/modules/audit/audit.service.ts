import { type Principal, requireAccountRole } from '../../lib/access.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import type { KeyObject } from 'node:crypto'
import { checkpointValid, entryHash, GENESIS_HASH } from './audit.chain.js'
import type { AuditChainer } from './audit.chainer.js'
import type { AuditEntryRow, AuditRepository } from './audit.repository.js'

const VERIFY_BATCH = 1000

export function toAuditEntry(row: AuditEntryRow) {
  return {
    id: row.id,
    seq: row.seq,
    at: row.at.toISOString(),
    actor: { type: row.actorType, id: row.actorId },
    action: row.action,
    target: { type: row.targetType, id: row.targetId },
    details: row.details,
    prevHash: row.prevHash,
    hash: row.hash,
  }
}

export function createAuditService(audit: AuditRepository, chainer: AuditChainer, receiptKeys: ReadonlyMap<string, { privateKey: KeyObject }>) {
  return {
    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      await chainer.current(accountId)
      const after = Number(decodeCursor(query.cursor, 'seq') ?? 0)
      const rows = await audit.page(accountId, after, query.limit + 1)
      return toPage(rows, query.limit, (row) => String(row.seq), toAuditEntry)
    },

    /**
     * Recomputes the chain from its start (the genesis, or the signed checkpoint the purge left):
     * an edited, removed or reordered entry breaks it. It checks what is chained even when the
     * run before it failed: an entry forged past the head stops every run, and verify must say so.
     */
    async verify(principal: Principal, accountId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      await chainer.flush(accountId)
      const head = await audit.head(accountId)
      // A trail the purge shortened starts at its signed checkpoint, not at the genesis hash.
      const checkpoint = await audit.checkpoint(accountId)
      if (checkpoint && !checkpointValid(receiptKeys, checkpoint)) {
        return { valid: false, entriesChecked: 0, firstInvalidSeq: checkpoint.seq, headSeq: head?.seq ?? 0, checkpointSeq: checkpoint.seq }
      }
      const checkpointSeq = checkpoint?.seq ?? null
      let prevHash = checkpoint?.hash ?? GENESIS_HASH
      let expectedSeq = (checkpoint?.seq ?? 0) + 1
      let checked = 0
      for (;;) {
        const rows = await audit.page(accountId, expectedSeq - 1, VERIFY_BATCH)
        for (const row of rows) {
          checked++
          if (row.seq !== expectedSeq || row.prevHash !== prevHash || entryHash(prevHash, row) !== row.hash) {
            return { valid: false, entriesChecked: checked, firstInvalidSeq: Math.min(row.seq, expectedSeq), headSeq: head?.seq ?? 0, checkpointSeq }
          }
          prevHash = row.hash
          expectedSeq++
        }
        if (rows.length < VERIFY_BATCH) break
      }
      const headSeq = head?.seq ?? 0
      // Entries missing from the end show up as a head that points past the last entry; an entry
      // written past the head, as entries the head does not reach (the first of them is named).
      const tailIntact = headSeq === expectedSeq - 1 && (head?.hash ?? GENESIS_HASH) === prevHash
      return { valid: tailIntact, entriesChecked: checked, firstInvalidSeq: tailIntact ? null : Math.min(expectedSeq, headSeq + 1), headSeq, checkpointSeq }
    },
  }
}
