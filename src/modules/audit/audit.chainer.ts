import type { InTransaction } from '../../../db/client.js'
import { type AuditRepository, CHAIN_BATCH } from './audit.repository.js'

const SWEEP_MS = 5_000

/**
 * Chains pending audit events after their transaction commits. Callers of one account share
 * runs: a caller waits for a run that started after its commit, and runs never overlap, so a
 * busy account commits many events per chain transaction instead of one lock per change.
 * A failed run is logged, not thrown: the events are safe in audit_pending and the sweep chains
 * them (also those a stopped process left).
 */
export function createAuditChainer(audit: AuditRepository, onError: (error: unknown) => void) {
  const slots = new Map<string, { running: boolean; waiting: (() => void)[] }>()

  // A run chains what committed before it started; the callers it serves committed before that.
  // Only a full batch means more may be waiting (an empty run was a whole transaction per flush).
  async function drain(accountId: string) {
    while ((await audit.chain(accountId)) === CHAIN_BATCH) {
      // a full batch: there may be more
    }
  }

  async function pump(accountId: string, slot: { running: boolean; waiting: (() => void)[] }) {
    slot.running = true
    while (slot.waiting.length > 0) {
      const batch = slot.waiting
      slot.waiting = []
      try {
        await drain(accountId)
      } catch (error) {
        onError(error)
      }
      for (const done of batch) done()
    }
    slots.delete(accountId)
  }

  function flush(accountId: string): Promise<void> {
    return new Promise((resolve) => {
      let slot = slots.get(accountId)
      if (!slot) {
        slot = { running: false, waiting: [] }
        slots.set(accountId, slot)
      }
      slot.waiting.push(resolve)
      if (!slot.running) void pump(accountId, slot)
    })
  }

  const sweep = setInterval(() => {
    audit.accountsWithPending().then((accounts) => Promise.all(accounts.map(flush)), onError)
  }, SWEEP_MS)
  sweep.unref()

  return {
    flush,
    stop: () => clearInterval(sweep),
    /** A transaction runner whose transactions chain their audit events before they return. */
    wrap(inTransaction: InTransaction): InTransaction {
      return async (work) => {
        const accounts = new Set<string>()
        const result = await inTransaction((tx) => {
          audit.track(tx, accounts)
          return work(tx)
        })
        if (accounts.size > 0) await Promise.all([...accounts].map(flush))
        return result
      }
    },
  }
}

export type AuditChainer = ReturnType<typeof createAuditChainer>
