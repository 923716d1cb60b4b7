import { and, eq, sql } from 'drizzle-orm'
import t from 'tap'
import { auditEntries, auditHeads, jobs, users } from '../../db/schema/index.js'
import { entryHash } from '../../src/modules/audit/audit.chain.js'
import { PRIVACY_JOB, PRIVACY_JOB_ATTEMPTS } from '../../src/modules/privacy/privacy.service.js'
import { rowsOf } from '../../db/client.js'
import { sqlState } from '../../src/lib/errors.js'
import { buildTestApp, createTenant, platformToken, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

const unique = () => Math.random().toString(36).slice(2)
const GENESIS = '0'.repeat(64)

interface Entry {
  id: string
  seq: number
  at: string
  actor: { type: string; id: string }
  action: string
  target: { type: string; id: string }
  details: Record<string, unknown>
  prevHash: string
  hash: string
}

/** Every entry of the account, through the API, walking the cursor. */
async function allEntries(api: TestApp, tenant: Tenant, limit = 100): Promise<Entry[]> {
  const entries: Entry[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const query: string = cursor ? `?limit=${limit}&cursor=${encodeURIComponent(cursor)}` : `?limit=${limit}`
    const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit${query}`, token: tenant.admin })
    if (res.status !== 200) throw new Error(`audit page: ${res.status} ${JSON.stringify(res.body)}`)
    entries.push(...(res.body.items as Entry[]))
    cursor = res.body.nextCursor
    if (!cursor) break
  }
  return entries
}


async function headOf(accountId: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(auditHeads).where(eq(auditHeads.accountId, accountId))
  return row
}

t.test('P-GOV-2: every change writes one audit entry with actor, action, target and field names only', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const admin = { type: 'user', id: tenant.adminId }
  const platform = { type: 'platform', id: 'platform-operator' }

  const start = await allEntries(api, tenant)
  t.equal(start.length, 2, 'account creation and its first admin')
  t.match(start[0], { seq: 1, actor: platform, action: 'account.created', target: { type: 'account', id: tenant.accountId } })
  t.same(start[0]?.details, { fields: ['name', 'dataRegion'] })
  t.match(start[1], { seq: 2, actor: platform, action: 'user.created', target: { type: 'user', id: tenant.adminId } })

  // Personal values used below: none of them may appear in any entry.
  const email = `Grace.${unique()}@Example.test`
  const newEmail = `grace.renamed.${unique()}@example.test`
  const displayName = `Grace Hopper ${unique()}`
  const newDisplayName = `Rear Admiral ${unique()}`
  const guardian = `Guardian Person ${unique()}`
  const pictureUrl = `https://example.test/${unique()}.png`
  const birthDate = '1996-12-09'
  const personal = [email, email.toLowerCase(), newEmail, displayName, newDisplayName, guardian, pictureUrl, birthDate]

  let count = start.length
  async function expectOne(label: string, expected: Partial<Entry>): Promise<Entry> {
    const entries = await allEntries(api, tenant)
    t.equal(entries.length, count + 1, `${label}: exactly one new entry`)
    count = entries.length
    const last = entries[entries.length - 1]!
    t.match(last, { seq: count, ...expected }, `${label}: ${expected.action}`)
    return last
  }

  const created = await api.request({
    method: 'POST',
    url: `/v1/accounts/${tenant.accountId}/users`,
    token: tenant.admin,
    body: { email, displayName, roles: ['member'], pictureUrl, birthDate },
  })
  t.equal(created.status, 201)
  const userId = created.body.id as string
  const userCreated = await expectOne('create user', { actor: admin, action: 'user.created', target: { type: 'user', id: userId } })
  t.same([...(userCreated.details.fields as string[])].sort(), ['birthDate', 'displayName', 'email', 'pictureUrl', 'roles'])
  t.same(userCreated.details.roles, ['member'])

  const patched = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}/users/${userId}`,
    token: tenant.admin,
    body: { email: newEmail, displayName: newDisplayName, roles: ['member', 'recorder'] },
  })
  t.equal(patched.status, 200)
  const userUpdated = await expectOne('patch user', { actor: admin, action: 'user.updated', target: { type: 'user', id: userId } })
  t.same([...(userUpdated.details.fields as string[])].sort(), ['displayName', 'email', 'roles'])

  const restricted = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}/users/${userId}`,
    token: tenant.admin,
    body: { status: 'restricted', guardianConsent: { by: guardian } },
  })
  t.equal(restricted.status, 200)
  const statusChanged = await expectOne('restrict user', { action: 'user.updated', target: { type: 'user', id: userId } })
  t.equal(statusChanged.details.status, 'restricted')
  t.same([...(statusChanged.details.fields as string[])].sort(), ['guardianConsentAt', 'guardianConsentBy', 'status'])

  const group = await api.request({
    method: 'POST',
    url: `/v1/accounts/${tenant.accountId}/groups`,
    token: tenant.admin,
    body: { name: 'Auditors', rank: 2 },
  })
  t.equal(group.status, 201)
  const groupId = group.body.id as string
  const groupCreated = await expectOne('create group', { actor: admin, action: 'group.created', target: { type: 'group', id: groupId } })
  t.same(groupCreated.details, { rank: 2 })

  const memberUrl = `/v1/accounts/${tenant.accountId}/groups/${groupId}/members/${userId}`
  t.equal((await api.request({ method: 'PUT', url: memberUrl, token: tenant.admin })).status, 204)
  await expectOne('add member', { actor: admin, action: 'group.member_added', target: { type: 'group', id: groupId }, details: { userId } })

  t.equal((await api.request({ method: 'DELETE', url: memberUrl, token: tenant.admin })).status, 204)
  await expectOne('remove member', { actor: admin, action: 'group.member_removed', target: { type: 'group', id: groupId }, details: { userId } })

  t.equal((await api.request({ method: 'PUT', url: memberUrl, token: tenant.admin })).status, 204)
  await expectOne('add member again', { action: 'group.member_added' })

  const account = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}`,
    token: tenant.admin,
    body: { minorAgeThreshold: 18, requestDeadlineDays: 20 },
  })
  t.equal(account.status, 200)
  const accountUpdated = await expectOne('patch account', {
    actor: admin,
    action: 'account.updated',
    target: { type: 'account', id: tenant.accountId },
  })
  t.same([...(accountUpdated.details.fields as string[])].sort(), ['minorAgeThreshold', 'requestDeadlineDays'])

  const byPlatform = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}`,
    token: platformToken(api.config),
    body: { requestDeadlineBusinessDays: true },
  })
  t.equal(byPlatform.status, 200)
  await expectOne('platform patches account', { actor: platform, action: 'account.updated', details: { fields: ['requestDeadlineBusinessDays'] } })

  t.equal((await api.request({ method: 'DELETE', url: `/v1/accounts/${tenant.accountId}/users/${userId}`, token: tenant.admin })).status, 204)
  const cancelled = await expectOne('cancel user', { actor: admin, action: 'user.cancelled', target: { type: 'user', id: userId } })
  t.same(cancelled.details.groupsLeft, [groupId])
  t.ok(Array.isArray(cancelled.details.anonymised))

  // Changes that change nothing write nothing.
  t.equal((await api.request({ method: 'PUT', url: `/v1/accounts/${tenant.accountId}/groups/${groupId}/members/${tenant.adminId}`, token: tenant.admin })).status, 204)
  await expectOne('add the admin', { action: 'group.member_added', details: { userId: tenant.adminId } })
  t.equal((await api.request({ method: 'PUT', url: `/v1/accounts/${tenant.accountId}/groups/${groupId}/members/${tenant.adminId}`, token: tenant.admin })).status, 204)
  t.equal((await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { minorAgeThreshold: 18 } })).status, 200)
  t.equal((await api.request({ method: 'DELETE', url: `/v1/accounts/${tenant.accountId}/users/${userId}`, token: tenant.admin })).status, 204)
  const final = await allEntries(api, tenant)
  t.equal(final.length, count, 'idempotent repeats and no-op patches write no entry')

  const json = JSON.stringify(final)
  for (const value of personal) t.notOk(json.includes(value), `no entry holds the personal value ${value}`)
  // The admin's own personal fields, made by the helper, never appear either.
  const { db } = await testDatabase()
  const [adminRow] = await db.select().from(users).where(and(eq(users.accountId, tenant.accountId), eq(users.id, tenant.adminId)))
  t.ok(adminRow)
  t.notOk(json.includes(adminRow!.email), "no entry holds the admin's email")

  const rows = await auditRows(tenant.accountId)
  t.equal(rows.length, final.length, 'the API answers every row of the account')
  t.notOk(JSON.stringify(rows).includes(guardian), 'the raw rows hold no personal value either')
})

