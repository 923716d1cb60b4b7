import { and, eq } from 'drizzle-orm'
import t from 'tap'
import { groupMembers, users } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, platformToken, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { chainedTrail } from '../helpers/audit.js'

const unique = () => Math.random().toString(36).slice(2)

async function userRow(accountId: string, userId: string) {
  const { db } = await testDatabase()
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.accountId, accountId), eq(users.id, userId)))
  return row
}

async function accountUsers(accountId: string) {
  const { db } = await testDatabase()
  return db.select().from(users).where(eq(users.accountId, accountId))
}

async function auditCount(accountId: string) {
  const { db } = await testDatabase()
  return (await chainedTrail(db, accountId)).length
}

function createUser(api: TestApp, accountId: string, token: string, body: Record<string, unknown>) {
  return api.request({ method: 'POST', url: `/v1/accounts/${accountId}/users`, token, body })
}

const pointsAt = (body: { errors?: { pointer?: string }[] }, pointer: string) =>
  body.errors?.some((e) => e.pointer === pointer) ?? false

t.test('an admin creates a user; the email is stored lower-cased', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const local = `Mixed.Case.${unique()}`
  const res = await createUser(api, tenant.accountId, tenant.admin, {
    email: `${local}@Example.TEST`,
    displayName: 'Ada Lovelace',
    roles: ['member', 'member', 'recorder'],
    pictureUrl: 'https://example.test/ada.png',
  })
  t.equal(res.status, 201)
  t.match(res.body, {
    id: String,
    accountId: tenant.accountId,
    email: `${local.toLowerCase()}@example.test`,
    displayName: 'Ada Lovelace',
    pictureUrl: 'https://example.test/ada.png',
    birthDate: null,
    isMinor: false,
    guardianConsent: null,
    status: 'active',
  })
  t.same([...res.body.roles].sort(), ['member', 'recorder'], 'duplicate roles are collapsed')

  const row = await userRow(tenant.accountId, res.body.id)
  t.equal(row?.email, `${local.toLowerCase()}@example.test`)
  t.equal(row?.displayName, 'Ada Lovelace')
  t.equal(row?.status, 'active')
  t.same([...(row?.roles ?? [])].sort(), ['member', 'recorder'])
})

