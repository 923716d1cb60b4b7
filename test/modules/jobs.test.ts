import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { rowsOf } from '../../db/client.js'
import { createJobRunner } from '../../src/modules/jobs/jobs.runner.js'
import { testDatabase } from '../helpers/app.js'

// The one job runner (issue 15): a job row per piece of background work, claimed with FOR UPDATE
// SKIP LOCKED, so several runners (processes) share the queue without running a job twice; a
// failed job is retried with a backoff and fails for good after its last attempt; a job whose
// worker died is claimed again when its lease runs out. Each test uses kinds of its own: the
// database is shared with other test files.

const kindOf = (name: string) => `test.${name}.${randomUUID()}`

async function jobRows(kind: string) {
  const { db } = await testDatabase()
  return rowsOf<{ id: string; status: string; attempts: number; last_error: string | null; payload: unknown; seconds_ahead: number }>(
    await db.execute(sql`select j.id, j.status, j.attempts, j.last_error, j.payload, extract(epoch from (j.run_at - now()))::float as seconds_ahead from jobs as j where j.kind = ${kind} order by j.created_at, j.id`),
  )
}

t.test('a queued job runs once, with its payload, and is marked done', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('once')
  const runner = createJobRunner(db)
  const seen: unknown[] = []
  runner.register(kind, async (job) => {
    seen.push(job.payload)
  })
  t.equal(await runner.enqueue({ kind, payload: { n: 1 } }), true)
  t.equal(await runner.runDue(), 1)
  t.equal(await runner.runDue(), 0, 'nothing is left')
  t.same(seen, [{ n: 1 }])
  t.match(await jobRows(kind), [{ status: 'done', attempts: 1 }])
})

t.test('a job queued for later waits; a singleton is queued once while it waits', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('later')
  const runner = createJobRunner(db)
  runner.register(kind, async () => {})
  t.equal(await runner.enqueue({ kind, delaySeconds: 3600, singletonKey: kind }), true)
  t.equal(await runner.enqueue({ kind, singletonKey: kind }), false, 'a second copy of a waiting singleton is not queued')
  t.equal(await runner.runDue(), 0, 'not due yet')
  t.equal((await jobRows(kind)).length, 1)
})

t.test('a failing job is retried after a backoff and fails for good after its last attempt', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('failing')
  const errors: unknown[] = []
  const runner = createJobRunner(db, { onError: (error) => errors.push(error) })
  runner.register(kind, async () => {
    throw new Error('the webhook endpoint is down')
  })
  await runner.enqueue({ kind, maxAttempts: 2 })
  t.equal(await runner.runDue(), 1)
  let [row] = await jobRows(kind)
  t.match(row, { status: 'queued', attempts: 1 })
  t.ok(row!.seconds_ahead > 5, 'retried after a backoff')
  t.match(row!.last_error, /"type":"Error"/, 'the error is kept by its class, not its message')
  t.notMatch(row!.last_error, /endpoint is down/)
  await db.execute(sql`update jobs set run_at = now() where kind = ${kind}`)
  t.equal(await runner.runDue(), 1)
  ;[row] = await jobRows(kind)
  t.match(row, { status: 'failed', attempts: 2 })
  t.equal(errors.length, 2, 'each failure is reported')
  t.equal(await runner.runDue(), 0, 'a failed job is not run again')
})

t.test('two runners share a queue: every job runs exactly once', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('shared')
  const runs = new Map<number, number>()
  const make = () => {
    const runner = createJobRunner(db)
    runner.register(kind, async (job) => {
      const n = job.payload.n as number
      runs.set(n, (runs.get(n) ?? 0) + 1)
      await new Promise((resolve) => setTimeout(resolve, 5))
    })
    return runner
  }
  const [a, b] = [make(), make()]
  for (let n = 0; n < 12; n++) await a.enqueue({ kind, payload: { n } })
  const [ranA, ranB] = await Promise.all([a.runDue(), b.runDue()])
  t.equal(ranA + ranB, 12)
  t.same([...runs.values()], Array(12).fill(1), 'no job ran twice')
  t.equal((await jobRows(kind)).filter((row) => row.status === 'done').length, 12)
})

t.test('a job whose worker died is claimed again when its lease runs out', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('lease')
  const dead = createJobRunner(db)
  await dead.enqueue({ kind })
  // The dead worker claimed it for a lease that already ran out, and never finished.
  const claimed = await dead.repository.claim([kind], 'dead-worker', 0)
  t.ok(claimed)
  const alive = createJobRunner(db)
  let ran = 0
  alive.register(kind, async () => {
    ran++
  })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(await alive.runDue(), 1)
  t.equal(ran, 1)
  t.match(await jobRows(kind), [{ status: 'done', attempts: 2 }])
  // The dead worker's late answer changes nothing.
  await dead.repository.finish(claimed!, 'dead-worker')
  await dead.repository.fail(claimed!, 'dead-worker', 'late', 1)
  t.match(await jobRows(kind), [{ status: 'done', attempts: 2 }])
})

t.test('a recurring job is queued when the runner starts, runs from its loop, and queues its next run', async (t) => {
  const { db } = await testDatabase()
  const kind = kindOf('recurring')
  const runner = createJobRunner(db, { pollMs: 10 })
  let ran = 0
  runner.register(kind, async () => {
    ran++
  }, { everySeconds: 3600 })
  await runner.start()
  t.teardown(() => runner.stop())
  for (let i = 0; i < 1000 && ran === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  await runner.stop()
  t.equal(ran, 1, 'the loop ran it')
  const rows = await jobRows(kind)
  t.same(rows.map((row) => row.status), ['done', 'queued'], 'and its next run waits')
  t.ok(rows[1]!.seconds_ahead > 3500, 'an interval later')
})
