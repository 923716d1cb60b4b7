import t from 'tap'
import { createLimiter } from '../../src/lib/limiter.js'

// The in-flight limit that keeps postgres.js's queue empty (src/plugins/database.ts).

t.test('at most max holders; waiters get slots in arrival order as holders release', async (t) => {
  const limiter = createLimiter(2)
  t.equal(limiter.acquire(), undefined, 'first slot free')
  t.equal(limiter.acquire(), undefined, 'second slot free')
  const order: number[] = []
  const waiters = [1, 2, 3].map((n) => limiter.acquire()!.then(() => order.push(n)))
  t.equal(limiter.active, 2)
  t.equal(limiter.waiting, 3)
  limiter.release()
  await waiters[0]
  t.same(order, [1], 'the first waiter got the released slot')
  t.equal(limiter.active, 2, 'a handed-over slot stays taken')
  limiter.release()
  limiter.release()
  await Promise.all(waiters)
  t.same(order, [1, 2, 3])
  t.equal(limiter.waiting, 0)
  limiter.release()
  limiter.release()
  t.equal(limiter.active, 0, 'every slot free again')
  t.equal(limiter.acquire(), undefined, 'and reusable')
})

t.test('a long queue drains in order without growing (the queue resets when empty)', async (t) => {
  const limiter = createLimiter(1)
  limiter.acquire()
  const seen: number[] = []
  const all = Array.from({ length: 10_000 }, (_, n) => limiter.acquire()!.then(() => seen.push(n)))
  for (let i = 0; i < 10_000; i++) limiter.release()
  await Promise.all(all)
  t.equal(seen.length, 10_000)
  t.ok(seen.every((n, i) => n === i), 'first come, first served')
  t.equal(limiter.waiting, 0)
  t.equal(limiter.active, 1, 'the last waiter holds the slot')
})
