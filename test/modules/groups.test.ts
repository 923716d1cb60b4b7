import { and, eq } from 'drizzle-orm'
import t from 'tap'
import { groupMembers, groups } from '../../db/schema/index.js'
import { buildTestApp, createTenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows as auditActions } from '../helpers/audit.js'

async function groupRows(accountId: string) {
  const { db } = await testDatabase()
  return db.select().from(groups).where(eq(groups.accountId, accountId))
}

async function memberRows(accountId: string, groupId: string) {
  const { db } = await testDatabase()
  return db
    .select()
    .from(groupMembers)
    .where(and(eq(groupMembers.accountId, accountId), eq(groupMembers.groupId, groupId)))
}


function createGroup(api: TestApp, accountId: string, token: string, body: Record<string, unknown>) {
  return api.request({ method: 'POST', url: `/v1/accounts/${accountId}/groups`, token, body })
}

const memberUrl = (accountId: string, groupId: string, userId: string) =>
  `/v1/accounts/${accountId}/groups/${groupId}/members/${userId}`

t.test('an admin creates groups: rank defaults to 0, or is given', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)

  const plain = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Engineering' })
  t.equal(plain.status, 201)
  t.match(plain.body, { id: String, accountId: tenant.accountId, name: 'Engineering', rank: 0, createdAt: String, updatedAt: String })

  const ranked = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Legal', rank: 7 })
  t.equal(ranked.status, 201)
  t.equal(ranked.body.rank, 7)

  const negative = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Interns', rank: -3 })
  t.equal(negative.body.rank, -3)

  const rows = await groupRows(tenant.accountId)
  t.equal(rows.length, 3)
  const byId = new Map(rows.map((row) => [row.id, row]))
  t.equal(byId.get(plain.body.id)?.rank, 0)
  t.equal(byId.get(plain.body.id)?.name, 'Engineering')
  t.equal(byId.get(ranked.body.id)?.rank, 7)

  for (const [body, pointer] of [
    [{ name: 'Too high', rank: 1001 }, '/body/rank'],
    [{ name: 'Fraction', rank: 1.5 }, '/body/rank'],
    [{ name: '   ' }, '/body/name'],
    [{ rank: 1 }, '/body/name'],
    [{ name: 'Extra', accountId: tenant.accountId }, '/body/accountId'],
  ] as const) {
    const res = await createGroup(api, tenant.accountId, tenant.admin, body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.ok(res.body.errors?.some((e: { pointer?: string }) => e.pointer === pointer), `points at ${pointer}`)
  }
  t.equal((await groupRows(tenant.accountId)).length, 3, 'refused bodies write nothing')
})

t.test('a NUL character in a group name is refused with 400, not a 500', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const res = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Nul\u0000Group' })
  t.equal(res.status, 400)
  t.equal(res.body.code, 'validation_failed')
  t.ok(res.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/name'), 'points at /body/name')
  t.equal((await groupRows(tenant.accountId)).length, 0, 'nothing was written')
})

t.test('409 group_name_taken for a name already used in the account', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  t.equal((await createGroup(api, a.accountId, a.admin, { name: 'Finance' })).status, 201)
  const auditBefore = (await auditActions(a.accountId)).length

  const again = await createGroup(api, a.accountId, a.admin, { name: 'Finance', rank: 3 })
  t.equal(again.status, 409)
  t.equal(again.body.code, 'group_name_taken')
  t.ok(again.body.errors?.some((e: { pointer?: string }) => e.pointer === '/body/name'))

  const trimmed = await createGroup(api, a.accountId, a.admin, { name: '  Finance ' })
  t.equal(trimmed.status, 409, 'names are compared after trimming')

  t.equal((await groupRows(a.accountId)).length, 1)
  t.equal((await auditActions(a.accountId)).length, auditBefore, 'a refused create writes no audit entry')

  const elsewhere = await createGroup(api, b.accountId, b.admin, { name: 'Finance' })
  t.equal(elsewhere.status, 201, 'another account may use the same name')
})

