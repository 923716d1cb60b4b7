import { EventEmitter } from 'node:events'
import type { EventsRepository } from './events.repository.js'

/**
 * Stamps committed events with their cursor (commit order) and queues their webhook deliveries,
 * every `pollMs`; streams in this process wake at once, other processes' through NOTIFY (the
 * caller wires the listener to `wake`). The hot transactions write their outbox row and nothing
 * more: no NOTIFY inside them (PostgreSQL serialises the commits of notifying transactions).
 */
export function createEventRelay(repository: EventsRepository, options: { pollMs?: number; maxAttempts: number; notify: (cursor: number) => Promise<void>; onStamped?: () => void; onError: (error: unknown) => void }) {
  const stamped = new EventEmitter()
  stamped.setMaxListeners(0)
  const pollMs = options.pollMs ?? 100
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  let stopped = true

  /**
   * One pass; answers the highest cursor stamped (0: none). Streams and deliveries hear of each
   * batch as it commits: under a steady load the pass goes on while events keep arriving, and
   * waiting for its end held every event of it back (a withdrawal's p99 on a stream beside a
   * consent load grew threefold once that load ran faster).
   */
  async function stampOnce(): Promise<number> {
    let top = 0
    for (;;) {
      const batch = await repository.stamp(500, options.maxAttempts)
      if (batch === 0) break
      top = batch
      stamped.emit('stamped', top)
      // Deliveries were just queued: the job runner takes them now, not at its next poll.
      options.onStamped?.()
      await options.notify(top)
    }
    return top
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      running = stampOnce()
        .catch(options.onError)
        .finally(() => {
          running = undefined
          schedule()
        })
    }, pollMs)
    timer.unref()
  }

  return {
    stampOnce,
    /** Another process stamped events up to `cursor`. */
    wake: (cursor: number) => stamped.emit('stamped', cursor),
    /** Resolves at the next stamp (in any process) or after `ms`. */
    next(ms: number, signal?: AbortSignal): Promise<void> {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timeout)
          stamped.off('stamped', done)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        const timeout = setTimeout(done, ms)
        stamped.once('stamped', done)
        signal?.addEventListener('abort', done)
      })
    },
    start() {
      stopped = false
      schedule()
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}

export type EventRelay = ReturnType<typeof createEventRelay>
