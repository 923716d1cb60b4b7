import net from 'node:net'
import { sql } from 'drizzle-orm'
import { Writable } from 'node:stream'
import t from 'tap'
import { z } from 'zod'
import { eq } from 'drizzle-orm'
import { users } from '../../db/schema/index.js'
import { buildApp } from '../../src/app.js'
import { buildTestApp, createTenant, testConfig, testDatabase, tokenFor } from '../helpers/app.js'

t.test('an unknown route is a 404 problem', async (t) => {
  const api = await buildTestApp(t)
  const res = await api.request({ method: 'GET', url: '/v1/nothing-here' })
  t.equal(res.status, 404)
  t.equal(res.body.code, 'route_not_found')
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.body.type, 'urn:consentry:problem:route_not_found')
})

t.test('request bodies: size limit, media type, JSON syntax', async (t) => {
  const api = await buildTestApp(t, { env: { BODY_LIMIT: '2048' } })
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/users`
  const db = (await testDatabase()).db
  const count = async () => (await db.select().from(users).where(eq(users.accountId, tenant.accountId))).length
  const before = await count()

  const big = await api.request({
    method: 'POST',
    url,
    token: tenant.admin,
    body: { email: 'big@example.test', displayName: 'x'.repeat(4000), roles: ['member'] },
  })
  t.equal(big.status, 413)
  t.equal(big.body.code, 'payload_too_large')

  const text = await api.request({ method: 'POST', url, token: tenant.admin, payload: 'hello', headers: { 'content-type': 'text/plain' } })
  t.equal(text.status, 415)
  t.equal(text.body.code, 'unsupported_media_type')

  const broken = await api.request({ method: 'POST', url, token: tenant.admin, payload: '{"email":' })
  t.equal(broken.status, 400)
  t.equal(broken.body.code, 'invalid_json')

  // An empty body with the JSON content type is no body: this route needs one.
  const empty = await api.request({ method: 'POST', url, token: tenant.admin, payload: '', headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(empty.status, 400)
  t.equal(empty.body.code, 'validation_failed')

  const poisoned = await api.request({
    method: 'POST',
    url,
    token: tenant.admin,
    payload: '{"email":"p@example.test","displayName":"P","roles":["member"],"__proto__":{"roles":["admin"]}}',
  })
  t.equal(poisoned.status, 400)

  t.equal(await count(), before, 'nothing was written')
})

t.test('validation errors name each offending field with a JSON pointer', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const res = await api.request({
    method: 'POST',
    url: `/v1/accounts/${tenant.accountId}/users`,
    token: tenant.admin,
    body: { email: 'not-an-email', displayName: 5, roles: ['member'], accountId: tenant.accountId },
  })
  t.equal(res.status, 400)
  t.equal(res.body.code, 'validation_failed')
  const pointers = res.body.errors.map((e: { pointer: string }) => e.pointer).sort()
  t.same(pointers, ['/body/accountId', '/body/displayName', '/body/email'])

  const query = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users?limit=500`, token: tenant.admin })
  t.equal(query.status, 400)
  t.same(query.body.errors.map((e: { pointer: string }) => e.pointer), ['/querystring/limit'])

  const params = await api.request({ method: 'GET', url: '/v1/accounts/not-a-uuid/users', token: tenant.admin })
  t.equal(params.status, 400)
  t.same(params.body.errors.map((e: { pointer: string }) => e.pointer), ['/params/accountId'])
})

t.test('a 500 says nothing about its cause', async (t) => {
  const database = await testDatabase()
  const app = await buildApp({ config: testConfig(), database, logger: false })
  t.teardown(() => app.close())
  app.get('/boom', { config: { public: true } }, async () => {
    throw new Error('connection string postgres://secret@db/prod')
  })
  app.get('/bad-response', { config: { public: true }, schema: { response: { 200: z.object({ n: z.number() }) } } }, async () => ({ n: 'x' }) as never)
  for (const url of ['/boom', '/bad-response']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 500, url)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.same(res.json(), {
      type: 'urn:consentry:problem:internal_error',
      title: 'Internal Server Error',
      status: 500,
      code: 'internal_error',
      detail: 'An unexpected error occurred',
    })
    t.notMatch(res.body, /secret|postgres/)
  }
})