t.test('409 email_taken for a duplicate email in the same account; another account may use it', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const email = `dup.${unique()}@example.test`

  const first = await createUser(api, a.accountId, a.admin, { email, displayName: 'First', roles: ['member'] })
  t.equal(first.status, 201)
  const usersBefore = (await accountUsers(a.accountId)).length
  const auditBefore = await auditCount(a.accountId)

  const again = await createUser(api, a.accountId, a.admin, { email: email.toUpperCase(), displayName: 'Second', roles: ['member'] })
  t.equal(again.status, 409)
  t.equal(again.body.code, 'email_taken')
  t.ok(pointsAt(again.body, '/body/email'))
  t.notMatch(JSON.stringify(again.body), email, 'the problem does not echo the email')
  t.equal((await accountUsers(a.accountId)).length, usersBefore, 'no user was written')
  t.equal(await auditCount(a.accountId), auditBefore, 'no audit entry was written')

  const elsewhere = await createUser(api, b.accountId, b.admin, { email, displayName: 'Other tenant', roles: ['member'] })
  t.equal(elsewhere.status, 201, 'the same email is fine in another account')
  t.equal(elsewhere.body.email, email)

  // PATCH to an email another user of the account already has is the same conflict.
  const other = await createUser(api, a.accountId, a.admin, { email: `other.${unique()}@example.test`, displayName: 'O', roles: ['member'] })
  const patched = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${a.accountId}/users/${other.body.id}`,
    token: a.admin,
    body: { email, displayName: 'Renamed' },
  })
  t.equal(patched.status, 409)
  t.equal(patched.body.code, 'email_taken')
  const row = await userRow(a.accountId, other.body.id)
  t.equal(row?.displayName, 'O', 'the refused PATCH changed nothing')
})

t.test('list users with cursor pagination walks every user exactly once', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  for (let i = 0; i < 5; i++) await tenant.user(['member'])

  const expected = (await accountUsers(tenant.accountId)).map((row) => row.id).sort()
  t.equal(expected.length, 6, 'five users and the admin')

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
    const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users${query}`, token: tenant.admin })
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 2, 'a page holds at most limit items')
    for (const item of res.body.items) {
      t.equal(item.accountId, tenant.accountId)
      seen.push(item.id)
    }
    cursor = res.body.nextCursor
    pages++
  } while (cursor && pages < 10)

  t.equal(cursor, null, 'the last page has nextCursor null')
  t.equal(pages, 3)
  t.equal(new Set(seen).size, seen.length, 'no duplicates')
  t.same([...seen].sort(), expected, 'nothing missing')
  t.same(seen, [...seen].sort(), 'pages are in id (creation) order')

  const whole = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users`, token: tenant.admin })
  t.equal(whole.body.items.length, 6)
  t.equal(whole.body.nextCursor, null)

  for (const bad of ['not-a-cursor', Buffer.from('12345').toString('base64url'), '%%%']) {
    const res = await api.request({
      method: 'GET',
      url: `/v1/accounts/${tenant.accountId}/users?cursor=${encodeURIComponent(bad)}`,
      token: tenant.admin,
    })
    t.equal(res.status, 400, `cursor ${bad} is refused`)
    t.equal(res.body.code, 'validation_failed')
    t.ok(pointsAt(res.body, '/querystring/cursor'))
  }

  for (const limit of ['0', '101', 'abc']) {
    const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users?limit=${limit}`, token: tenant.admin })
    t.equal(res.status, 400, `limit=${limit} is refused`)
    t.ok(pointsAt(res.body, '/querystring/limit'))
  }

  const unknown = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users?sort=email`, token: tenant.admin })
  t.equal(unknown.status, 400, 'an unknown query parameter is refused')
})

t.test('list users filtered by status', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const restricted = await tenant.user(['member'])
  const cancelled = await tenant.user(['member'])
  const active = await tenant.user(['member'])
  const base = `/v1/accounts/${tenant.accountId}/users`

  t.equal((await api.request({ method: 'PATCH', url: `${base}/${restricted.id}`, token: tenant.admin, body: { status: 'restricted' } })).status, 200)
  t.equal((await api.request({ method: 'DELETE', url: `${base}/${cancelled.id}`, token: tenant.admin })).status, 204)

  const ids = async (status: string) => {
    const res = await api.request({ method: 'GET', url: `${base}?status=${status}`, token: tenant.admin })
    t.equal(res.status, 200)
    for (const item of res.body.items) t.equal(item.status, status)
    return (res.body.items as { id: string }[]).map((item) => item.id).sort()
  }
  t.same(await ids('restricted'), [restricted.id])
  t.same(await ids('cancelled'), [cancelled.id])
  t.same(await ids('active'), [tenant.adminId, active.id].sort())

  const bad = await api.request({ method: 'GET', url: `${base}?status=deleted`, token: tenant.admin })
  t.equal(bad.status, 400)
  t.ok(pointsAt(bad.body, '/querystring/status'))
})

t.test('GET one user', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const created = await createUser(api, tenant.accountId, tenant.admin, {
    email: `one.${unique()}@example.test`,
    displayName: 'One',
    roles: ['member'],
  })
  const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users/${created.body.id}`, token: tenant.admin })
  t.equal(res.status, 200)
  t.same(res.body, created.body)

  const missing = await api.request({
    method: 'GET',
    url: `/v1/accounts/${tenant.accountId}/users/00000000-0000-4000-8000-00000000beef`,
    token: tenant.admin,
  })
  t.equal(missing.status, 404)
  t.equal(missing.body.code, 'not_found')

  const notUuid = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/users/42`, token: tenant.admin })
  t.equal(notUuid.status, 400)
  t.ok(pointsAt(notUuid.body, '/params/userId'))
})

t.test('PATCH a user: display name, roles, status, guardian consent stamped with the server time', async (t) => {
  const fixed = new Date('2025-03-04T05:06:07.890Z')
  const clock: Clock = { now: () => fixed }
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const url = `/v1/accounts/${tenant.accountId}/users/${member.id}`

  const renamed = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { displayName: 'New Name', roles: ['member', 'admin'] } })
  t.equal(renamed.status, 200)
  t.equal(renamed.body.displayName, 'New Name')
  t.same([...renamed.body.roles].sort(), ['admin', 'member'])
  let row = await userRow(tenant.accountId, member.id)
  t.equal(row?.displayName, 'New Name')
  t.same([...(row?.roles ?? [])].sort(), ['admin', 'member'])

  const restricted = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { status: 'restricted' } })
  t.equal(restricted.status, 200)
  t.equal(restricted.body.status, 'restricted')
  t.equal((await userRow(tenant.accountId, member.id))?.status, 'restricted')

  const cancel = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { status: 'cancelled' } })
  t.equal(cancel.status, 400, 'cancellation is DELETE, not a status PATCH')
  t.ok(pointsAt(cancel.body, '/body/status'))
  t.equal((await userRow(tenant.accountId, member.id))?.status, 'restricted')

  const reactivated = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { status: 'active' } })
  t.equal(reactivated.body.status, 'active')

  const consent = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { guardianConsent: { by: 'Parent Person' } } })
  t.equal(consent.status, 200)
  t.same(consent.body.guardianConsent, { by: 'Parent Person', at: fixed.toISOString() }, 'at is the server time')
  row = await userRow(tenant.accountId, member.id)
  t.equal(row?.guardianConsentBy, 'Parent Person')
  t.equal(row?.guardianConsentAt?.toISOString(), fixed.toISOString())

  const clientTime = await api.request({
    method: 'PATCH',
    url,
    token: tenant.admin,
    body: { guardianConsent: { by: 'Parent Person', at: '2000-01-01T00:00:00.000Z' } },
  })
  t.equal(clientTime.status, 400, 'the client cannot choose the consent time')
  t.ok(pointsAt(clientTime.body, '/body/guardianConsent/at'))

  const removed = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { guardianConsent: null } })
  t.equal(removed.status, 200)
  t.equal(removed.body.guardianConsent, null)
  row = await userRow(tenant.accountId, member.id)
  t.equal(row?.guardianConsentBy, null)
  t.equal(row?.guardianConsentAt, null)

  const picture = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { pictureUrl: 'http://example.test/p.png' } })
  t.equal(picture.status, 400, 'pictures are https only')
  t.ok(pointsAt(picture.body, '/body/pictureUrl'))

  const email = `Changed.${unique()}@Example.test`
  const changedEmail = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { email } })
  t.equal(changedEmail.body.email, email.toLowerCase(), 'a patched email is lower-cased too')
  t.equal((await userRow(tenant.accountId, member.id))?.email, email.toLowerCase())
})

t.test('P-MIN-1: isMinor follows the birth date and the account threshold, on both sides of it', async (t) => {
  const fixed = new Date('2025-06-15T12:00:00.000Z')
  const clock: Clock = { now: () => fixed }
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api, { minorAgeThreshold: 16 })
  const base = `/v1/accounts/${tenant.accountId}/users`

  // Sixteen today, and sixteen tomorrow.
  const adult = await createUser(api, tenant.accountId, tenant.admin, {
    email: `sixteen.${unique()}@example.test`,
    displayName: 'Turns sixteen today',
    roles: ['member'],
    birthDate: '2009-06-15',
  })
  const minor = await createUser(api, tenant.accountId, tenant.admin, {
    email: `fifteen.${unique()}@example.test`,
    displayName: 'Turns sixteen tomorrow',
    roles: ['member'],
    birthDate: '2009-06-16',
  })
  t.equal(adult.status, 201)
  t.equal(minor.status, 201)
  t.equal(adult.body.isMinor, false, 'exactly at the threshold is not a minor')
  t.equal(minor.body.isMinor, true, 'one day under the threshold is a minor')
  t.equal(adult.body.birthDate, '2009-06-15')
  t.equal((await userRow(tenant.accountId, minor.body.id))?.birthDate, '2009-06-16')
  t.equal((await userRow(tenant.accountId, minor.body.id))?.isMinor, false, 'the stored flag stays the verified flag only')

  const get = async (id: string) =>
    (await api.request({ method: 'GET', url: `${base}/${id}`, token: tenant.admin })).body.isMinor as boolean

  // The threshold is the account's: raising it makes the sixteen-year-old a minor.
  const raised = await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { minorAgeThreshold: 18 } })
  t.equal(raised.status, 200)
  t.equal(await get(adult.body.id), true, 'sixteen is a minor under threshold 18')
  t.equal(await get(minor.body.id), true)

  const lowered = await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { minorAgeThreshold: 13 } })
  t.equal(lowered.status, 200)
  t.equal(await get(adult.body.id), false)
  t.equal(await get(minor.body.id), false, 'fifteen is not a minor under threshold 13')

  // A verified flag makes a minor whatever the birth date says.
  const flagged = await api.request({ method: 'PATCH', url: `${base}/${adult.body.id}`, token: tenant.admin, body: { isMinor: true } })
  t.equal(flagged.body.isMinor, true)
  const unflagged = await api.request({ method: 'PATCH', url: `${base}/${adult.body.id}`, token: tenant.admin, body: { isMinor: false } })
  t.equal(unflagged.body.isMinor, false)

  // Removing the birth date leaves only the flag.
  t.equal((await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { minorAgeThreshold: 18 } })).status, 200)
  t.equal(await get(minor.body.id), true)
  const noDate = await api.request({ method: 'PATCH', url: `${base}/${minor.body.id}`, token: tenant.admin, body: { birthDate: null } })
  t.equal(noDate.body.isMinor, false)
  t.equal(noDate.body.birthDate, null)

  const verified = await createUser(api, tenant.accountId, tenant.admin, {
    email: `flag.${unique()}@example.test`,
    displayName: 'Verified minor',
    roles: ['member'],
    isMinor: true,
  })
  t.equal(verified.body.isMinor, true, 'a verified flag without a birth date is a minor')

  const badDate = await createUser(api, tenant.accountId, tenant.admin, {
    email: `bad.${unique()}@example.test`,
    displayName: 'Bad date',
    roles: ['member'],
    birthDate: '2009-02-30',
  })
  t.equal(badDate.status, 400)
  t.ok(pointsAt(badDate.body, '/body/birthDate'))
})

t.test('P-DSR-5: DELETE cancels a user: anonymised, out of every group, token no longer answers /v1/me', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const email = `cancel.${unique()}@example.test`
  const displayName = `Cancel Me ${unique()}`
  const created = await createUser(api, tenant.accountId, tenant.admin, {
    email,
    displayName,
    roles: ['member'],
    pictureUrl: 'https://example.test/me.png',
    birthDate: '1990-01-01',
  })
  t.equal(created.status, 201)
  const userId = created.body.id as string
  const url = `/v1/accounts/${tenant.accountId}/users/${userId}`
  const userToken = tokenFor(api.config, { sub: userId, acc: tenant.accountId, roles: ['member'] })
  await api.request({ method: 'PATCH', url, token: tenant.admin, body: { guardianConsent: { by: 'Guardian' } } })

  const me = await api.request({ method: 'GET', url: '/v1/me', token: userToken })
  t.equal(me.status, 200, 'the user answers /v1/me before cancellation')

  const groupIds: string[] = []
  for (const name of ['Sales', 'Support']) {
    const group = await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name } })
    t.equal(group.status, 201)
    groupIds.push(group.body.id)
    const put = await api.request({
      method: 'PUT',
      url: `/v1/accounts/${tenant.accountId}/groups/${group.body.id}/members/${userId}`,
      token: tenant.admin,
    })
    t.equal(put.status, 204)
  }
  const { db } = await testDatabase()
  const memberships = () =>
    db.select().from(groupMembers).where(and(eq(groupMembers.accountId, tenant.accountId), eq(groupMembers.userId, userId)))
  t.equal((await memberships()).length, 2)

  const deleted = await api.request({ method: 'DELETE', url, token: tenant.admin })
  t.equal(deleted.status, 204)
  t.equal(deleted.body, undefined)

  const read = await api.request({ method: 'GET', url, token: tenant.admin })
  t.equal(read.status, 200)
  t.equal(read.body.status, 'cancelled')
  t.not(read.body.email, email)
  t.not(read.body.displayName, displayName)
  t.equal(read.body.pictureUrl, null)
  t.equal(read.body.birthDate, null)
  t.equal(read.body.guardianConsent, null)

  const row = await userRow(tenant.accountId, userId)
  t.equal(row?.status, 'cancelled')
  t.not(row?.email, email)
  t.not(row?.displayName, displayName)
  t.equal(row?.pictureUrl, null)
  t.equal(row?.birthDate, null)
  t.equal(row?.guardianConsentBy, null)
  t.equal(row?.guardianConsentAt, null)
  const rowJson = JSON.stringify(row)
  t.notOk(rowJson.includes(email), 'the email is gone from the row')
  t.notOk(rowJson.includes(displayName), 'the display name is gone from the row')

  t.equal((await memberships()).length, 0, 'every group membership is removed')
  for (const groupId of groupIds) {
    const members = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/groups/${groupId}/members`, token: tenant.admin })
    t.same(members.body.items, [])
  }

  const meAfter = await api.request({ method: 'GET', url: '/v1/me', token: userToken })
  t.equal(meAfter.status, 401, 'a cancelled user\'s token no longer authenticates')
  t.equal(meAfter.body.code, 'unauthorized')

  const patch = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { displayName: 'Back' } })
  t.equal(patch.status, 404, 'a cancelled user cannot be edited back to life')
  t.equal((await userRow(tenant.accountId, userId))?.displayName, row?.displayName)

  const rejoin = await api.request({
    method: 'PUT',
    url: `/v1/accounts/${tenant.accountId}/groups/${groupIds[0]}/members/${userId}`,
    token: tenant.admin,
  })
  t.equal(rejoin.status, 404, 'a cancelled user cannot be put back in a group')

  const again = await api.request({ method: 'DELETE', url, token: tenant.admin })
  t.equal(again.status, 204, 'cancelling twice is harmless')

  const reused = await createUser(api, tenant.accountId, tenant.admin, { email, displayName: 'New owner', roles: ['member'] })
  t.equal(reused.status, 201, 'the freed email can be used by a new user')
})

