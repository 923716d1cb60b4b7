import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { buildTestApp, createTenant, testConfig, testDatabase, tokenFor } from '../helpers/app.js'

// Limits on every door (issue 13, item 1): by address before authentication (failed
// authentications count there), by principal after it, passcode failures per meeting and
// address; load shed on pressure. Every refusal is problem+json with Retry-After.

const problem = (t: Test, res: { status: number; body: any; headers: Record<string, unknown> }, status: number, code: string, label: string) => {
  t.equal(res.status, status, `${label}: ${status}`, { body: res.body })
  t.equal(res.body?.code, code, `${label}: ${code}`)
  if (status === 429 || status === 503) t.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/, `${label}: Retry-After`)
}

t.test('failed authentications count against the address: past the limit 429, other addresses unaffected', async (t) => {
  const api = await buildTestApp(t, { env: { RATE_LIMIT_ANON_PER_MINUTE: '5' } })
  const tenant = await createTenant(api)
  const bad = (remoteAddress: string) => api.request({ method: 'GET', url: '/v1/me', token: 'not-a-token', remoteAddress })
  for (let i = 0; i < 5; i++) t.equal((await bad('198.51.100.1')).status, 401)
  problem(t, await bad('198.51.100.1'), 429, 'rate_limited', 'the sixth bad token')
  t.equal((await bad('198.51.100.2')).status, 401, 'another address still gets its 401')
  t.equal((await api.request({ method: 'GET', url: '/v1/me', token: tenant.admin, remoteAddress: '198.51.100.1' })).status, 200, 'a valid token from the same address is a principal, counted as such')
  // Public routes count by address too, the health checks excepted.
  const many = await Promise.all(Array.from({ length: 6 }, () => api.request({ method: 'GET', url: '/.well-known/jwks.json', remoteAddress: '198.51.100.3' })))
  t.same(many.map((res) => res.status).sort(), [200, 200, 200, 200, 200, 429])
  for (let i = 0; i < 10; i++) t.equal((await api.request({ method: 'GET', url: '/health', remoteAddress: '198.51.100.3' })).status, 200)
})

t.test('an authenticated principal is limited by itself, whatever its address', async (t) => {
  const api = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '3' } })
  const tenant = await createTenant(api)
  const other = await tenant.user(['member'])
  for (let i = 0; i < 3; i++) t.equal((await api.request({ method: 'GET', url: '/v1/me', token: tenant.admin, remoteAddress: `203.0.113.${i}` })).status, 200)
  problem(t, await api.request({ method: 'GET', url: '/v1/me', token: tenant.admin, remoteAddress: '203.0.113.9' }), 429, 'rate_limited', 'the fourth request of one principal')
  t.equal((await api.request({ method: 'GET', url: '/v1/me', token: other.token })).status, 200, 'another principal is not affected')
})

t.test('P-SET-1: wrong passcodes are limited per meeting and address: then even the right one waits', async (t) => {
  const api = await buildTestApp(t, { env: { PASSCODE_FAILURES_PER_MINUTE: '2' } })
  const tenant = await createTenant(api)
  await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'meeting.waiting_room': false } } })
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = (await api.request({ method: 'POST', url: '/v1/meetings', token: host.token, body: { topic: 'Locked', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC', passcode: 'right-one' } })).body
  await api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/start`, token: host.token })
  const join = (passcode: string, remoteAddress = '192.0.2.10') => api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/participants`, token: ada.token, body: { passcode }, remoteAddress })
  problem(t, await join('guess-1'), 403, 'passcode_invalid', 'first guess')
  problem(t, await join('guess-2'), 403, 'passcode_invalid', 'second guess')
  problem(t, await join('right-one'), 429, 'rate_limited', 'then even the right one waits')
  t.equal((await join('right-one', '192.0.2.11')).status, 201, 'from another address it is let in')
})

t.test('load is shed with 503 under_pressure on heap use; /health still answers', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_HEAP_SHARE: '0.0000001' }), database, logger: false })
  t.teardown(() => app.close())
  await app.ready()
  // under-pressure samples once a second.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.equal(app.inFlight(), 0)
  const shed = await app.inject({ method: 'GET', url: '/v1/settings/catalog' })
  t.equal(shed.statusCode, 503)
  t.match(shed.headers['content-type'], /^application\/problem\+json/)
  t.equal(shed.json().code, 'under_pressure')
  t.match(shed.headers['retry-after'], /^[1-9]/)
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})

t.test('a database that went away is 503 database_unavailable with Retry-After, not 500', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig(), database, logger: false })
  t.teardown(() => app.close())
  const labels: string[] = []
  for (const [label, error] of [
    ['the driver lost its connection', Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })],
    ['drizzle wrapped a terminated backend', Object.assign(new Error('Failed query: select 1'), { cause: Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }) })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
  ] as const) {
    labels.push(label)
    app.get(`/fails/${labels.length}`, { config: { public: true } }, async () => {
      throw error
    })
  }
  await app.ready()
  for (const [i, label] of labels.entries()) {
    const res = await app.inject({ method: 'GET', url: `/fails/${i + 1}` })
    t.equal(res.statusCode, 503, label)
    t.equal(res.json().code, 'database_unavailable')
    t.equal(res.headers['retry-after'], '2')
  }
})

t.test('load is shed with 503 under_pressure while the event loop lags', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig({ MAX_EVENT_LOOP_DELAY_MS: '1' }), database, logger: false })
  t.teardown(() => app.close())
  await app.ready()
  // Keep the loop lagging (50 ms blocks) until a sample sees it: one long block can fall between
  // the delay histogram's reading and the plugin's sample, and the sample after it sees no lag.
  let shed = await app.inject({ method: 'GET', url: '/v1/settings/catalog' })
  for (const deadline = Date.now() + 10_000; shed.statusCode !== 503 && Date.now() < deadline; ) {
    const until = Date.now() + 50
    while (Date.now() < until) {
      // busy
    }
    await new Promise((resolve) => setImmediate(resolve))
    shed = await app.inject({ method: 'GET', url: '/v1/settings/catalog' })
  }
  t.equal(shed.statusCode, 503)
  t.equal(shed.json().code, 'under_pressure')
  t.match(shed.json().detail, /event loop delay/)
})
