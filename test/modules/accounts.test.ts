import { eq } from 'drizzle-orm'
import t from 'tap'
import { accounts } from '../../db/schema/index.js'
import { buildTestApp, createTenant, platformToken, testDatabase, tokenFor } from '../helpers/app.js'
import { chainedTrail } from '../helpers/audit.js'

async function accountRow(accountId: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(accounts).where(eq(accounts.id, accountId))
  return row
}

async function auditCount(accountId: string) {
  const { db } = await testDatabase()
  return (await chainedTrail(db, accountId)).length
}

t.test('the platform creates an account with defaults', async (t) => {
  const api = await buildTestApp(t)
  const name = `Acme ${Math.random().toString(36).slice(2)}`
  const res = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platformToken(api.config),
    body: { name, dataRegion: 'sg' },
  })
  t.equal(res.status, 201)
  t.match(res.body, {
    id: String,
    name,
    dataRegion: 'sg',
    minorAgeThreshold: 16,
    requestDeadlineDays: 15,
    requestDeadlineBusinessDays: false,
    status: 'active',
    createdAt: String,
    updatedAt: String,
  })

  const row = await accountRow(res.body.id)
  t.ok(row, 'the account row exists')
  t.equal(row?.name, name)
  t.equal(row?.dataRegion, 'sg')
  t.equal(row?.minorAgeThreshold, 16)
  t.equal(row?.requestDeadlineDays, 15)
  t.equal(row?.status, 'active')
  t.equal(row?.createdAt.toISOString(), res.body.createdAt)
})

t.test('the platform sets every optional field at creation', async (t) => {
  const api = await buildTestApp(t)
  const res = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platformToken(api.config),
    body: { name: 'Explicit', dataRegion: 'cn', minorAgeThreshold: 14, requestDeadlineDays: 30, requestDeadlineBusinessDays: true },
  })
  t.equal(res.status, 201)
  t.match(res.body, { dataRegion: 'cn', minorAgeThreshold: 14, requestDeadlineDays: 30, requestDeadlineBusinessDays: true })
  const row = await accountRow(res.body.id)
  t.equal(row?.minorAgeThreshold, 14)
  t.equal(row?.requestDeadlineDays, 30)
  t.equal(row?.requestDeadlineBusinessDays, true)
})

t.test('a non-platform token cannot create an account (P-GOV-1)', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const name = `Forbidden ${Math.random().toString(36).slice(2)}`
  for (const token of [tenant.admin, member.token]) {
    const res = await api.request({ method: 'POST', url: '/v1/accounts', token, body: { name, dataRegion: 'eu' } })
    t.equal(res.status, 403)
    t.equal(res.body.code, 'forbidden')
  }
  const { db } = await testDatabase()
  t.equal((await db.select().from(accounts).where(eq(accounts.name, name))).length, 0, 'no account was written')
})

t.test('creating an account needs a token', async (t) => {
  const api = await buildTestApp(t)
  const res = await api.request({ method: 'POST', url: '/v1/accounts', body: { name: 'Anonymous', dataRegion: 'eu' } })
  t.equal(res.status, 401)
  t.equal(res.body.code, 'unauthorized')
})

t.test('an admin reads and patches its own account', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api, { dataRegion: 'hk' })
  const url = `/v1/accounts/${tenant.accountId}`

  const read = await api.request({ method: 'GET', url, token: tenant.admin })
  t.equal(read.status, 200)
  t.equal(read.body.id, tenant.accountId)
  t.equal(read.body.dataRegion, 'hk')

  const patched = await api.request({
    method: 'PATCH',
    url,
    token: tenant.admin,
    body: { name: 'Renamed', minorAgeThreshold: 18, requestDeadlineDays: 10, requestDeadlineBusinessDays: true, dataRegion: 'hk' },
  })
  t.equal(patched.status, 200)
  t.match(patched.body, {
    id: tenant.accountId,
    name: 'Renamed',
    dataRegion: 'hk',
    minorAgeThreshold: 18,
    requestDeadlineDays: 10,
    requestDeadlineBusinessDays: true,
  })
  t.ok(Date.parse(patched.body.updatedAt) >= Date.parse(read.body.updatedAt), 'updatedAt moves forward')

  const row = await accountRow(tenant.accountId)
  t.equal(row?.name, 'Renamed')
  t.equal(row?.minorAgeThreshold, 18)
  t.equal(row?.requestDeadlineDays, 10)
  t.equal(row?.requestDeadlineBusinessDays, true)
  t.equal(row?.dataRegion, 'hk', 'an unchanged region is accepted')

  const again = await api.request({ method: 'GET', url, token: tenant.admin })
  t.same(again.body, patched.body, 'GET answers what PATCH returned')
})

