import t from 'tap'
import { installedVersion, PATCHED_VERSION, postgres, Queue, queuePatched } from '../../db/postgres.js'

// db/postgres.ts carries a one-line fix to postgres.js's internal Queue (remove() searched from
// index 0 past the consumed front, which slowed sustained load down; see there).

t.test('the fix is reviewed against the installed postgres.js and is the Queue the client uses', async (t) => {
  t.equal(installedVersion, PATCHED_VERSION, 'an upgraded postgres.js needs the fix reviewed again (db/postgres.ts)')
  t.ok(queuePatched, "the client's CommonJS build resolved its Queue to the fixed one")
})

t.test('the fixed Queue keeps postgres.js semantics: FIFO, length, remove of live and consumed items', async (t) => {
  const q = Queue<string>()
  for (const x of ['a', 'b', 'c', 'd']) q.push(x)
  t.equal(q.shift(), 'a')
  t.equal(q.length, 3)
  t.equal(q.remove('a'), null, 'a consumed item is not found again')
  t.equal(q.remove('c'), 'c', 'a live item is removed')
  t.equal(q.length, 2)
  t.equal(q.shift(), 'b')
  t.equal(q.shift(), 'd')
  t.equal(q.length, 0, 'empty again')
  t.equal(q.remove('d'), null)
  const seeded = Queue(['x', 'y'])
  t.equal(seeded.length, 2, 'an initial array is copied in')
  t.equal(seeded.shift(), 'x')
})

t.test('a queue that never empties still finds a live item right behind a long consumed front', async (t) => {
  // The shape of sustained load: items come and go but the queue is never empty.
  const q = Queue<number>()
  q.push(0)
  for (let i = 1; i <= 100_000; i++) {
    q.push(i)
    if (q.shift() !== i - 1) t.fail(`turn ${i} out of order`)
    if (i % 25_000 === 0) t.equal(q.length, 1, `after ${i} turns one item is live`)
  }
  t.equal(q.remove(100_000), 100_000, 'the live item is removed')
  t.equal(q.length, 0)
})

if (process.env.DATABASE_URL) {
  t.test('the patched client pipelines many more queries than it has connections, each answered right', async (t) => {
    const sql = postgres(process.env.DATABASE_URL!, { max: 2, onnotice: () => {} })
    t.teardown(() => sql.end({ timeout: 5 }))
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => sql`select ${i}::int as n`.then(([row]) => row!.n as number)))
    t.same(answers, Array.from({ length: 500 }, (_, i) => i))
  })
}