t.test('audit entries are paged by cursor in seq order and chain their hashes', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  for (let i = 0; i < 3; i++) await tenant.user(['member'])
  await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name: 'G' } })
  const total = (await auditRows(tenant.accountId)).length
  t.equal(total, 6)

  const seqs: number[] = []
  const entries: Entry[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const query: string = cursor ? `?limit=4&cursor=${encodeURIComponent(cursor)}` : '?limit=4'
    const res = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit${query}`, token: tenant.admin })
    t.equal(res.status, 200)
    t.ok(res.body.items.length <= 4)
    for (const item of res.body.items as Entry[]) {
      seqs.push(item.seq)
      entries.push(item)
    }
    cursor = res.body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 2)
  t.equal(cursor, null, 'the last page has nextCursor null')
  t.same(seqs, [1, 2, 3, 4, 5, 6], 'every entry once, ordered by seq')

  t.equal(entries[0]?.prevHash, GENESIS, 'the chain starts at the genesis hash')
  for (let i = 1; i < entries.length; i++) t.equal(entries[i]?.prevHash, entries[i - 1]?.hash, `entry ${i + 1} links to entry ${i}`)
  const head = await headOf(tenant.accountId)
  t.equal(head?.seq, 6)
  t.equal(head?.hash, entries[5]?.hash, 'the head is the last entry')

  const small = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit?limit=1`, token: tenant.admin })
  t.equal(small.body.items[0].seq, 1)
  const next = await api.request({
    method: 'GET',
    url: `/v1/accounts/${tenant.accountId}/audit?limit=1&cursor=${encodeURIComponent(small.body.nextCursor)}`,
    token: tenant.admin,
  })
  t.equal(next.body.items[0].seq, 2)

  const userCursor = Buffer.from('00000000-0000-4000-8000-000000000000').toString('base64url')
  for (const bad of ['garbage', userCursor, Buffer.from('-1').toString('base64url')]) {
    const res = await api.request({
      method: 'GET',
      url: `/v1/accounts/${tenant.accountId}/audit?cursor=${encodeURIComponent(bad)}`,
      token: tenant.admin,
    })
    t.equal(res.status, 400, `cursor ${bad} is refused`)
    t.equal(res.body.code, 'validation_failed')
  }
})

