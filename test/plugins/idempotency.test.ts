import { eq } from 'drizzle-orm'
import t from 'tap'
import { groups, users } from '../../db/schema/index.js'
import { createIdempotencyRepository } from '../../src/modules/idempotency/idempotency.repository.js'
import { requestHash } from '../../src/modules/idempotency/idempotency.plugin.js'
import { buildTestApp, createTenant, testDatabase } from '../helpers/app.js'
import { chainedTrail } from '../helpers/audit.js'

const api = await buildTestApp(t)
const db = (await testDatabase()).db
const repository = createIdempotencyRepository(db)

const usersOf = async (accountId: string) => db.select().from(users).where(eq(users.accountId, accountId))
const auditCount = async (accountId: string) =>
  (await chainedTrail(db, accountId)).length

t.test('a retried POST with the same Idempotency-Key returns the first answer and writes nothing new', async (t) => {
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/users`
  const body = { email: 'once@example.test', displayName: 'Once', roles: ['member'] }
  const headers = { 'idempotency-key': 'create-once-1' }
  const first = await api.request({ method: 'POST', url, token: tenant.admin, body, headers })
  t.equal(first.status, 201)
  t.notOk(first.headers['idempotent-replayed'])
  const rowsAfterFirst = (await usersOf(tenant.accountId)).length
  const auditAfterFirst = await auditCount(tenant.accountId)

  const retry = await api.request({ method: 'POST', url, token: tenant.admin, body, headers })
  t.equal(retry.status, 201)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.same(retry.body, first.body, 'the same user, the same id')
  t.equal((await usersOf(tenant.accountId)).length, rowsAfterFirst, 'no second user')
  t.equal(await auditCount(tenant.accountId), auditAfterFirst, 'no second audit entry')
})

t.test('an error answer is replayed too; the same key with another request is 422', async (t) => {
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/groups`
  await api.request({ method: 'POST', url, token: tenant.admin, body: { name: 'Taken' } })
  const headers = { 'idempotency-key': 'group-taken' }
  const conflict = await api.request({ method: 'POST', url, token: tenant.admin, body: { name: 'Taken' }, headers })
  t.equal(conflict.status, 409)
  t.equal(conflict.body.code, 'group_name_taken')
  const again = await api.request({ method: 'POST', url, token: tenant.admin, body: { name: 'Taken' }, headers })
  t.equal(again.status, 409)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.match(again.headers['content-type'], /^application\/problem\+json/)

  const other = await api.request({ method: 'POST', url, token: tenant.admin, body: { name: 'Other' }, headers })
  t.equal(other.status, 422)
  t.equal(other.body.code, 'idempotency_key_reused')
  const names = (await db.select().from(groups).where(eq(groups.accountId, tenant.accountId))).map((g) => g.name)
  t.same(names, ['Taken'], 'nothing was written')
})

t.test('keys belong to their caller: two admins may use the same key', async (t) => {
  const tenant = await createTenant(api)
  const second = await tenant.user(['admin'])
  const url = `/v1/accounts/${tenant.accountId}/groups`
  const headers = { 'idempotency-key': 'shared-key' }
  t.equal((await api.request({ method: 'POST', url, token: tenant.admin, body: { name: 'A' }, headers })).status, 201)
  t.equal((await api.request({ method: 'POST', url, token: second.token, body: { name: 'B' }, headers })).status, 201)
})

t.test('a malformed key is a 400 naming the header', async (t) => {
  const tenant = await createTenant(api)
  for (const key of ['has space', 'x'.repeat(201)]) {
    const res = await api.request({
      method: 'POST',
      url: `/v1/accounts/${tenant.accountId}/groups`,
      token: tenant.admin,
      body: { name: `G ${key.length}` },
      headers: { 'idempotency-key': key },
    })
    t.equal(res.status, 400)
    t.same(res.body.errors.map((e: { pointer: string }) => e.pointer), ['/headers/idempotency-key'])
  }
})

t.test('a key whose first request is still running is 409; a claim left by a dead process is taken over', async (t) => {
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/groups`
  const body = { name: 'Slow' }
  const k = { accountId: tenant.accountId, subject: tenant.adminId, key: 'slow-1' }
  t.ok(await repository.claim(k, requestHash(url, body), new Date()))
  const busy = await api.request({ method: 'POST', url, token: tenant.admin, body, headers: { 'idempotency-key': 'slow-1' } })
  t.equal(busy.status, 409)
  t.equal(busy.body.code, 'idempotency_in_progress')

  const dead = { ...k, key: 'dead-1' }
  t.ok(await repository.claim(dead, requestHash(url, body), new Date(Date.now() - 10 * 60_000)))
  const taken = await api.request({ method: 'POST', url, token: tenant.admin, body, headers: { 'idempotency-key': 'dead-1' } })
  t.equal(taken.status, 201, 'the retry runs')
  t.equal((await repository.find(dead))?.status, 201, 'and its answer is stored')
})

t.test('concurrent retries create exactly one resource', async (t) => {
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/users`
  const body = { email: 'race@example.test', displayName: 'Race', roles: ['member'] }
  const before = (await usersOf(tenant.accountId)).length
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => api.request({ method: 'POST', url, token: tenant.admin, body, headers: { 'idempotency-key': 'race-1' } })),
  )
  for (const answer of answers) t.ok([201, 409].includes(answer.status), `status ${answer.status}`)
  t.ok(answers.some((answer) => answer.status === 201))
  for (const answer of answers.filter((a) => a.status === 409)) t.equal(answer.body.code, 'idempotency_in_progress')
  t.equal((await usersOf(tenant.accountId)).length, before + 1)
})

t.test('a 5xx answer is not stored, so the retry runs again', async (t) => {
  const tenant = await createTenant(api)
  const { buildApp } = await import('../../src/app.js')
  const app = await buildApp({ config: api.config, database: await testDatabase(), logger: false })
  t.teardown(() => app.close())
  let calls = 0
  app.post('/flaky', async (_request, reply) => {
    calls++
    if (calls === 1) throw new Error('transient')
    return reply.code(201).send({ ok: true })
  })
  const inject = () =>
    app.inject({ method: 'POST', url: '/flaky', headers: { authorization: `Bearer ${tenant.admin}`, 'idempotency-key': 'flaky-1' } })
  t.equal((await inject()).statusCode, 500)
  t.notOk(await repository.find({ accountId: tenant.accountId, subject: tenant.adminId, key: 'flaky-1' }), 'the claim was released')
  const retry = await inject()
  t.equal(retry.statusCode, 201)
  t.equal(calls, 2)
  const replay = await inject()
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(calls, 2, 'the stored answer is replayed')
})