t.test('list groups with cursor pagination', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const created: string[] = []
  for (let i = 0; i < 5; i++) {
    const res = await createGroup(api, tenant.accountId, tenant.admin, { name: `Group ${i}`, rank: i })
    created.push(res.body.id)
  }

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
    const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/groups${query}`, token: tenant.admin })
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 2)
    for (const item of res.body.items) {
      t.equal(item.accountId, tenant.accountId)
      seen.push(item.id)
    }
    cursor = res.body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.equal(cursor, null)
  t.equal(new Set(seen).size, 5, 'no duplicates')
  t.same([...seen].sort(), [...created].sort(), 'nothing missing')

  const bad = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/groups?cursor=nope`, token: tenant.admin })
  t.equal(bad.status, 400)
  t.equal(bad.body.code, 'validation_failed')

  // Another account's groups never appear in the list.
  const other = await createTenant(api)
  await createGroup(api, other.accountId, other.admin, { name: 'Group 0' })
  const all = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/groups?limit=100`, token: tenant.admin })
  t.equal(all.body.items.length, 5)
})

t.test('PUT member is 204 and idempotent: a second PUT writes no second audit entry', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const group = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Design' })
  const member = await tenant.user(['member'])
  const url = memberUrl(tenant.accountId, group.body.id, member.id)

  const first = await api.request({ method: 'PUT', url, token: tenant.admin })
  t.equal(first.status, 204)
  t.equal(first.body, undefined)
  const afterFirst = await auditActions(tenant.accountId)
  const added = afterFirst.filter((e) => e.action === 'group.member_added')
  t.equal(added.length, 1)
  t.equal(added[0]?.targetId, group.body.id)
  t.same(added[0]?.details, { userId: member.id })

  const rows = await memberRows(tenant.accountId, group.body.id)
  t.equal(rows.length, 1)
  t.equal(rows[0]?.userId, member.id)
  const addedAt = rows[0]?.addedAt.toISOString()

  const second = await api.request({ method: 'PUT', url, token: tenant.admin })
  t.equal(second.status, 204)
  t.equal((await auditActions(tenant.accountId)).length, afterFirst.length, 'no second audit entry')
  const again = await memberRows(tenant.accountId, group.body.id)
  t.equal(again.length, 1, 'still one membership')
  t.equal(again[0]?.addedAt.toISOString(), addedAt, 'the membership keeps its first addedAt')
})

t.test('list members with pagination', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const group = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Ops' })
  const ids: string[] = []
  for (let i = 0; i < 3; i++) {
    const user = await tenant.user(['member'])
    ids.push(user.id)
    t.equal((await api.request({ method: 'PUT', url: memberUrl(tenant.accountId, group.body.id, user.id), token: tenant.admin })).status, 204)
  }
  const base = `/v1/accounts/${tenant.accountId}/groups/${group.body.id}/members`

  const first = await api.request({ method: 'GET', url: `${base}?limit=2`, token: tenant.admin })
  t.equal(first.status, 200)
  t.equal(first.body.items.length, 2)
  t.type(first.body.nextCursor, 'string')
  const second = await api.request({
    method: 'GET',
    url: `${base}?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
    token: tenant.admin,
  })
  t.equal(second.body.items.length, 1)
  t.equal(second.body.nextCursor, null)
  const seen = [...first.body.items, ...second.body.items].map((item: { userId: string }) => item.userId)
  t.same([...seen].sort(), [...ids].sort())
  for (const item of first.body.items) t.match(item, { userId: String, addedAt: String })

  const missingGroup = await api.request({
    method: 'GET',
    url: `/v1/accounts/${tenant.accountId}/groups/00000000-0000-4000-8000-00000000cafe/members`,
    token: tenant.admin,
  })
  t.equal(missingGroup.status, 404)
  t.equal(missingGroup.body.code, 'not_found')
})