t.test('a failed change writes no audit entry', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const other = await createTenant(api)
  const email = `taken.${unique()}@example.test`
  t.equal(
    (await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/users`, token: tenant.admin, body: { email, displayName: 'T', roles: ['member'] } })).status,
    201,
  )
  t.equal(
    (await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name: 'Taken' } })).status,
    201,
  )
  const member = await tenant.user(['member'])
  const before = await auditRows(tenant.accountId)
  const headBefore = await headOf(tenant.accountId)

  const failures = [
    { label: '409 email_taken', method: 'POST' as const, url: `/v1/accounts/${tenant.accountId}/users`, token: tenant.admin, body: { email, displayName: 'Again', roles: ['member'] }, status: 409, code: 'email_taken' },
    { label: '409 group_name_taken', method: 'POST' as const, url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name: 'Taken' }, status: 409, code: 'group_name_taken' },
    { label: '409 data_region_immutable', method: 'PATCH' as const, url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { dataRegion: 'us', name: 'Moved' }, status: 409, code: 'data_region_immutable' },
    { label: '400 validation', method: 'PATCH' as const, url: `/v1/accounts/${tenant.accountId}/users/${member.id}`, token: tenant.admin, body: { displayName: 'X', status: 'cancelled' }, status: 400, code: 'validation_failed' },
    { label: '403 member', method: 'PATCH' as const, url: `/v1/accounts/${tenant.accountId}/users/${member.id}`, token: member.token, body: { displayName: 'X' }, status: 403, code: 'forbidden' },
    { label: '404 other account', method: 'DELETE' as const, url: `/v1/accounts/${tenant.accountId}/users/${member.id}`, token: other.admin, status: 404, code: 'not_found' },
    { label: '404 missing membership', method: 'DELETE' as const, url: `/v1/accounts/${tenant.accountId}/groups/00000000-0000-4000-8000-000000000001/members/${member.id}`, token: tenant.admin, status: 404, code: 'not_found' },
  ]
  for (const { label, status, code, ...call } of failures) {
    const res = await api.request(call)
    t.equal(res.status, status, label)
    t.equal(res.body.code, code, label)
  }

  t.same(await auditRows(tenant.accountId), before, 'no entry was written')
  t.same(await headOf(tenant.accountId), headBefore, 'the chain head did not move')
  const verify = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit/verify`, token: tenant.admin })
  t.equal(verify.body.valid, true, 'a rolled-back change leaves the chain intact')
})

