import t from 'tap'
import { postgres } from '../../db/postgres.js'
import { clientWithSockets, observer, serverUrl, sleep, type Untyped } from '../helpers/postgres-server.js'

// The vendored postgres.js keeps a transaction's connection to the transaction: a BEGIN that
// fills the pipeline reserves it (begin-reserves-its-connection), and a socket 'drain' between two
// statements leaves it reserved (drain-leaves-reserved-connection). Real PostgreSQL in every run.

t.test('the client pipelines many more queries than it has connections, each answered right', async (t) => {
  const sql = postgres(serverUrl, { max: 2, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => sql`select ${i}::int as n`.then(([row]) => row!.n as number)))
  t.same(answers, Array.from({ length: 500 }, (_, i) => i))
})

t.test("a transaction whose BEGIN fills a busy connection's pipeline keeps that connection: no other query runs inside it", async (t) => {
  // Upstream's reproduction, made deterministic: both connections busy, one query already
  // pipelined on each, so each BEGIN lands at a full pipeline (max_pipeline 2). Unfixed, every
  // round failed with UNSAFE_TRANSACTION and left a transaction open that later pool queries
  // ran inside (they shared its transaction id).
  const application = `postgres-fix-${process.pid}`
  const pipeline: Untyped = { max_pipeline: 2 }
  const sql = postgres(serverUrl, { max: 2, onnotice: () => {}, connection: { application_name: application }, ...pipeline })
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
  const [open] = await observer(t)`select count(*)::int as n from pg_stat_activity where application_name = ${application} and state like 'idle in transaction%'`
  t.equal(open!.n, 0, 'and no connection is left inside a transaction')
})

t.test("a socket 'drain' between two statements of a transaction leaves its connection to it", async (t) => {
  // 'drain' says the socket's buffered bytes have gone out; postgres.js then offered an idle
  // connection to the pool, reserved or not. The kernel decides when a real drain comes (for one
  // statement it comes before the answer, while the statement is still in flight), so no test
  // can place one between two statements by writing: the socket, a real one, emits it here at
  // that moment. Unfixed, the pool query issued next ran inside the transaction.
  const { sql, sockets } = clientWithSockets(t, { max: 1 })
  await sql`select 1`
  t.equal(sockets.length, 1)
  let outside: Promise<string> | undefined
  const inside: string[] = []
  await sql.begin(async (tx) => {
    inside.push((await tx`select txid_current()::text as x`)[0]!.x as string)
    sockets[0]!.emit('drain')
    outside = sql`select txid_current()::text as x`.execute().then(([row]) => row!.x as string)
    await sleep(20)
    inside.push((await tx`select txid_current()::text as x`)[0]!.x as string)
  })
  t.equal(inside[1], inside[0], "the transaction's statements ran in one transaction")
  t.not(await outside, inside[0], 'the pool query ran outside it, after it')
})
