import t from 'tap'
import { databaseClock } from '../../src/lib/clock.js'

// Rule 8: every process stamps instants on the database's clock. These tests feed the clock a
// database that runs an hour ahead, then one that jumps back.

t.test("rule 8: the server clock follows the database's clock, not the process's", async (t) => {
  const clock = await databaseClock(async () => new Date(Date.now() + 3_600_000))
  t.teardown(() => clock.stop())
  const skew = clock.now().getTime() - Date.now()
  t.ok(skew > 3_590_000 && skew < 3_610_000, `instants are an hour ahead, like the database (${skew} ms)`)
})

t.test('rule 8: instants never run backwards when the measured offset shrinks', async (t) => {
  let ahead = 60_000
  const clock = await databaseClock(async () => new Date(Date.now() + ahead), 5)
  t.teardown(() => clock.stop())
  const before = clock.now().getTime()
  ahead = -60_000
  await new Promise((resolve) => setTimeout(resolve, 50))
  const after = clock.now().getTime()
  t.ok(after >= before, 'the clock holds its last instant rather than jump back a minute')
})

t.test('a failed refresh keeps the last offset', async (t) => {
  let calls = 0
  const clock = await databaseClock(async () => {
    calls++
    if (calls > 1) throw new Error('database unavailable')
    return new Date(Date.now() + 120_000)
  }, 5)
  t.teardown(() => clock.stop())
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.ok(calls > 1, 'refreshes were attempted')
  t.ok(clock.now().getTime() - Date.now() > 110_000, 'still two minutes ahead')
})
