import { connect } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { checkResponse } from '../helpers/openapi.js'
import { testConfig, testDatabase } from '../helpers/app.js'

// Memory bounded by design (issue 14, lever 6): past MAX_IN_FLIGHT requests wait in a bounded
// first-come queue (MAX_QUEUED, at most MAX_QUEUE_WAIT_MS) before their body is read; past the
// queue a process answers 503 with Retry-After; the health checks always answer.

t.test('past MAX_IN_FLIGHT (no queue) a request is shed with 503 problem+json and Retry-After; slots come back when answers leave or clients go', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '2', MAX_QUEUED: '0' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  app.get('/slow', { config: { public: true } }, () => new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true }))))
  await app.ready()

  const first = app.inject({ method: 'GET', url: '/slow' })
  const second = app.inject({ method: 'GET', url: '/slow' })
  while (gates.length < 2) await new Promise((resolve) => setImmediate(resolve))
  t.equal(app.inFlight(), 2)

  const shed = await app.inject({ method: 'GET', url: '/v1/settings/catalog' })
  t.equal(shed.statusCode, 503)
  t.equal(shed.headers['retry-after'], '1')
  t.match(shed.headers['content-type'], /^application\/problem\+json/)
  t.match(shed.json(), { status: 503, code: 'overloaded' })
  t.same(checkResponse({ method: 'GET', url: '/v1/settings/catalog', status: 503, contentType: shed.headers['content-type'] as string, body: shed.json() }), [], 'documented on every operation')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, '/health is never shed')
  t.equal(app.inFlight(), 2, 'a shed request takes no slot')

  gates.shift()!()
  t.equal((await first).statusCode, 200)
  t.equal(app.inFlight(), 1, 'an answered request gives its slot back')
  const unauthenticated = await app.inject({ method: 'GET', url: '/v1/me' })
  t.equal(unauthenticated.statusCode, 401, 'a slot is free again (and an error answer gives it back too)')
  t.equal(app.inFlight(), 1)
  gates.shift()!()
  await second
  t.equal(app.inFlight(), 0, 'all slots back')
})

t.test('past MAX_IN_FLIGHT requests wait their turn in order; past MAX_QUEUED or MAX_QUEUE_WAIT_MS they are shed', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '1', MAX_QUEUED: '2', MAX_QUEUE_WAIT_MS: '60000' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  const started: string[] = []
  app.get('/slow/:name', { config: { public: true } }, (request) => {
    started.push((request.params as { name: string }).name)
    return new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true })))
  })
  await app.ready()

  const first = app.inject({ method: 'GET', url: '/slow/first' })
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve))
  const second = app.inject({ method: 'GET', url: '/slow/second' })
  const third = app.inject({ method: 'GET', url: '/slow/third' })
  while (app.queued() < 2) await new Promise((resolve) => setImmediate(resolve))
  t.equal(app.inFlight(), 1)
  t.same(started, ['first'], 'the waiting requests have not started')

  const shed = await app.inject({ method: 'GET', url: '/v1/settings/catalog' })
  t.equal(shed.statusCode, 503, 'a full queue sheds')
  t.match(shed.json(), { code: 'overloaded' })
  t.equal(shed.headers['retry-after'], '1')

  gates.shift()!()
  t.equal((await first).statusCode, 200)
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve))
  t.same(started, ['first', 'second'], 'the first waiting request takes the freed slot')
  t.equal(app.inFlight(), 1, 'the slot passed on, not added')
  t.equal(app.queued(), 1)
  gates.shift()!()
  t.equal((await second).statusCode, 200)
  while (gates.length < 1) await new Promise((resolve) => setImmediate(resolve))
  gates.shift()!()
  t.equal((await third).statusCode, 200)
  t.same(started, ['first', 'second', 'third'], 'in arrival order')
  t.equal(app.inFlight(), 0)
  t.equal(app.queued(), 0)
})

