import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'drizzle-orm'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import database from '../../src/plugins/database.js'
import { testDatabase } from '../helpers/app.js'

// The in-flight limit of src/plugins/database.ts, over a real port: a client that goes away must
// give its slot back, whether it left while its request ran or while it waited for a slot.

async function limitedServer(t: Test, maxInFlight: number) {
  const db = await testDatabase()
  const app = Fastify({ logger: false })
  let openGate!: () => void
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  let slowEntered = 0
  await app.register(database, { database: db, maxInFlight })
  app.get('/slow', async () => {
    slowEntered++
    await gate
    await db.db.execute(sql`select 1`)
    return { slow: true }
  })
  app.get('/fast', async () => {
    await db.db.execute(sql`select 1`)
    return { fast: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  return { base: `http://127.0.0.1:${port}`, port, openGate, entered: () => slowEntered }
}

/** A GET whose client hangs up after `ms` milliseconds, before any answer. */
function abandoned(port: number, path: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent: false })
    request.on('error', () => resolve())
    setTimeout(() => {
      request.destroy()
      resolve()
    }, ms)
  })
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

t.test('a client that leaves while its request runs or waits gives its slot back', async (t) => {
  const server = await limitedServer(t, 1)
  // A runs (and holds the only slot), B and C wait; all three clients hang up.
  const leaving = [abandoned(server.port, '/slow', 150), abandoned(server.port, '/slow', 150), abandoned(server.port, '/slow', 150)]
  await until(() => server.entered() === 1)
  t.equal(server.entered(), 1, 'one slot: only the first request runs')
  await Promise.all(leaving)
  server.openGate()
  // With a leaked slot this would wait forever; the timeout turns that into a failure.
  const answers = await Promise.all(
    Array.from({ length: 5 }, () => fetch(`${server.base}/fast`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.json())),
  )
  t.same(answers, Array.from({ length: 5 }, () => ({ fast: true })), 'later requests get slots')
})

t.test('requests beyond the limit wait and then all complete', async (t) => {
  const server = await limitedServer(t, 2)
  server.openGate()
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${server.base}/${i % 2 ? 'slow' : 'fast'}`).then((r) => r.status)))
  t.same(answers, Array.from({ length: 20 }, () => 200))
})