t.test('P-GOV-2: the audit trail is append-only in the database and verify detects a tampered entry', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  await tenant.user(['member'])
  await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name: 'Tamper', rank: 1 } })
  await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}`, token: tenant.admin, body: { requestDeadlineDays: 9 } })
  const verifyUrl = `/v1/accounts/${tenant.accountId}/audit/verify`

  const intact = await api.request({ method: 'GET', url: verifyUrl, token: tenant.admin })
  t.equal(intact.status, 200)
  t.same(intact.body, { valid: true, entriesChecked: 5, firstInvalidSeq: null, headSeq: 5, checkpointSeq: null })

  const { db } = await testDatabase()
  const tamperedSeq = 4
  const [original] = await db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.accountId, tenant.accountId), eq(auditEntries.seq, tamperedSeq)))
  t.ok(original)

  // The trigger refuses an UPDATE and a DELETE of an entry.
  const update = await db
    .execute(sql`update audit_entries set details = '{"fields":["forged"]}'::jsonb where account_id = ${tenant.accountId} and seq = ${tamperedSeq}`)
    .then(() => undefined, (error: unknown) => error)
  t.ok(update, 'the UPDATE is refused by the database')
  t.equal(sqlState(update), '42501', 'with insufficient_privilege')
  const del = await db
    .execute(sql`delete from audit_entries where account_id = ${tenant.accountId} and seq = ${tamperedSeq}`)
    .then(() => undefined, (error: unknown) => error)
  t.ok(del, 'the DELETE is refused by the database')
  t.equal(sqlState(del), '42501')
  t.same((await auditRows(tenant.accountId)).length, 5, 'nothing was removed')

  // Someone with the power to disable the trigger edits an entry. One transaction, so the
  // trigger is never off for anyone else, and is back on whatever happens.
  await db.transaction(async (tx) => {
    await tx.execute(sql`alter table audit_entries disable trigger audit_entries_append_only`)
    await tx.execute(
      sql`update audit_entries set details = jsonb_set(details, '{rank}', '99'::jsonb) where account_id = ${tenant.accountId} and seq = ${tamperedSeq}`,
    )
    await tx.execute(sql`alter table audit_entries enable trigger audit_entries_append_only`)
  })
  const [edited] = await db
    .select()
    .from(auditEntries)
    .where(and(eq(auditEntries.accountId, tenant.accountId), eq(auditEntries.seq, tamperedSeq)))
  t.equal(edited?.action, 'group.created', 'the tampered entry is the group creation')
  t.same(edited?.details, { rank: 99 }, 'the edit landed')
  t.equal(edited?.hash, original?.hash, 'the stored hash was left as it was')

  const broken = await api.request({ method: 'GET', url: verifyUrl, token: tenant.admin })
  t.equal(broken.status, 200)
  t.equal(broken.body.valid, false)
  t.equal(broken.body.firstInvalidSeq, tamperedSeq)
  t.equal(broken.body.headSeq, 5)

  const stillRefused = await db
    .execute(sql`update audit_entries set details = '{}'::jsonb where account_id = ${tenant.accountId} and seq = 1`)
    .then(() => undefined, (error: unknown) => error)
  t.ok(stillRefused, 'the trigger is enabled again')
})

t.test('P-GOV-2: verify detects an entry deleted from the end of the trail', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  await tenant.user(['member'])
  const verifyUrl = `/v1/accounts/${tenant.accountId}/audit/verify`
  t.same((await api.request({ method: 'GET', url: verifyUrl, token: tenant.admin })).body, {
    valid: true,
    entriesChecked: 3,
    firstInvalidSeq: null,
    headSeq: 3,
    checkpointSeq: null,
  })

  const { db } = await testDatabase()
  await db.transaction(async (tx) => {
    await tx.execute(sql`alter table audit_entries disable trigger audit_entries_append_only`)
    await tx.execute(sql`delete from audit_entries where account_id = ${tenant.accountId} and seq = 3`)
    await tx.execute(sql`alter table audit_entries enable trigger audit_entries_append_only`)
  })

  const broken = await api.request({ method: 'GET', url: verifyUrl, token: tenant.admin })
  t.equal(broken.body.valid, false)
  t.equal(broken.body.firstInvalidSeq, 3, 'the missing entry is named')
  t.equal(broken.body.headSeq, 3)
})

t.test('a member gets 403 on the audit routes; another account and the platform get 404', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const other = await createTenant(api)
  const member = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const urls = [`/v1/accounts/${tenant.accountId}/audit`, `/v1/accounts/${tenant.accountId}/audit/verify`]

  for (const url of urls) {
    for (const token of [member.token, recorder.token]) {
      const res = await api.request({ method: 'GET', url, token })
      t.equal(res.status, 403, url)
      t.equal(res.body.code, 'forbidden')
    }
    const foreign = await api.request({ method: 'GET', url, token: other.admin })
    t.equal(foreign.status, 404, `${url}: another account's admin`)
    t.equal(foreign.body.code, 'not_found')
    // The operator acts on the customer's instructions, not on its data (P-GOV-1).
    const operator = await api.request({ method: 'GET', url, token: platformToken(api.config) })
    t.equal(operator.status, 404, `${url}: the platform operator`)
    const anonymous = await api.request({ method: 'GET', url })
    t.equal(anonymous.status, 401)
  }
})