t.test('a request that waited MAX_QUEUE_WAIT_MS is shed; a waiting client that leaves frees its place', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '1', MAX_QUEUED: '5', MAX_QUEUE_WAIT_MS: '50' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  app.get('/slow', { config: { public: true } }, () => new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true }))))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const first = fetch(`${address}/slow`)
  while (gates.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))

  const waited = await fetch(`${address}/v1/settings/catalog`)
  t.equal(waited.status, 503, 'shed after its wait')
  t.equal(((await waited.json()) as { code: string }).code, 'overloaded')
  t.equal(app.queued(), 0)

  const controller = new AbortController()
  const leaving = fetch(`${address}/v1/settings/catalog`, { signal: controller.signal }).catch(() => 'gone')
  while (app.queued() < 1) await new Promise((resolve) => setTimeout(resolve, 2))
  controller.abort()
  t.equal(await leaving, 'gone')
  for (let i = 0; i < 1000 && app.queued() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.queued(), 0, 'the place is freed')
  t.equal(app.inFlight(), 1, 'and took no slot')

  gates.shift()!()
  t.equal((await first).status, 200)
  t.equal(app.inFlight(), 0)
  t.equal((await fetch(`${address}/v1/settings/catalog`)).status, 401, 'the next client is served')
})

t.test('a waiting request takes the slot of one whose client left before its answer', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '1', MAX_QUEUED: '5', MAX_QUEUE_WAIT_MS: '60000' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  app.get('/slow', { config: { public: true } }, () => new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true }))))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const controller = new AbortController()
  const leaving = fetch(`${address}/slow`, { signal: controller.signal }).catch(() => 'gone')
  while (gates.length < 1) await new Promise((resolve) => setTimeout(resolve, 2))
  const waiting = fetch(`${address}/v1/settings/catalog`)
  while (app.queued() < 1) await new Promise((resolve) => setTimeout(resolve, 2))
  controller.abort()
  t.equal(await leaving, 'gone')
  t.equal((await waiting).status, 401, 'the waiting request was served (401: no token) once the slot came back')
  t.equal(app.queued(), 0)
  gates.shift()!()
  for (let i = 0; i < 1000 && app.inFlight() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.inFlight(), 0, 'no slot leaked or counted twice')
})

t.test('MAX_IN_FLIGHT=0 turns the bound off', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '0' }), database, logger: false })
  t.teardown(() => app.close())
  await app.ready()
  const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'GET', url: '/v1/settings/catalog' })))
  t.ok(answers.every((answer) => answer.statusCode === 401), 'none shed')
  t.equal(app.inFlight(), 0)
})

t.test('a client that leaves before its answer gives its slot back', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '1' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  app.get('/slow', { config: { public: true } }, () => new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true }))))
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const controller = new AbortController()
  const leaving = fetch(`${address}/slow`, { signal: controller.signal }).catch(() => 'gone')
  while (gates.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.inFlight(), 1)
  controller.abort()
  t.equal(await leaving, 'gone')
  while (app.inFlight() > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal((await fetch(`${address}/health`)).status, 200)
  gates.shift()!()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(app.inFlight(), 0, 'the late answer does not give the slot back twice')
  t.equal((await fetch(`${address}/v1/settings/catalog`)).status, 401, 'the slot is free for the next client')
})

t.test('a client that sent its whole body and left before its answer gives its slot back (the bench leaked these)', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_IN_FLIGHT: '1' }), database, logger: false })
  t.teardown(() => app.close())
  const gates: (() => void)[] = []
  app.post('/slow', { config: { public: true } }, () => new Promise<{ ok: true }>((resolve) => gates.push(() => resolve({ ok: true }))))
  const address = new URL(await app.listen({ port: 0, host: '127.0.0.1' }))
  const socket = connect(Number(address.port), address.hostname)
  const body = JSON.stringify({ a: 1 })
  socket.write(`POST /slow HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`)
  while (gates.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.inFlight(), 1)
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 50))
  gates.shift()!()
  for (let i = 0; i < 1000 && app.inFlight() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.inFlight(), 0, 'the slot is back once the late answer found no one')
  t.equal((await fetch(`${address.origin}/v1/settings/catalog`)).status, 401, 'and the next client is served')
})