t.test('a member calling admin user routes gets 403 and changes nothing', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const other = await tenant.user(['member'])
  const base = `/v1/accounts/${tenant.accountId}/users`
  const before = await accountUsers(tenant.accountId)

  const calls = [
    { method: 'POST' as const, url: base, body: { email: `m.${unique()}@example.test`, displayName: 'M', roles: ['admin'] } },
    { method: 'GET' as const, url: base },
    { method: 'GET' as const, url: `${base}/${other.id}` },
    { method: 'PATCH' as const, url: `${base}/${other.id}`, body: { displayName: 'Changed by member' } },
    { method: 'PATCH' as const, url: `${base}/${member.id}`, body: { roles: ['admin'] } },
    { method: 'DELETE' as const, url: `${base}/${other.id}` },
  ]
  for (const call of calls) {
    const res = await api.request({ ...call, token: member.token })
    t.equal(res.status, 403, `${call.method} ${call.url}`)
    t.equal(res.body.code, 'forbidden')
  }
  t.same(await accountUsers(tenant.accountId), before, 'no user row changed')
})

t.test('an admin of account A gets 404 for a user of account B, and nothing changes', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const victim = await b.user(['member'])
  const before = await userRow(b.accountId, victim.id)
  const auditBefore = await auditCount(b.accountId)

  for (const accountId of [b.accountId, a.accountId]) {
    const url = `/v1/accounts/${accountId}/users/${victim.id}`
    const get = await api.request({ method: 'GET', url, token: a.admin })
    t.equal(get.status, 404, `GET via account ${accountId === a.accountId ? 'A' : 'B'}`)
    t.equal(get.body.code, 'not_found')
    const patch = await api.request({ method: 'PATCH', url, token: a.admin, body: { displayName: 'Hijacked', roles: ['admin'] } })
    t.equal(patch.status, 404)
    const del = await api.request({ method: 'DELETE', url, token: a.admin })
    t.equal(del.status, 404)
  }
  const list = await api.request({ method: 'GET', url: `/v1/accounts/${b.accountId}/users`, token: a.admin })
  t.equal(list.status, 404)
  const create = await createUser(api, b.accountId, a.admin, { email: `in.${unique()}@example.test`, displayName: 'Planted', roles: ['admin'] })
  t.equal(create.status, 404)

  t.same(await userRow(b.accountId, victim.id), before, "B's user is unchanged")
  t.equal((await accountUsers(b.accountId)).length, 2, 'no user was planted in B')
  t.equal(await auditCount(b.accountId), auditBefore, "B's audit trail is unchanged")
})

