import type { InTransaction } from '../../../db/client.js'
import { DomainError } from '../../lib/errors.js'
import type { AuditRepository } from './audit.repository.js'

const SWEEP_MS = 5_000
/** How long a hot write's run waits for company: under load, one run per account per this. */
const SOON_MS = 20

/**
 * Chains pending audit events after their transaction commits. Callers of one account share
 * runs: a caller of `flush` waits for a run that started after its commit (`soon` starts one and
 * does not wait), and runs never overlap, so a busy account commits many events per chain
 * transaction instead of one lock per change.
 * A failed run is logged, not thrown to the writers: their events are safe in audit_pending and
 * the sweep chains them (also those a stopped process left). A reader that must see every event
 * (a page of the trail, a privacy export) calls `current`, which throws instead.
 */
export function createAuditChainer(audit: AuditRepository, onError: (error: unknown) => void) {
  const slots = new Map<string, Slot>()
  const pumping = new Set<Promise<void>>()
  const soonTimers = new Map<string, NodeJS.Timeout>()
  let sweeping: Promise<unknown> | undefined
  let stopped = false

  async function pump(accountId: string, slot: Slot) {
    slot.running = true
    while (slot.waiting.length > 0) {
      const batch = slot.waiting
      slot.waiting = []
      let chained = true
      try {
        // A run chains what committed before it started; the callers it serves committed before that.
        await audit.chainAll(accountId)
      } catch (error) {
        onError(error)
        chained = false
      }
      for (const done of batch) done(chained)
    }
    slots.delete(accountId)
  }

  /** Resolves when a run that started after this call has finished: true if it chained everything pending. */
  function flush(accountId: string): Promise<boolean> {
    return new Promise((resolve) => {
      let slot = slots.get(accountId)
      if (!slot) {
        slot = { running: false, waiting: [] }
        slots.set(accountId, slot)
      }
      slot.waiting.push(resolve)
      if (!slot.running) {
        const run = pump(accountId, slot)
        pumping.add(run)
        void run.finally(() => pumping.delete(run))
      }
    })
  }

  const sweep = setInterval(() => {
    if (sweeping) return
    sweeping = audit
      .accountsWithPending()
      .then((accounts) => Promise.all(accounts.map(flush)), onError)
      .finally(() => {
        sweeping = undefined
      })
  }, SWEEP_MS)
  sweep.unref()

  return {
    flush,
    /**
     * Brings the account's trail up to date, or throws 503 `audit_unavailable`: a reader that
     * went on after a failed run would serve a trail without the events still pending.
     */
    async current(accountId: string): Promise<void> {
      if (!(await flush(accountId))) throw new AuditUnavailableError()
    },
    /**
     * Starts a run within SOON_MS for events that already committed, without waiting for it: the
     * hot writes (a join, a consent) answer once their own statement commits, and the writes of
     * those milliseconds share one run. Their events are safe in audit_pending meanwhile, and
     * every reader of the trail (its page, its verification, a privacy export) flushes first.
     */
    soon(accountId: string): void {
      // Once stopped, the events stay pending for the sweep of the next start.
      if (stopped || soonTimers.has(accountId)) return
      const timer = setTimeout(() => {
        soonTimers.delete(accountId)
        void flush(accountId)
      }, SOON_MS)
      timer.unref()
      soonTimers.set(accountId, timer)
    },
    /** Stops the sweep and waits for the runs under way (a run the hot writes started may still be going). */
    async stop() {
      stopped = true
      clearInterval(sweep)
      await sweeping
      for (const [accountId, timer] of soonTimers) {
        clearTimeout(timer)
        soonTimers.delete(accountId)
        void flush(accountId)
      }
      while (pumping.size > 0) await Promise.all([...pumping])
    },
    /**
     * A transaction runner whose transactions wait for a run that chains their audit events
     * before they return; a failed run is logged and leaves the events pending, the change stands.
     */
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

interface Slot {
  running: boolean
  /** The callers waiting for the next run, told whether it chained everything pending. */
  waiting: ((chained: boolean) => void)[]
}

/**
 * The trail could not be brought up to date: its chaining run failed. A passing fault (the
 * database) clears by itself; one that does not (an entry written past the head) is in the
 * service's log, and needs an operator.
 */
export class AuditUnavailableError extends DomainError {
  constructor() {
    super(503, 'audit_unavailable', 'The audit trail could not be brought up to date; retry after the pause in Retry-After')
  }
}

export type AuditChainer = ReturnType<typeof createAuditChainer>