t.test('DELETE member is 204, then 404 on a second DELETE', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const group = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Research' })
  const member = await tenant.user(['member'])
  const url = memberUrl(tenant.accountId, group.body.id, member.id)
  t.equal((await api.request({ method: 'PUT', url, token: tenant.admin })).status, 204)

  const removed = await api.request({ method: 'DELETE', url, token: tenant.admin })
  t.equal(removed.status, 204)
  t.equal((await memberRows(tenant.accountId, group.body.id)).length, 0)
  const entries = await auditActions(tenant.accountId)
  const last = entries[entries.length - 1]
  t.equal(last?.action, 'group.member_removed')
  t.same(last?.details, { userId: member.id })

  const again = await api.request({ method: 'DELETE', url, token: tenant.admin })
  t.equal(again.status, 404)
  t.equal(again.body.code, 'not_found')
  t.equal((await auditActions(tenant.accountId)).length, entries.length, 'the 404 wrote no audit entry')
})

t.test('PUT a user of another account, or into a nonexistent group, is 404', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const groupA = await createGroup(api, a.accountId, a.admin, { name: 'Alpha' })
  const groupB = await createGroup(api, b.accountId, b.admin, { name: 'Beta' })
  const userB = await b.user(['member'])
  const userA = await a.user(['member'])
  const auditBefore = (await auditActions(a.accountId)).length

  const foreignUser = await api.request({ method: 'PUT', url: memberUrl(a.accountId, groupA.body.id, userB.id), token: a.admin })
  t.equal(foreignUser.status, 404, "B's user cannot join A's group")
  t.equal(foreignUser.body.code, 'not_found')

  const foreignGroup = await api.request({ method: 'PUT', url: memberUrl(a.accountId, groupB.body.id, userA.id), token: a.admin })
  t.equal(foreignGroup.status, 404, "A's user cannot join B's group through A's path")

  const nowhere = await api.request({
    method: 'PUT',
    url: memberUrl(a.accountId, '00000000-0000-4000-8000-00000000dead', userA.id),
    token: a.admin,
  })
  t.equal(nowhere.status, 404)

  const missingUser = await api.request({
    method: 'PUT',
    url: memberUrl(a.accountId, groupA.body.id, '00000000-0000-4000-8000-00000000dead'),
    token: a.admin,
  })
  t.equal(missingUser.status, 404)

  const viaB = await api.request({ method: 'PUT', url: memberUrl(b.accountId, groupB.body.id, userB.id), token: a.admin })
  t.equal(viaB.status, 404, "A's admin cannot reach B's path")
  const listB = await api.request({ method: 'GET', url: `/v1/accounts/${b.accountId}/groups`, token: a.admin })
  t.equal(listB.status, 404)
  const createInB = await createGroup(api, b.accountId, a.admin, { name: 'Planted' })
  t.equal(createInB.status, 404)

  t.equal((await memberRows(a.accountId, groupA.body.id)).length, 0)
  t.equal((await memberRows(b.accountId, groupB.body.id)).length, 0)
  t.equal((await groupRows(b.accountId)).length, 1)
  t.equal((await auditActions(a.accountId)).length, auditBefore, 'no audit entry for refused changes')
})

t.test('a member gets 403 on every group route', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(api, tenant.accountId, tenant.admin, { name: 'Managers' })
  const base = `/v1/accounts/${tenant.accountId}/groups`

  const calls = [
    { method: 'POST' as const, url: base, body: { name: 'By member' } },
    { method: 'GET' as const, url: base },
    { method: 'GET' as const, url: `${base}/${group.body.id}/members` },
    { method: 'PUT' as const, url: memberUrl(tenant.accountId, group.body.id, member.id) },
    { method: 'DELETE' as const, url: memberUrl(tenant.accountId, group.body.id, member.id) },
  ]
  for (const call of calls) {
    const res = await api.request({ ...call, token: member.token })
    t.equal(res.status, 403, `${call.method} ${call.url}`)
    t.equal(res.body.code, 'forbidden')
  }
  t.equal((await groupRows(tenant.accountId)).length, 1)
  t.equal((await memberRows(tenant.accountId, group.body.id)).length, 0)
})