t.test('roles cannot contain platform (400)', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const email = `plat.${unique()}@example.test`
  const created = await createUser(api, tenant.accountId, tenant.admin, { email, displayName: 'P', roles: ['platform'] })
  t.equal(created.status, 400)
  t.equal(created.body.code, 'validation_failed')
  t.ok(created.body.errors?.some((e: { pointer?: string }) => e.pointer?.startsWith('/body/roles')), 'errors[] points into roles')

  const mixed = await createUser(api, tenant.accountId, tenant.admin, { email, displayName: 'P', roles: ['member', 'platform'] })
  t.equal(mixed.status, 400)
  const empty = await createUser(api, tenant.accountId, tenant.admin, { email, displayName: 'P', roles: [] })
  t.equal(empty.status, 400, 'a user has at least one role')
  t.equal((await accountUsers(tenant.accountId)).some((row) => row.email === email), false)

  const patched = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}/users/${member.id}`,
    token: tenant.admin,
    body: { roles: ['platform'] },
  })
  t.equal(patched.status, 400)
  t.same((await userRow(tenant.accountId, member.id))?.roles, ['member'])
})

t.test('a client cannot set accountId or id by adding a field (400)', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const member = await a.user(['member'])
  const email = `smuggle.${unique()}@example.test`
  const forcedId = '00000000-0000-4000-8000-00000000f00d'

  const res = await createUser(api, a.accountId, a.admin, {
    email,
    displayName: 'Smuggler',
    roles: ['member'],
    accountId: b.accountId,
    id: forcedId,
  })
  t.equal(res.status, 400)
  t.equal(res.body.code, 'validation_failed')
  t.ok(pointsAt(res.body, '/body/accountId'))
  t.ok(pointsAt(res.body, '/body/id'))
  t.equal((await accountUsers(a.accountId)).some((row) => row.email === email), false)
  t.equal((await accountUsers(b.accountId)).some((row) => row.email === email), false)

  for (const field of ['accountId', 'id', 'createdAt']) {
    const value = field === 'accountId' ? b.accountId : field === 'id' ? forcedId : '2000-01-01T00:00:00.000Z'
    const patched = await api.request({
      method: 'PATCH',
      url: `/v1/accounts/${a.accountId}/users/${member.id}`,
      token: a.admin,
      body: { displayName: 'Moved', [field]: value },
    })
    t.equal(patched.status, 400, `PATCH ${field}`)
    t.ok(pointsAt(patched.body, `/body/${field}`))
  }
  const row = await userRow(a.accountId, member.id)
  t.equal(row?.accountId, a.accountId)
  t.equal(row?.displayName, 'Test User')
})

t.test('GET /v1/me returns the caller', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])

  const admin = await api.request({ method: 'GET', url: '/v1/me', token: tenant.admin })
  t.equal(admin.status, 200)
  t.equal(admin.body.id, tenant.adminId)
  t.equal(admin.body.accountId, tenant.accountId)

  const me = await api.request({ method: 'GET', url: '/v1/me', token: member.token })
  t.equal(me.status, 200)
  t.equal(me.body.id, member.id)
  t.same(me.body.roles, ['member'])
  const row = await userRow(tenant.accountId, member.id)
  t.equal(me.body.email, row?.email)

  const platform = await api.request({ method: 'GET', url: '/v1/me', token: platformToken(api.config) })
  t.equal(platform.status, 404, 'a platform operator is not a user')

  const none = await api.request({ method: 'GET', url: '/v1/me' })
  t.equal(none.status, 401)
})

t.test('a NUL character in a text field is refused with 400, not a 500, and nothing is written', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const email = `nul.${unique()}@example.test`
  const before = await accountUsers(tenant.accountId)

  const created = await createUser(api, tenant.accountId, tenant.admin, { email, displayName: 'Nul\u0000Name', roles: ['member'] })
  t.equal(created.status, 400, 'displayName with NUL on create')
  t.equal(created.body.code, 'validation_failed')

  const url = `/v1/accounts/${tenant.accountId}/users/${member.id}`
  const renamed = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { displayName: 'Nul\u0000Name' } })
  t.equal(renamed.status, 400, 'displayName with NUL on PATCH')
  const guardian = await api.request({ method: 'PATCH', url, token: tenant.admin, body: { guardianConsent: { by: 'Par\u0000ent' } } })
  t.equal(guardian.status, 400, 'guardianConsent.by with NUL')

  t.same(await accountUsers(tenant.accountId), before, 'nothing was written')
})

t.test("P-DSR-5: a cancelled admin's token no longer manages the account", async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const second = await tenant.user(['admin'])
  const base = `/v1/accounts/${tenant.accountId}/users`
  t.equal((await api.request({ method: 'DELETE', url: `${base}/${second.id}`, token: tenant.admin })).status, 204)
  const before = await accountUsers(tenant.accountId)
  const auditBefore = await auditCount(tenant.accountId)

  const refused = (status: number) => status === 401
  const list = await api.request({ method: 'GET', url: base, token: second.token })
  t.ok(refused(list.status), `listing users is refused (got ${list.status})`)
  const create = await createUser(api, tenant.accountId, second.token, {
    email: `planted.${unique()}@example.test`,
    displayName: 'Planted admin',
    roles: ['admin'],
  })
  t.ok(refused(create.status), `creating an admin is refused (got ${create.status})`)
  const patch = await api.request({ method: 'PATCH', url: `${base}/${tenant.adminId}`, token: second.token, body: { status: 'restricted' } })
  t.ok(refused(patch.status), `restricting the remaining admin is refused (got ${patch.status})`)

  t.same(await accountUsers(tenant.accountId), before, 'no user was created or changed')
  t.equal(await auditCount(tenant.accountId), auditBefore, 'no audit entry was written')
})
