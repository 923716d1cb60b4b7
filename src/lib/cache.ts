import type { Executor, InTransaction } from '../../db/client.js'

// Per-request lookups served from memory (a token's user, settings chains), kept true across
// processes. Every write that changes what they hold is announced by a database trigger on
// the `consentry_cache` channel (migration 0011), which every process LISTENs to; the process that
// made the write also drops the entries itself when its transaction commits, so the change binds
// there at once and in every other process as soon as the notification arrives. Whenever the
// listening connection is lost, notifications sent meanwhile are gone: every cache is dropped
// whole and nothing is cached until the listener is back, so a missed message never leaves a
// stale answer. The consent state is never cached: the gate reads it inside its transaction.

export const CACHE_CHANNEL = 'consentry_cache'

/** What a write changed: an account's everything, or one user's, or one meeting's entries. */
export interface Invalidation {
  accountId: string
  userId?: string
  meetingId?: string
}

/** The trigger's payload: `a:<account>`, `u:<account>:<user>` or `m:<account>:<meeting>`. */
export function decodeInvalidation(payload: string): Invalidation | undefined {
  const [kind, accountId, id] = payload.split(':')
  if (!accountId) return undefined
  if (kind === 'a') return { accountId }
  if (kind === 'u' && id) return { accountId, userId: id }
  if (kind === 'm' && id) return { accountId, meetingId: id }
  return undefined
}

interface Entry<V> {
  value: V
  tags: Invalidation
}

/** A bounded map whose entries are tagged with the account, user and meeting they depend on. */
export class ScopedCache<V> {
  private readonly entries = new Map<string, Entry<V>>()
  private readonly byAccount = new Map<string, Set<string>>()

  constructor(
    private readonly bus: CacheBus,
    private readonly max: number,
  ) {
    bus.register(this)
  }

  get size() {
    return this.entries.size
  }

  /**
   * The cached value, or the loader's, kept only if no invalidation happened while it loaded (a
   * write that committed meanwhile must not be overwritten by what was read before it).
   */
  async load(key: string, tags: Invalidation, loader: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key)
    if (hit) return hit.value
    const epoch = this.bus.epoch
    const value = await loader()
    if (this.bus.usable && this.bus.epoch === epoch && value !== undefined) this.set(key, tags, value)
    return value
  }

  private set(key: string, tags: Invalidation, value: V) {
    if (this.entries.size >= this.max) {
      // The oldest entry goes: insertion order is Map order.
      const oldest = this.entries.keys().next().value as string
      this.remove(oldest)
    }
    this.entries.set(key, { value, tags })
    let keys = this.byAccount.get(tags.accountId)
    if (!keys) this.byAccount.set(tags.accountId, (keys = new Set()))
    keys.add(key)
  }

  private remove(key: string) {
    const entry = this.entries.get(key)
    if (!entry) return
    this.entries.delete(key)
    const keys = this.byAccount.get(entry.tags.accountId)
    keys?.delete(key)
    if (keys?.size === 0) this.byAccount.delete(entry.tags.accountId)
  }

  invalidate(change: Invalidation) {
    const keys = this.byAccount.get(change.accountId)
    if (!keys) return
    for (const key of [...keys]) {
      const tags = this.entries.get(key)!.tags
      const accountWide = change.userId === undefined && change.meetingId === undefined
      if (accountWide || (change.userId !== undefined && tags.userId === change.userId) || (change.meetingId !== undefined && tags.meetingId === change.meetingId)) {
        this.remove(key)
      }
    }
  }

  clear() {
    this.entries.clear()
    this.byAccount.clear()
  }
}

/** The caches of one process and what keeps them true. */
export class CacheBus {
  /** Moves on every invalidation, so a load that raced one does not store its stale value. */
  epoch = 0
  /** False while the listener is down: nothing is cached, every lookup reads the database. */
  usable = false
  private readonly caches = new Set<{ invalidate(change: Invalidation): void; clear(): void }>()
  private readonly pending = new WeakMap<Executor, Invalidation[]>()

  register(cache: { invalidate(change: Invalidation): void; clear(): void }) {
    this.caches.add(cache)
  }

  invalidate(change: Invalidation) {
    this.epoch++
    for (const cache of this.caches) cache.invalidate(change)
  }

  /** The listener reconnected (usable) or was lost: either way, what was cached may be stale. */
  reset(usable: boolean) {
    this.epoch++
    this.usable = usable
    for (const cache of this.caches) cache.clear()
  }

  /** A write through `executor` changed `change`: dropped when its transaction commits (now, outside one). */
  touch(executor: Executor, change: Invalidation) {
    const list = this.pending.get(executor)
    if (list) list.push(change)
    else this.invalidate(change)
  }

  /** A transaction runner whose commits drop the entries their writes changed, before they return. */
  wrap(inTransaction: InTransaction): InTransaction {
    return async (work) => {
      const changes: Invalidation[] = []
      try {
        return await inTransaction((tx) => {
          this.pending.set(tx, changes)
          return work(tx)
        })
      } finally {
        // Also after a failure: a commit whose answer was lost may still have happened.
        for (const change of changes) this.invalidate(change)
      }
    }
  }
}