t.test('the platform reads and patches any account', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}`
  const token = platformToken(api.config)
  const read = await api.request({ method: 'GET', url, token })
  t.equal(read.status, 200)
  const patched = await api.request({ method: 'PATCH', url, token, body: { requestDeadlineDays: 20 } })
  t.equal(patched.status, 200)
  t.equal(patched.body.requestDeadlineDays, 20)
})

t.test('an admin of account A gets 404 for account B, and B is unchanged', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const url = `/v1/accounts/${b.accountId}`
  const before = await accountRow(b.accountId)
  const auditBefore = await auditCount(b.accountId)

  const read = await api.request({ method: 'GET', url, token: a.admin })
  t.equal(read.status, 404)
  t.equal(read.body.code, 'not_found')

  const patched = await api.request({ method: 'PATCH', url, token: a.admin, body: { name: 'Hijacked', minorAgeThreshold: 13 } })
  t.equal(patched.status, 404)
  t.equal(patched.body.code, 'not_found')

  t.same(await accountRow(b.accountId), before, "B's row is unchanged")
  t.equal(await auditCount(b.accountId), auditBefore, "B's audit trail is unchanged")

  const unknown = await api.request({
    method: 'GET',
    url: '/v1/accounts/00000000-0000-4000-8000-00000000abcd',
    token: a.admin,
  })
  t.equal(unknown.status, 404, 'another account answers exactly like one that does not exist')
  t.equal(unknown.body.code, read.body.code)
})

t.test('P-RES-1: PATCH of dataRegion to another region is 409 data_region_immutable', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api, { dataRegion: 'eu' })
  const url = `/v1/accounts/${tenant.accountId}`
  const before = await accountRow(tenant.accountId)
  const auditBefore = await auditCount(tenant.accountId)

  for (const token of [tenant.admin, platformToken(api.config)]) {
    const res = await api.request({ method: 'PATCH', url, token, body: { dataRegion: 'us', name: 'Moved' } })
    t.equal(res.status, 409)
    t.equal(res.body.code, 'data_region_immutable')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.ok(
      res.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/dataRegion'),
      'the problem points at dataRegion',
    )
  }

  t.same(await accountRow(tenant.accountId), before, 'neither the region nor the name changed')
  t.equal(await auditCount(tenant.accountId), auditBefore, 'no audit entry for a refused change')
})

t.test('an unknown property in the body is 400 and nothing is written', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}`
  const before = await accountRow(tenant.accountId)
  const auditBefore = await auditCount(tenant.accountId)

  for (const [prop, value] of [
    ['status', 'suspended'],
    ['id', '00000000-0000-4000-8000-000000000001'],
    ['createdAt', '2020-01-01T00:00:00.000Z'],
  ] as const) {
    const res = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { name: 'Changed', [prop]: value } })
    t.equal(res.status, 400, `${prop} is refused`)
    t.equal(res.body.code, 'validation_failed')
    t.ok(
      res.body.errors?.some((e: { pointer?: string }) => e.pointer === `/body/${prop}`),
      `errors[] points at /body/${prop}`,
    )
  }
  t.same(await accountRow(tenant.accountId), before, 'the account is unchanged')
  t.equal(await auditCount(tenant.accountId), auditBefore)

  const name = `Extra ${Math.random().toString(36).slice(2)}`
  const created = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platformToken(api.config),
    body: { name, dataRegion: 'eu', status: 'suspended' },
  })
  t.equal(created.status, 400)
  t.ok(created.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/status'))
  const { db } = await testDatabase()
  t.equal((await db.select().from(accounts).where(eq(accounts.name, name))).length, 0, 'no account was created')
})

