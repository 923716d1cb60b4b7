import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import t from 'tap'
import { CONNECTION_FIXES, connectionPatched, fixedConnectionSource, installedVersion, PATCHED_VERSION, postgres, Queue, queuePatched } from '../../db/postgres.js'

// db/postgres.ts carries reviewed fixes to postgres.js: its Queue's remove() searched past the
// consumed front (sustained load slowed down), and a BEGIN that filled a connection's pipeline
// left its transaction open on a connection the pool handed to unrelated queries.

t.test('the fixes are reviewed against the installed postgres.js and are the modules the client uses', async (t) => {
  t.equal(installedVersion, PATCHED_VERSION, 'an upgraded postgres.js needs the fixes reviewed again (db/postgres.ts)')
  t.ok(queuePatched, "the client's CommonJS build resolved its Queue to the fixed one")
  t.ok(connectionPatched, 'and its connection module to the fixed one')
})

t.test('each connection fix replaces exactly the reviewed code, and refuses a source it does not fit', async (t) => {
  const file = path.join(path.dirname(createRequire(import.meta.url).resolve('postgres')), 'connection.js')
  const source = readFileSync(file, 'utf8')
  const fixed = fixedConnectionSource(source)
  for (const fix of CONNECTION_FIXES) {
    t.notOk(fixed.includes(fix.from), `${fix.name}: the old code is gone`)
    t.equal(fixed.split(fix.to).length, 2, `${fix.name}: the new code is there once`)
  }
  t.equal(fixed.length - source.length, CONNECTION_FIXES.reduce((sum, fix) => sum + fix.to.length - fix.from.length, 0), 'nothing else changed')
  t.throws(() => fixedConnectionSource(source.replace(CONNECTION_FIXES[0].from, '')), /does not fit/, 'an upgrade that moved the code is caught')
  t.throws(() => fixedConnectionSource(source + CONNECTION_FIXES[1].from), /does not fit/, 'so is code that appears twice')
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
  const url = process.env.DATABASE_URL

  t.test('the patched client pipelines many more queries than it has connections, each answered right', async (t) => {
    const sql = postgres(url, { max: 2, onnotice: () => {} })
    t.teardown(() => sql.end({ timeout: 5 }))
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => sql`select ${i}::int as n`.then(([row]) => row!.n as number)))
    t.same(answers, Array.from({ length: 500 }, (_, i) => i))
  })

  t.test('a transaction whose BEGIN fills a busy connection\'s pipeline keeps that connection: no other query runs inside it', async (t) => {
    // Upstream's reproduction, made deterministic: both connections busy, one query already
    // pipelined on each, so each BEGIN lands at a full pipeline (max_pipeline 2). Unfixed, every
    // round failed with UNSAFE_TRANSACTION and left a transaction open that later pool queries
    // ran inside (they shared its transaction id).
    const application = `postgres-fix-${process.pid}`
    // max_pipeline is a postgres.js option its typings leave out.
    const pipeline = { max_pipeline: 2 } as object
    const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { application_name: application }, ...pipeline })
    t.teardown(() => sql.end({ timeout: 5 }))
    await Promise.all([sql`select 1`.execute(), sql`select 1`.execute()])
    const failures: string[] = []
    const inside: string[] = []
    for (let round = 0; round < 10; round++) {
      const busy = [sql`select pg_sleep(0.02)`.execute(), sql`select pg_sleep(0.02)`.execute()]
      const pipelined = [sql`select 1`.execute(), sql`select 1`.execute()]
      const transactions: string[] = []
      const begun = Array.from({ length: 3 }, () =>
        sql
          .begin(async (tx) => {
            const [row] = await tx`select txid_current()::text as x`
            transactions.push(row!.x as string)
            await tx`select pg_sleep(0.01)`
          })
          .catch((error: Error & { code?: string }) => {
            failures.push(error.code ?? error.message)
          }),
      )
      const others = await Promise.all(Array.from({ length: 6 }, () => sql`select txid_current()::text as x`.execute().then(([row]) => row!.x as string)))
      await Promise.all([...begun, ...busy, ...pipelined])
      t.equal(transactions.length, 3, `round ${round}: the three transactions ran`)
      inside.push(...others.filter((x) => transactions.includes(x)))
    }
    t.same(failures, [], 'no transaction failed (UNSAFE_TRANSACTION before the fix)')
    t.same(inside, [], 'no pool query shared a transaction')
    const after = await Promise.all(Array.from({ length: 20 }, () => sql`select txid_current()::text as x`.execute().then(([row]) => row!.x as string)))
    t.equal(new Set(after).size, 20, 'afterwards every pool query is its own transaction')
    const observer = postgres(url, { max: 1, onnotice: () => {} })
    t.teardown(() => observer.end({ timeout: 5 }))
    const [open] = await observer`select count(*)::int as n from pg_stat_activity where application_name = ${application} and state like 'idle in transaction%'`
    t.equal(open!.n, 0, 'and no connection is left inside a transaction')
  })
}