t.test('a trail that cannot be brought up to date is not served: its page and an export answer 503, a request’s work is retried, verify names the forged entry, nothing pending is lost', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const filed = await api.request({ method: 'POST', url: '/v1/me/privacy-requests', token: member.token, body: { type: 'access' } })
  t.equal(filed.status, 201)
  const head = (await headOf(tenant.accountId))!
  const { db } = await testDatabase()
  // An entry written past the head behind the chainer's back, hashed as the chain would: it
  // stops every chaining run (its seq is taken) and only its place gives it away.
  const forged = {
    accountId: tenant.accountId,
    seq: head.seq + 1,
    id: '01a24c00-0000-7000-8000-000000000001',
    at: new Date(),
    actorType: 'system' as const,
    actorId: 'forger',
    action: 'forged',
    targetType: 'account',
    targetId: tenant.accountId,
    details: {},
  }
  await db.insert(auditEntries).values({ ...forged, prevHash: head.hash, hash: entryHash(head.hash, forged) })
  const forgedRows = async () => (await db.select().from(auditEntries).where(and(eq(auditEntries.accountId, tenant.accountId), eq(auditEntries.actorId, 'forger')))).length
  const pending = async () => rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from audit_pending where account_id = ${tenant.accountId}`))[0]!.n

  // The change itself succeeds; its event waits in audit_pending.
  const renamed = await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/users/${member.id}`, token: tenant.admin, body: { displayName: 'Renamed' } })
  t.equal(renamed.status, 200)
  t.equal(await pending(), 1, 'the rename’s event is kept pending')

  const page = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit`, token: tenant.admin })
  t.equal(page.status, 503)
  t.equal(page.headers['retry-after'], '2')
  t.same(page.body, {
    type: 'urn:consentry:problem:audit_unavailable',
    title: 'Service Unavailable',
    status: 503,
    code: 'audit_unavailable',
    detail: 'The audit trail could not be brought up to date; retry after the pause in Retry-After',
  })

  const exported = await api.request({ method: 'GET', url: '/v1/me/export', token: member.token })
  t.equal(exported.status, 503, 'an export without the pending event is not handed out')
  t.equal(exported.body.code, 'audit_unavailable')

  // The request's work fails its attempt and waits for the next; nothing is stored.
  await api.app.services.jobs.runDue()
  const jobOf = async () =>
    (await db.select().from(jobs).where(and(eq(jobs.kind, PRIVACY_JOB), sql`${jobs.payload} ->> 'requestId' = ${filed.body.id}`)))[0]!
  const failed = await jobOf()
  t.match(failed, { status: 'queued', attempts: 1, maxAttempts: PRIVACY_JOB_ATTEMPTS })
  t.match(failed.lastError, /^\{"type":"AuditUnavailableError"/, 'the attempt failed on the trail')
  const mine = async () => (await api.request({ method: 'GET', url: '/v1/me/privacy-requests', token: member.token })).body.items[0]
  t.match(await mine(), { id: filed.body.id, status: 'in_progress', exportAvailable: false })

  const verified = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit/verify`, token: tenant.admin })
  t.equal(verified.status, 200)
  t.match(verified.body, { valid: false, firstInvalidSeq: head.seq + 1, headSeq: head.seq }, 'the entry past the head is named')
  t.equal((await headOf(tenant.accountId))!.seq, head.seq, 'the head did not move')
  t.equal(await forgedRows(), 1)
  t.equal(await pending(), 2, 'the rename’s event and the request’s move to in_progress are still pending, not lost')

  // Once the forged entry is gone, the next run chains the pending events and everything is served.
  await db.transaction(async (tx) => {
    await tx.execute(sql`alter table audit_entries disable trigger audit_entries_append_only`)
    await tx.execute(sql`delete from audit_entries where account_id = ${tenant.accountId} and actor_id = 'forger'`)
    await tx.execute(sql`alter table audit_entries enable trigger audit_entries_append_only`)
  })
  await db.update(jobs).set({ runAt: sql`now()` }).where(eq(jobs.id, failed.id))
  await api.app.services.jobs.runDue()
  t.match(await mine(), { id: filed.body.id, status: 'completed', exportAvailable: true })
  const document = await api.request({ method: 'GET', url: `/v1/me/privacy-requests/${filed.body.id}/export`, token: member.token })
  t.equal(document.status, 200)
  const about = document.body.categories.find((category: { category: string }) => category.category === 'audit_entries')
  t.ok(about.items.some((item: { action: string }) => item.action === 'user.updated'), 'the export holds the event that was pending')
  t.equal(await pending(), 0)
  t.ok(await allEntries(api, tenant), 'the trail is served again')
  t.equal((await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit/verify`, token: tenant.admin })).body.valid, true)
})