t.test('a value of the wrong type or out of range is 400 naming the field', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}`
  const before = await accountRow(tenant.accountId)

  const cases: [string, unknown][] = [
    ['minorAgeThreshold', 15],
    ['minorAgeThreshold', '16'],
    ['requestDeadlineDays', 0],
    ['requestDeadlineDays', 91],
    ['requestDeadlineDays', 1.5],
    ['requestDeadlineBusinessDays', 'yes'],
    ['name', ''],
    ['dataRegion', 'mars'],
  ]
  for (const [field, value] of cases) {
    const res = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { [field]: value } })
    t.equal(res.status, 400, `${field}: ${JSON.stringify(value)} is refused`)
    t.equal(res.body.code, 'validation_failed')
    t.ok(
      res.body.errors?.some((e: { pointer?: string }) => e.pointer === `/body/${field}`),
      `errors[] points at /body/${field}`,
    )
  }
  t.same(await accountRow(tenant.accountId), before, 'the account is unchanged')

  const create = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platformToken(api.config),
    body: { name: 'Bad threshold', dataRegion: 'eu', minorAgeThreshold: 15 },
  })
  t.equal(create.status, 400)
  t.ok(create.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/minorAgeThreshold'))

  const missing = await api.request({ method: 'POST', url: '/v1/accounts', token: platformToken(api.config), body: { name: 'No region' } })
  t.equal(missing.status, 400)
  t.ok(missing.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/dataRegion'))
})

t.test('a NUL character in an account name is refused with 400, not a 500', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const before = await accountRow(tenant.accountId)
  const patched = await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { name: 'Nul\u0000Name' } })
  t.equal(patched.status, 400)
  t.equal(patched.body.code, 'validation_failed')
  t.ok(patched.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/name'), 'points at /body/name')
  t.same(await accountRow(tenant.accountId), before, 'the account is unchanged')

  const created = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platformToken(api.config),
    body: { name: 'Nul\u0000Name', dataRegion: 'eu' },
  })
  t.equal(created.status, 400)
  t.equal(created.body.code, 'validation_failed')
})

t.test('a member of the account gets 403 on PATCH and GET of the account', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const url = `/v1/accounts/${tenant.accountId}`
  const before = await accountRow(tenant.accountId)

  for (const token of [member.token, recorder.token]) {
    const patched = await api.request({ method: 'PATCH', url, token, body: { name: 'By a member' } })
    t.equal(patched.status, 403)
    t.equal(patched.body.code, 'forbidden')
    const read = await api.request({ method: 'GET', url, token })
    t.equal(read.status, 403)
  }
  t.same(await accountRow(tenant.accountId), before, 'the account is unchanged')
})

t.test('a token naming account A with admin role cannot reach B by path, even with a forged subject', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  // The subject is B's admin, but the token's account is A: no such user in A, so the token is refused.
  const forged = tokenFor(api.config, { sub: b.adminId, acc: a.accountId, roles: ['admin'] })
  const res = await api.request({ method: 'PATCH', url: `/v1/accounts/${b.accountId}`, token: forged, body: { name: 'x' } })
  t.equal(res.status, 401)
  const read = await api.request({ method: 'GET', url: `/v1/accounts/${b.accountId}`, token: b.admin })
  t.not(read.body.name, 'x', 'B is unchanged')
})

t.test('a PATCH that changes nothing writes no audit entry', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api, { dataRegion: 'eu', minorAgeThreshold: 16 })
  const url = `/v1/accounts/${tenant.accountId}`
  const auditBefore = await auditCount(tenant.accountId)
  const res = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { dataRegion: 'eu', minorAgeThreshold: 16 } })
  t.equal(res.status, 200)
  t.equal(await auditCount(tenant.accountId), auditBefore)
  const empty = await api.request({ method: 'PATCH', url, token: tenant.admin, body: {} })
  t.equal(empty.status, 200)
  t.equal(await auditCount(tenant.accountId), auditBefore)
})

t.test('SERVED_REGIONS (P-RES-1): an account in a region this deployment does not serve is 409 region_not_served, and no row is written', async (t) => {
  const api = await buildTestApp(t, { env: { SERVED_REGIONS: 'eu,uk' } })
  const name = `Elsewhere ${Math.random().toString(36).slice(2)}`
  const refused = await api.request({ method: 'POST', url: '/v1/accounts', token: platformToken(api.config), body: { name, dataRegion: 'sg' } })
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'region_not_served')
  t.match(refused.body.detail, /eu, uk/)
  const { db } = await testDatabase()
  t.same(await db.select().from(accounts).where(eq(accounts.name, name)), [], 'no account row')
  const served = await api.request({ method: 'POST', url: '/v1/accounts', token: platformToken(api.config), body: { name, dataRegion: 'uk' } })
  t.equal(served.status, 201, 'a served region is created')
})
