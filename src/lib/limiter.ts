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