t.test('security headers are set on API answers, errors included; /docs sets its own policy', async (t) => {
  const api = await buildTestApp(t)
  const answers = {
    ok: await api.request({ method: 'GET', url: '/health' }),
    unauthenticated: await api.request({ method: 'GET', url: '/v1/me' }),
    'no route': await api.request({ method: 'GET', url: '/v1/nowhere' }),
    invalid: await api.request({ method: 'GET', url: '/v1/settings/catalog', token: 'not-a-jwt' }),
  }
  t.same(Object.values(answers).map((res) => res.status), [200, 401, 404, 401])
  for (const [name, res] of Object.entries(answers)) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${name}: nosniff`)
    t.equal(res.headers['content-security-policy'], "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline';img-src 'self' data:;frame-ancestors 'none';object-src 'none';base-uri 'self'", `${name}: the API's policy`)
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', `${name}: HSTS`)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', `${name}: frame options`)
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${name}: referrer policy`)
  }
  const docs = await api.app.inject({ method: 'GET', url: '/docs' })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-security-policy'], /^default-src 'self'; base-uri 'self'; font-src .*script-src-attr 'none'/, "swagger-ui's static policy replaces the API's")
  t.equal(docs.headers['x-content-type-options'], 'nosniff', 'the other headers stay')
})

t.test('a 500 is explained in the log, and the log holds no token or personal field', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const database = await testDatabase()
  const config = testConfig({ LOG_LEVEL: 'info' })
  const app = await buildApp({ config, database, logger: { stream } })
  t.teardown(() => app.close())
  class TheRealCause extends Error {}
  app.get('/boom', { config: { public: true } }, async (request) => {
    request.log.info({ user: { email: 'leak@example.test', displayName: 'Leaky Name' } }, 'about to fail')
    throw new TheRealCause('a message that may carry data: leak@example.test')
  })
  // A database error: its message (and drizzle's, which repeats the query) carries the parameters.
  app.get('/sql', { config: { public: true } }, async () => {
    await database.db.execute(sql`select ${'jane.doe@example.test'}::integer`)
    return {}
  })
  const token = tokenFor(config, { sub: 'platform-operator', acc: '00000000-0000-4000-8000-000000000000', roles: ['platform'] })
  const res = await app.inject({
    method: 'GET',
    url: '/boom?email=query.leak@example.test',
    remoteAddress: '198.51.100.23',
    headers: { authorization: `Bearer ${token}`, cookie: 'sid=secret-cookie' },
  })
  t.equal(res.statusCode, 500)
  t.equal((await app.inject({ method: 'GET', url: '/sql' })).statusCode, 500)
  const log = lines.join('')
  t.match(log, /"type":"TheRealCause"/, "the cause's class is in the log")
  t.match(log, /problem\.test\.ts/, 'and where it was thrown')
  t.match(log, /"code":"22P02"/, "a database error's SQLSTATE is in the log")
  t.match(log, /unhandled error/)
  t.notMatch(log, token.split('.')[2]!, 'no token')
  t.notMatch(log, /leak@example\.test|Leaky Name|secret-cookie/, 'personal fields are redacted, error messages are not logged')
  t.notMatch(log, /jane\.doe|select \$1|params/, 'no SQL and no parameter of a failed statement')
  t.notMatch(log, /198\.51\.100/, "no client address")
  t.notMatch(log, /query\.leak/, 'no query string')
  t.match(log, /"path":"\/boom"/, 'requests are logged by path')
  t.match(log, /\[redacted\]/)
})

t.test('what fails before routing answers problem+json with the security headers, echoing nothing', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const expectProblem = (label: string, res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, code: string) => {
    t.equal(res.statusCode, status, label)
    t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${label}: problem+json`)
    t.equal(JSON.parse(res.body).code, code, `${label}: ${code}`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${label}: security headers`)
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', `${label}: HSTS`)
  }
  const long = 'a'.repeat(300)
  const overlong = await api.app.inject({ method: 'GET', url: `/v1/meetings/${long}`, headers: { authorization: `Bearer ${tenant.admin}` } })
  expectProblem('an overlong path parameter', overlong, 414, 'uri_too_long')
  t.notMatch(overlong.body, long, 'the URL is not echoed')
  const badUrl = await api.app.inject({ method: 'GET', url: '/v1/meetings/%C0%AE' })
  expectProblem('an invalid percent-encoding', badUrl, 400, 'bad_url')
  t.notMatch(badUrl.body, /C0|AE/i, 'nor is the path')

  // A header with a control character never reaches fastify: Node's parser refuses it.
  const address = await api.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = new URL(address)
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n'))
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString('latin1')))
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
  const [head, body] = raw.split('\r\n\r\n') as [string, string]
  const headers = Object.fromEntries(head.split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  expectProblem('a header with a control character', { statusCode: Number(head.split(' ')[1]), headers, body }, 400, 'bad_request')
})

t.test('a validation problem lists at most 20 items and says how many there were', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const extra = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`unknown${i}`, i]))
  const res = await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/users`, token: tenant.admin, body: { email: 'v@example.test', displayName: 'V', roles: ['member'], ...extra } })
  t.equal(res.status, 400)
  t.equal(res.body.errors.length, 20)
  t.equal(res.body.errorCount, 5000)
  t.ok(JSON.stringify(res.body).length < 4000, 'a small answer')
})

t.test('RFC 6750: a 401 says Bearer, and whether the token given was the problem', async (t) => {
  const api = await buildTestApp(t)
  const none = await api.request({ method: 'GET', url: '/v1/me' })
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer realm="consentry"')
  const bad = await api.request({ method: 'GET', url: '/v1/me', token: 'not-a-token' })
  t.equal(bad.headers['www-authenticate'], 'Bearer realm="consentry", error="invalid_token"')
})
