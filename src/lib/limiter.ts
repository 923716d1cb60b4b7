/**
 * At most `max` holders at a time, the rest waiting in arrival order. Waiting and handing over
 * are O(1): postgres.js 3.4.9 slows down under sustained load whenever more queries wait than it
 * has connections (its queue's remove() scans from the front), so requests wait here instead.
 */
export function createLimiter(max: number) {
  let active = 0
  let queue: ((() => void) | undefined)[] = []
  let head = 0

  return {
    /** Undefined when a slot was free; otherwise a promise that resolves once one is handed over. */
    acquire(): Promise<void> | undefined {
      if (active < max) {
        active++
        return undefined
      }
      return new Promise<void>((resolve) => queue.push(resolve))
    },

    /** Hands the slot to the longest waiter, or frees it. */
    release() {
      if (head < queue.length) {
        const next = queue[head]!
        queue[head++] = undefined
        if (head === queue.length) {
          queue = []
          head = 0
        }
        next()
        return
      }
      active--
    },

    get active() {
      return active
    },
    get waiting() {
      return queue.length - head
    },
  }
}

export type Limiter = ReturnType<typeof createLimiter>

/**
 * Holds one slot for an HTTP exchange: taken on arrival (waiting if need be) and given back
 * exactly once, when the response closes. 'close' fires whether the answer was sent or the
 * client went away, including while the request waited or ran; fastify's onResponse does not
 * fire for an aborted request, and onRequestAbort not for one that aborts after its hooks ran,
 * so tying the release to either leaked slots until the service stopped answering.
 */
export async function holdUntilClosed(limiter: Limiter, response: { destroyed: boolean; once(event: 'close', listener: () => void): unknown }): Promise<void> {
  let held = false
  let closed = response.destroyed
  response.once('close', () => {
    closed = true
    if (held) {
      held = false
      limiter.release()
    }
  })
  const wait = limiter.acquire()
  if (wait) await wait
  // The client left while this waited: the slot goes to the next waiter at once.
  if (closed) limiter.release()
  else held = true
}
