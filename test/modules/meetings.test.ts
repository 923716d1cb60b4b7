import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { verifyPasscode } from '../../src/lib/passcode.js'
import { meetings, presenceIntervals } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// Meetings (issue 4): create, read, update, cancel, list with from/to and cursor pagination, the
// lifecycle scheduled → live → ended / scheduled → cancelled with server-clock instants, the
// meeting settings layer and its locks (P-SET-1, P-SET-3), tenancy and roles, and the audit trail.
// Participants and presence live in participants.test.ts. Every request goes through
// api.request, which checks the answer against openapi/openapi.json.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>

/** A server clock the test moves by hand: instants are exact, nothing sleeps. */
class TestClock implements Clock {
  private at: number
  private hook: (() => void) | undefined
  constructor(start: string) {
    this.at = Date.parse(start)
  }
  now() {
    const hook = this.hook
    this.hook = undefined
    hook?.()
    return new Date(this.at)
  }
  /** Runs `hook` at the next reading of the clock (to start a competing request at that point). */
  onNextNow(hook: () => void) {
    this.hook = hook
  }
  set(instant: string) {
    this.at = Date.parse(instant)
  }
  iso() {
    return new Date(this.at).toISOString()
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const JOIN_URL_BASE = 'https://meet.example.test/j/'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const meetingInput = (overrides: Body = {}): Body => ({
  topic: 'Quarterly review',
  scheduledStart: '2026-12-10T10:00:00Z',
  durationMinutes: 45,
  timeZone: 'Europe/Paris',
  ...overrides,
})

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  get: (url: string, token: string) => ReturnType<TestApp['request']>
  post: (url: string, token: string, body?: Body) => ReturnType<TestApp['request']>
  patch: (url: string, token: string, body: Body) => ReturnType<TestApp['request']>
  del: (url: string, token: string) => ReturnType<TestApp['request']>
  /** Creates a meeting that must succeed; returns its body. */
  create: (token: string, overrides?: Body) => Promise<any>
  /** Moves a meeting (start, end) or joins it; the call must succeed. */
  must: (res: Promise<{ status: number; body: any }>, status: number, what: string) => Promise<any>
}

/**
 * `defaults`: keep the platform's defaults (a passcode generated for every meeting, the waiting
 * room on). Otherwise the account turns both off, so the lifecycle tests see members join
 * without them; both have tests of their own.
 */
async function setup(t: Test, options: { tenant?: Body; defaults?: boolean } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock, env: { JOIN_URL_BASE } })
  const tenant = await createTenant(api, options.tenant)
  if (!options.defaults) {
    const open = await api.request({
      method: 'PATCH',
      url: `/v1/accounts/${tenant.accountId}/settings`,
      token: tenant.admin,
      body: { values: { 'meeting.passcode_required': false, 'meeting.waiting_room': false } },
    })
    if (open.status !== 200) throw new Error(`settings: ${JSON.stringify(open.body)}`)
  }
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: Body) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  const patch = (url: string, token: string, body: Body) => api.request({ method: 'PATCH', url, token, body })
  const del = (url: string, token: string) => api.request({ method: 'DELETE', url, token })
  const must = async (res: Promise<{ status: number; body: any }>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  const create = (token: string, overrides: Body = {}) => must(post('/v1/meetings', token, meetingInput(overrides)), 201, 'create meeting')
  return { api, clock, tenant, get, post, patch, del, create, must }
}

const meetingUrl = (id: string) => `/v1/meetings/${id}`

async function meetingRow(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const [row] = await db
    .select()
    .from(meetings)
    .where(and(eq(meetings.accountId, accountId), eq(meetings.id, meetingId)))
  return row
}


async function stayRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  return db
    .select()
    .from(presenceIntervals)
    .where(and(eq(presenceIntervals.accountId, accountId), eq(presenceIntervals.meetingId, meetingId)))
}

/** Status and code of a problem answer. */
function problem(t: Test, res: { status: number; body: any }, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

// ---------------------------------------------------------------------------------------------
// 1. Create, read, update

t.test('P-REC-7: create and read a meeting: every field, the join link, server-clock stamps', async (t) => {
  const { tenant, clock, get, create } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  clock.set('2026-12-01T09:15:30.250Z')

  const created = await create(host.token, {
    topic: 'Design review',
    scheduledStart: '2026-12-10T11:30:00+01:00',
    durationMinutes: 90,
    timeZone: 'Europe/Paris',
  })
  t.match(created.id, UUID)
  t.same(created, {
    id: created.id,
    accountId: tenant.accountId,
    hostUserId: host.id,
    topic: 'Design review',
    scheduledStart: '2026-12-10T10:30:00.000Z',
    durationMinutes: 90,
    timeZone: 'Europe/Paris',
    joinUrl: `${JOIN_URL_BASE}${created.id}`,
    hasPasscode: true,
    passcode: created.passcode,
    status: 'scheduled',
    startedAt: null,
    endedAt: null,
    cancelledAt: null,
    createdAt: '2026-12-01T09:15:30.250Z',
    updatedAt: '2026-12-01T09:15:30.250Z',
  }, 'the caller hosts it; the offset is normalised to UTC; stamps come from the server clock')
  t.match(created.passcode, /^[A-Za-z2-9]{10}$/, 'P-SET-1: none given while required (the default): the server generated one')

  const read = await get(meetingUrl(created.id), host.token)
  t.equal(read.status, 200)
  const { passcode, ...stored } = created
  t.same(read.body, stored, 'GET answers what POST answered, but the passcode: it is shown once')
  const asAdmin = await get(meetingUrl(created.id), tenant.admin)
  t.equal(asAdmin.status, 200, 'an admin reads any meeting of the account')

  const row = await meetingRow(tenant.accountId, created.id)
  t.ok(await verifyPasscode(passcode, row!.passcodeHash!), 'only its hash is stored')

  const audit = await auditRows(tenant.accountId, 'meeting.created')
  t.equal(audit.length, 1, 'meeting.created audited')
  t.match(audit[0], { actorType: 'user', actorId: host.id, targetType: 'meeting', targetId: created.id })
  t.equal(audit[0]?.at.toISOString(), '2026-12-01T09:15:30.250Z')
  t.same(audit[0]?.details, { fields: ['topic', 'scheduledStart', 'durationMinutes', 'timeZone'], passcode: true, passcodeGenerated: true })
  t.notOk(JSON.stringify(audit[0]?.details).includes(passcode), 'never the passcode itself')
})

t.test('P-SET-1: with meeting.passcode_required off for the host, a meeting without a passcode has none', async (t) => {
  const { tenant, patch, create } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  t.equal((await patch(`/v1/me/settings`, host.token, { values: { 'meeting.passcode_required': false } })).status, 200)
  const created = await create(host.token)
  t.equal(created.hasPasscode, false)
  t.notOk('passcode' in created, 'nothing generated')
  t.equal((await meetingRow(tenant.accountId, created.id))?.passcodeHash, null, 'no passcode, no hash')

  // A fixed account lock wins over the host's own choice: a member cannot create an open meeting.
  const locked = await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'meeting.passcode_required': true }, locks: { 'meeting.passcode_required': 'fixed' } })
  t.equal(locked.status, 200)
  const strict = await create(host.token)
  t.equal(strict.hasPasscode, true, 'the lock binds')
  t.type(strict.passcode, 'string')
  t.equal((await meetingRow(tenant.accountId, created.id))?.passcodeHash, null, 'the meeting made before the lock keeps its state')
})

t.test('a passcode is stored only as a salted scrypt hash and never answered', async (t) => {
  const { tenant, get, create } = await setup(t)
  const passcode = 'Sesame-2026!'
  const one = await create(tenant.admin, { passcode })
  const two = await create(tenant.admin, { passcode })
  for (const meeting of [one, two]) {
    t.equal(meeting.hasPasscode, true)
    t.notOk('passcode' in meeting, 'no passcode property')
    t.notOk('passcodeHash' in meeting, 'no hash property')
    t.notOk(JSON.stringify(meeting).includes(passcode), 'the passcode appears nowhere in the answer')
    const read = await get(meetingUrl(meeting.id), tenant.admin)
    t.equal(read.body.hasPasscode, true)
    t.notOk(JSON.stringify(read.body).includes(passcode))
  }
  const first = (await meetingRow(tenant.accountId, one.id))!.passcodeHash!
  const second = (await meetingRow(tenant.accountId, two.id))!.passcodeHash!
  for (const hash of [first, second]) {
    t.ok(hash.startsWith('scrypt$'), `hash ${hash.slice(0, 7)}… names its scheme`)
    t.notOk(hash.includes(passcode), 'the hash does not contain the passcode')
    t.equal(hash.split('$').length, 3, 'scheme, salt, hash')
  }
  t.not(first, second, 'the same passcode hashes differently (salted)')
  t.not(first.split('$')[1], second.split('$')[1], 'different salts')

  const audit = await auditRows(tenant.accountId, 'meeting.created')
  t.equal(audit.length, 2)
  for (const entry of audit) {
    t.same(entry.details, { fields: ['topic', 'scheduledStart', 'durationMinutes', 'timeZone'], passcode: true, passcodeGenerated: false }, 'says a passcode was set')
    t.notOk(JSON.stringify(entry.details).includes(passcode), 'the audit names the passcode field, never its value')
  }
})

t.test('create refuses unknown properties, a bad time zone, a time without offset, bad numbers and passcodes (400, nothing stored)', async (t) => {
  const { tenant, post } = await setup(t)
  const cases: [string, Body, string][] = [
    ['unknown property', meetingInput({ colour: 'blue' }), ''],
    ['host set by the client', meetingInput({ hostUserId: tenant.adminId }), ''],
    ['status set by the client', meetingInput({ status: 'live' }), ''],
    ['bad time zone', meetingInput({ timeZone: 'Mars/Olympus_Mons' }), '/body/timeZone'],
    ['an offset is not an IANA zone', meetingInput({ timeZone: '+01:00' }), '/body/timeZone'],
    ['scheduledStart without offset', meetingInput({ scheduledStart: '2026-12-10T10:00:00' }), '/body/scheduledStart'],
    ['scheduledStart not a date', meetingInput({ scheduledStart: 'tomorrow' }), '/body/scheduledStart'],
    // The document bounds fractions (src/lib/instant.ts): ten digits were once taken and silently cut.
    ['scheduledStart with ten fraction digits', meetingInput({ scheduledStart: '2026-12-10T10:00:00.1234567890Z' }), '/body/scheduledStart'],
    ['scheduledStart with a 400-digit fraction', meetingInput({ scheduledStart: `2026-12-10T10:00:00.${'1'.repeat(400)}Z` }), '/body/scheduledStart'],
    ['duration 0', meetingInput({ durationMinutes: 0 }), '/body/durationMinutes'],
    ['duration over a day', meetingInput({ durationMinutes: 1441 }), '/body/durationMinutes'],
    ['duration not an integer', meetingInput({ durationMinutes: 1.5 }), '/body/durationMinutes'],
    ['passcode too short', meetingInput({ passcode: 'abc' }), '/body/passcode'],
    ['passcode with a space', meetingInput({ passcode: 'abc defg' }), '/body/passcode'],
    ['empty topic', meetingInput({ topic: '' }), '/body/topic'],
    ['blank topic', meetingInput({ topic: ' \t\n ' }), '/body/topic'],
    // maxLength applies to the text as sent (the document's rule), not to what trimming leaves.
    ['topic over 300 characters before trimming', meetingInput({ topic: ` ${'x'.repeat(300)} ` }), '/body/topic'],
    ['missing topic', { scheduledStart: '2026-12-10T10:00:00Z', durationMinutes: 30, timeZone: 'UTC' }, '/body/topic'],
  ]
  for (const [label, body, pointer] of cases) {
    const res = await post('/v1/meetings', tenant.admin, body)
    problem(t, res, 400, 'validation_failed', label)
    if (pointer) t.ok(res.body.errors?.some((e: { pointer?: string }) => e.pointer === pointer), `${label}: points at ${pointer}`)
  }
  const { db } = await testDatabase()
  t.equal((await db.select().from(meetings).where(eq(meetings.accountId, tenant.accountId))).length, 0, 'no meeting stored')
  t.equal((await auditRows(tenant.accountId, 'meeting.created')).length, 0)

  const recorder = await tenant.user(['recorder'])
  t.equal((await post('/v1/meetings', recorder.token, meetingInput())).status, 403, 'the recorder service hosts no meeting')
})

t.test('create takes what the document says: nine fraction digits (kept to the millisecond), padded text trimmed, zone names in any case', async (t) => {
  const { tenant, post } = await setup(t)
  const res = await post('/v1/meetings', tenant.admin, meetingInput({ topic: `  ${'x'.repeat(296)}  `, scheduledStart: '2026-12-10T10:00:00.123456789+01:00', timeZone: 'europe/berlin' }))
  t.equal(res.status, 201, 'accepted')
  t.equal(res.body.topic, 'x'.repeat(296), 'trimmed')
  t.equal(res.body.scheduledStart, '2026-12-10T09:00:00.123Z', 'kept to the millisecond')
  t.equal(res.body.timeZone, 'europe/berlin', 'stored as given')
})

t.test('update changes fields and the passcode, audits meeting.updated with field names only', async (t) => {
  const { tenant, clock, get, patch, create } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const meeting = await create(host.token, { passcode: 'first-code' })
  const firstHash = (await meetingRow(tenant.accountId, meeting.id))!.passcodeHash

  clock.set('2026-12-01T10:00:00.000Z')
  const changed = await patch(meetingUrl(meeting.id), host.token, {
    topic: 'Secret merger talk',
    scheduledStart: '2026-12-11T08:00:00-05:00',
    durationMinutes: 30,
    timeZone: 'America/New_York',
    passcode: 'second-code',
  })
  t.equal(changed.status, 200, 'status 200', { body: changed.body })
  t.same(changed.body, {
    ...meeting,
    topic: 'Secret merger talk',
    scheduledStart: '2026-12-11T13:00:00.000Z',
    durationMinutes: 30,
    timeZone: 'America/New_York',
    hasPasscode: true,
    updatedAt: '2026-12-01T10:00:00.000Z',
  })
  t.same((await get(meetingUrl(meeting.id), host.token)).body, changed.body, 'stored')
  const secondHash = (await meetingRow(tenant.accountId, meeting.id))!.passcodeHash
  t.ok(secondHash?.startsWith('scrypt$'))
  t.not(secondHash, firstHash, 'a new passcode, a new hash')
  t.notOk(secondHash?.includes('second-code'))

  let updates = await auditRows(tenant.accountId, 'meeting.updated')
  t.equal(updates.length, 1)
  t.match(updates[0], { actorId: host.id, targetType: 'meeting', targetId: meeting.id })
  t.equal(updates[0]?.at.toISOString(), '2026-12-01T10:00:00.000Z')
  t.same(updates[0]?.details, { fields: ['topic', 'scheduledStart', 'durationMinutes', 'timeZone', 'passcode'] }, 'names only')
  const details = JSON.stringify(updates[0]?.details)
  for (const secret of ['Secret merger talk', 'second-code', 'America/New_York']) t.notOk(details.includes(secret), `no value (${secret}) in the audit`)

  // While a passcode is required it cannot be removed; the meeting turns the requirement off first.
  const kept = await patch(meetingUrl(meeting.id), tenant.admin, { passcode: null })
  t.equal(kept.status, 409)
  t.equal(kept.body.code, 'passcode_required')
  t.equal((await patch(`${meetingUrl(meeting.id)}/settings`, host.token, { values: { 'meeting.passcode_required': false } })).status, 200)

  // An admin may change it too; null removes the passcode.
  const removed = await patch(meetingUrl(meeting.id), tenant.admin, { passcode: null })
  t.equal(removed.status, 200)
  t.equal(removed.body.hasPasscode, false)
  t.equal((await meetingRow(tenant.accountId, meeting.id))!.passcodeHash, null, 'hash removed')
  updates = await auditRows(tenant.accountId, 'meeting.updated')
  t.equal(updates.length, 2)
  t.match(updates[1], { actorId: tenant.adminId })
  t.same(updates[1]?.details, { fields: ['passcode'] })

  // An empty change answers the meeting and writes nothing.
  const before = (await auditRows(tenant.accountId)).length
  const empty = await patch(meetingUrl(meeting.id), host.token, {})
  t.equal(empty.status, 200)
  t.same(empty.body, removed.body)
  t.equal((await auditRows(tenant.accountId)).length, before, 'no audit entry for an empty change')

  // Validation.
  for (const [label, body] of [
    ['unknown property', { title: 'x' }],
    ['status is not patchable', { status: 'ended' }],
    ['host is not patchable', { hostUserId: tenant.adminId }],
    ['bad time zone', { timeZone: 'Europe/Atlantis' }],
    ['null topic', { topic: null }],
    ['duration out of range', { durationMinutes: 0 }],
  ] as [string, Body][]) {
    problem(t, await patch(meetingUrl(meeting.id), host.token, body), 400, 'validation_failed', label)
  }
  t.equal((await get(meetingUrl(meeting.id), host.token)).body.timeZone, 'America/New_York', 'unchanged by refused patches')
  t.equal((await auditRows(tenant.accountId)).length, before, 'refusals write nothing')

  problem(t, await patch('/v1/meetings/not-a-uuid', host.token, { topic: 'x' }), 400, 'validation_failed', 'bad meeting id')
  problem(t, await patch(meetingUrl('0190a6f0-0000-7000-8000-000000000000'), host.token, { topic: 'x' }), 404, 'not_found', 'unknown meeting')
})

// ---------------------------------------------------------------------------------------------
// 2. Lifecycle

t.test('lifecycle: scheduled → live → ended with server-clock instants; the end closes every open stay at endedAt', async (t) => {
  const { tenant, clock, get, post, create, must } = await setup(t)
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const meeting = await create(host.token)

  clock.set('2026-12-10T10:00:01.125Z')
  const started = await post(`${meetingUrl(meeting.id)}/start`, host.token)
  t.equal(started.status, 200)
  t.same(started.body, { ...meeting, status: 'live', startedAt: '2026-12-10T10:00:01.125Z', updatedAt: '2026-12-10T10:00:01.125Z' })
  const live = await meetingRow(tenant.accountId, meeting.id)
  t.equal(live?.startedAt?.toISOString(), '2026-12-10T10:00:01.125Z', 'startedAt stored from the server clock')

  // Four stays: host, alice and a guest open at the end; bob left before it.
  const join = (token: string, body: Body = {}) => must(post(`${meetingUrl(meeting.id)}/participants`, token, body), 201, 'join')
  clock.set('2026-12-10T10:01:00.000Z')
  await join(host.token)
  await join(alice.token)
  await join(alice.token, { guest: { displayName: 'Alice’s guest' } })
  const bobJoin = await join(bob.token)
  clock.set('2026-12-10T10:20:00.000Z')
  await must(post(`${meetingUrl(meeting.id)}/participants/${bobJoin.participantId}/leave`, bob.token), 204, 'leave')

  clock.set('2026-12-10T10:44:59.999Z')
  const ended = await post(`${meetingUrl(meeting.id)}/end`, host.token)
  t.equal(ended.status, 200)
  t.same(ended.body, {
    ...started.body,
    status: 'ended',
    endedAt: '2026-12-10T10:44:59.999Z',
    updatedAt: '2026-12-10T10:44:59.999Z',
  })
  t.same((await get(meetingUrl(meeting.id), host.token)).body, ended.body)

  const stays = await stayRows(tenant.accountId, meeting.id)
  t.equal(stays.length, 4)
  t.equal(stays.filter((stay) => stay.leftAt === null).length, 0, 'no stay is left open')
  const leftAt = stays.map((stay) => stay.leftAt!.toISOString()).sort()
  t.same(leftAt, ['2026-12-10T10:20:00.000Z', '2026-12-10T10:44:59.999Z', '2026-12-10T10:44:59.999Z', '2026-12-10T10:44:59.999Z'],
    'the three open stays close at exactly endedAt; the closed one keeps its instant')

  const startedAudit = await auditRows(tenant.accountId, 'meeting.started')
  t.equal(startedAudit.length, 1)
  t.match(startedAudit[0], { actorId: host.id, targetType: 'meeting', targetId: meeting.id, details: { from: 'scheduled', to: 'live' } })
  t.equal(startedAudit[0]?.at.toISOString(), '2026-12-10T10:00:01.125Z')
  const endedAudit = await auditRows(tenant.accountId, 'meeting.ended')
  t.equal(endedAudit.length, 1)
  t.same(endedAudit[0]?.details, { from: 'live', to: 'ended', closedStays: 3 })
  t.equal(endedAudit[0]?.at.toISOString(), '2026-12-10T10:44:59.999Z')
})

t.test('start and end sent with Content-Type: application/json and no body are accepted; a route that needs a body still refuses one', async (t) => {
  const { api, tenant, create } = await setup(t)
  const meeting = await create(tenant.admin)
  const emptyJson = (method: 'POST' | 'PATCH', url: string) =>
    api.request({ method, url, token: tenant.admin, payload: '', headers: { 'content-type': 'application/json' } })

  const started = await emptyJson('POST', `${meetingUrl(meeting.id)}/start`)
  t.equal(started.status, 200, 'start', { body: started.body })
  t.equal(started.body.status, 'live')
  const ended = await emptyJson('POST', `${meetingUrl(meeting.id)}/end`)
  t.equal(ended.status, 200, 'end', { body: ended.body })
  t.equal((await meetingRow(tenant.accountId, meeting.id))?.status, 'ended', 'stored')

  const other = await create(tenant.admin)
  const patched = await emptyJson('PATCH', meetingUrl(other.id))
  problem(t, patched, 400, 'validation_failed', 'PATCH without a body')
  t.same(patched.body.errors.map((e: { pointer: string }) => e.pointer), ['/body'])
  const created = await emptyJson('POST', '/v1/meetings')
  problem(t, created, 400, 'validation_failed', 'create without a body')
  t.equal((await meetingRow(tenant.accountId, other.id))?.topic, other.topic, 'nothing changed')
})

t.test('lifecycle: scheduled → cancelled by DELETE (host or admin), audited', async (t) => {
  const { tenant, clock, get, del, create } = await setup(t)
  const host = await tenant.user(['member'])
  const mine = await create(host.token)
  const other = await create(host.token)

  clock.set('2026-12-02T08:00:00.000Z')
  const cancelled = await del(meetingUrl(mine.id), host.token)
  t.equal(cancelled.status, 200)
  t.same(cancelled.body, { ...mine, status: 'cancelled', cancelledAt: '2026-12-02T08:00:00.000Z', updatedAt: '2026-12-02T08:00:00.000Z' })
  t.same((await get(meetingUrl(mine.id), host.token)).body, cancelled.body, 'kept, as cancelled')

  clock.set('2026-12-02T08:30:00.000Z')
  const byAdmin = await del(meetingUrl(other.id), tenant.admin)
  t.equal(byAdmin.status, 200)
  t.equal(byAdmin.body.cancelledAt, '2026-12-02T08:30:00.000Z')

  const audit = await auditRows(tenant.accountId, 'meeting.cancelled')
  t.equal(audit.length, 2)
  t.match(audit[0], { actorId: host.id, targetId: mine.id, details: { from: 'scheduled', to: 'cancelled' } })
  t.match(audit[1], { actorId: tenant.adminId, targetId: other.id })
  t.equal(audit[1]?.at.toISOString(), '2026-12-02T08:30:00.000Z')
})

t.test('lifecycle refusals: any other transition is 409 invalid_transition; a closed meeting cannot be changed (meeting_closed)', async (t) => {
  const { tenant, clock, get, post, patch, del, create, must } = await setup(t)
  const host = await tenant.user(['member'])
  const a = await create(host.token)
  const b = await create(host.token)
  const c = await create(host.token)

  const refused = async (label: string, res: Promise<{ status: number; body: any }>, from: string, to: string) => {
    const answer = await res
    problem(t, answer, 409, 'invalid_transition', label)
    t.match(answer.body.errors?.[0], { from, to }, `${label}: names from and to`)
  }

  await refused('end a scheduled meeting', post(`${meetingUrl(a.id)}/end`, host.token), 'scheduled', 'ended')
  clock.set('2026-12-10T10:00:00.000Z')
  await must(post(`${meetingUrl(a.id)}/start`, host.token), 200, 'start')
  clock.set('2026-12-10T10:05:00.000Z')
  await refused('start twice', post(`${meetingUrl(a.id)}/start`, host.token), 'live', 'live')
  await refused('cancel a live meeting', del(meetingUrl(a.id), host.token), 'live', 'cancelled')
  t.equal((await meetingRow(tenant.accountId, a.id))?.startedAt?.toISOString(), '2026-12-10T10:00:00.000Z', 'a second start does not restamp')
  await must(post(`${meetingUrl(a.id)}/end`, host.token), 200, 'end')
  clock.set('2026-12-10T11:00:00.000Z')
  await refused('end an ended meeting', post(`${meetingUrl(a.id)}/end`, host.token), 'ended', 'ended')
  await refused('start an ended meeting', post(`${meetingUrl(a.id)}/start`, host.token), 'ended', 'live')
  await refused('cancel an ended meeting', del(meetingUrl(a.id), host.token), 'ended', 'cancelled')
  t.equal((await meetingRow(tenant.accountId, a.id))?.endedAt?.toISOString(), '2026-12-10T10:05:00.000Z', 'a second end does not restamp')

  await must(del(meetingUrl(b.id), host.token), 200, 'cancel')
  await refused('start a cancelled meeting', post(`${meetingUrl(b.id)}/start`, host.token), 'cancelled', 'live')
  await refused('end a cancelled meeting', post(`${meetingUrl(b.id)}/end`, host.token), 'cancelled', 'ended')
  await refused('cancel twice', del(meetingUrl(b.id), host.token), 'cancelled', 'cancelled')

  problem(t, await patch(meetingUrl(a.id), host.token, { topic: 'too late' }), 409, 'meeting_closed', 'PATCH an ended meeting')
  problem(t, await patch(meetingUrl(b.id), host.token, { topic: 'too late' }), 409, 'meeting_closed', 'PATCH a cancelled meeting')
  problem(t, await patch(meetingUrl(a.id), tenant.admin, { durationMinutes: 10 }), 409, 'meeting_closed', 'admin PATCH an ended meeting')
  t.equal((await get(meetingUrl(a.id), host.token)).body.topic, 'Quarterly review', 'unchanged')
  t.equal((await get(meetingUrl(a.id), host.token)).body.status, 'ended')
  t.equal((await get(meetingUrl(b.id), host.token)).body.status, 'cancelled')

  // A live meeting can still be edited (a topic fix mid-meeting).
  await must(post(`${meetingUrl(c.id)}/start`, host.token), 200, 'start c')
  const fixed = await patch(meetingUrl(c.id), host.token, { topic: 'Quarterly review (v2)' })
  t.equal(fixed.status, 200)
  t.equal(fixed.body.status, 'live')

  t.equal((await auditRows(tenant.accountId, 'meeting.started')).length, 2, 'refusals are not audited as transitions')
  t.equal((await auditRows(tenant.accountId, 'meeting.ended')).length, 1)
  t.equal((await auditRows(tenant.accountId, 'meeting.cancelled')).length, 1)
  t.equal((await auditRows(tenant.accountId, 'meeting.updated')).length, 1)
})

t.test('racing transitions: of a start and a cancel sent together exactly one wins', async (t) => {
  const { tenant, post, del, create } = await setup(t)
  for (let i = 0; i < 3; i++) {
    const meeting = await create(tenant.admin)
    const [started, cancelled] = await Promise.all([post(`${meetingUrl(meeting.id)}/start`, tenant.admin), del(meetingUrl(meeting.id), tenant.admin)])
    t.same([started.status, cancelled.status].sort(), [200, 409], 'one wins, the other is refused')
    const loser = started.status === 409 ? started : cancelled
    t.equal(loser.body.code, 'invalid_transition')
    const row = await meetingRow(tenant.accountId, meeting.id)
    t.equal(row?.status, started.status === 200 ? 'live' : 'cancelled')
    t.ok((row?.startedAt === null) !== (row?.cancelledAt === null), 'exactly one stamp')
  }
  t.equal((await auditRows(tenant.accountId, 'meeting.started')).length + (await auditRows(tenant.accountId, 'meeting.cancelled')).length, 3)
})

t.test('a PATCH that raced the meeting\'s end does not change the ended meeting (meeting_closed)', async (t) => {
  const { tenant, clock, get, post, patch, create, must } = await setup(t)
  const meeting = await create(tenant.admin, { passcode: 'first-code' })
  await must(post(`${meetingUrl(meeting.id)}/start`, tenant.admin), 200, 'start')

  // The update reads the clock after it checked the status and before it hashes the new passcode
  // (scrypt, tens of milliseconds): the end is sent at that point and commits meanwhile.
  let ending: Promise<{ status: number; body: any }> | undefined
  clock.onNextNow(() => {
    ending = post(`${meetingUrl(meeting.id)}/end`, tenant.admin)
  })
  const patched = await patch(meetingUrl(meeting.id), tenant.admin, { topic: 'Renamed after the end', passcode: 'second-code' })
  const ended = await ending!
  t.equal(ended.status, 200, 'the meeting ended')

  const audit = (await auditRows(tenant.accountId)).filter((row) => row.targetId === meeting.id).map((row) => row.action)
  const endedFirst = audit.indexOf('meeting.ended') < audit.indexOf('meeting.updated')
  t.notOk(patched.status === 200 && endedFirst, 'no change is written after the end', { patchStatus: patched.status, audit })
  if (endedFirst || patched.status !== 200) {
    t.equal(patched.status, 409, 'the late PATCH is refused', { body: patched.body })
    t.equal(patched.body?.code, 'meeting_closed')
    t.equal((await get(meetingUrl(meeting.id), tenant.admin)).body.topic, 'Quarterly review', 'the ended meeting keeps its topic')
  }
})

// ---------------------------------------------------------------------------------------------
// 3. Roles and tenancy

t.test('roles: host and admins manage; an attendee gets 403; a member who is neither host nor participant gets 404', async (t) => {
  const { tenant, get, post, patch, del, create, must } = await setup(t)
  const host = await tenant.user(['member'])
  const attendee = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const meeting = await create(host.token)
  const url = meetingUrl(meeting.id)

  // Before anyone joined: a stranger sees nothing.
  problem(t, await get(url, stranger.token), 404, 'not_found', 'stranger GET')

  await must(post(`${url}/start`, host.token), 200, 'start')
  await must(post(`${url}/participants`, attendee.token, {}), 201, 'attendee joins')

  t.equal((await get(url, attendee.token)).status, 200, 'a participant reads the meeting')
  t.equal((await get(`${url}/settings/effective`, attendee.token)).status, 200, 'and its effective settings')
  t.equal((await get(url, recorder.token)).status, 200, 'the recorder reads the meeting')

  problem(t, await patch(url, attendee.token, { topic: 'mine now' }), 403, 'forbidden', 'attendee PATCH meeting')
  problem(t, await patch(`${url}/settings`, attendee.token, { values: { 'meeting.join_muted': false } }), 403, 'forbidden', 'attendee PATCH settings')
  problem(t, await get(`${url}/settings`, attendee.token), 403, 'forbidden', 'attendee GET settings layer')
  problem(t, await post(`${url}/end`, attendee.token), 403, 'forbidden', 'attendee ends')
  problem(t, await get(`${url}/participants`, attendee.token), 403, 'forbidden', 'attendee lists participants')

  problem(t, await get(url, stranger.token), 404, 'not_found', 'stranger GET')
  problem(t, await patch(url, stranger.token, { topic: 'x' }), 404, 'not_found', 'stranger PATCH')
  problem(t, await get(`${url}/settings`, stranger.token), 404, 'not_found', 'stranger GET settings')
  problem(t, await patch(`${url}/settings`, stranger.token, { values: { 'meeting.join_muted': false } }), 404, 'not_found', 'stranger PATCH settings')
  problem(t, await get(`${url}/settings/effective`, stranger.token), 404, 'not_found', 'stranger effective')
  problem(t, await post(`${url}/end`, stranger.token), 404, 'not_found', 'stranger ends')
  problem(t, await get(`${url}/participants`, stranger.token), 404, 'not_found', 'stranger lists participants')

  const row = await meetingRow(tenant.accountId, meeting.id)
  t.equal(row?.topic, 'Quarterly review', 'nothing changed')
  t.equal(row?.status, 'live')
  t.equal((await auditRows(tenant.accountId, 'meeting.updated')).length, 0)

  // A scheduled meeting: its host cancels, an attendee of another meeting cannot.
  const second = await create(host.token)
  problem(t, await del(meetingUrl(second.id), stranger.token), 404, 'not_found', 'stranger cancels')
  problem(t, await post(`${meetingUrl(second.id)}/start`, stranger.token), 404, 'not_found', 'stranger starts')

  // The admin manages a meeting they do not host.
  t.equal((await patch(url, tenant.admin, { topic: 'Renamed by admin' })).status, 200)
  t.equal((await get(`${url}/settings`, tenant.admin)).status, 200)
  t.equal((await post(`${url}/end`, tenant.admin)).status, 200)
})

t.test('tenancy: a member or admin of account B gets 404 for everything of account A\'s meeting', async (t) => {
  const { api, tenant, get, post, patch, del, create, must } = await setup(t)
  const other = await createTenant(api)
  const outsider = await other.user(['member'])
  const host = await tenant.user(['member'])
  const meeting = await create(host.token, { passcode: 'open-sesame' })
  const scheduled = await create(host.token)
  const url = meetingUrl(meeting.id)
  await must(post(`${url}/start`, host.token), 200, 'start')
  const joined = await must(post(`${url}/participants`, host.token, {}), 201, 'host joins')

  for (const [who, token] of [['B member', outsider.token], ['B admin', other.admin]] as const) {
    problem(t, await get(url, token), 404, 'not_found', `${who} GET`)
    problem(t, await patch(url, token, { topic: 'hijacked' }), 404, 'not_found', `${who} PATCH`)
    problem(t, await del(meetingUrl(scheduled.id), token), 404, 'not_found', `${who} DELETE`)
    problem(t, await post(`${meetingUrl(scheduled.id)}/start`, token), 404, 'not_found', `${who} start`)
    problem(t, await post(`${url}/end`, token), 404, 'not_found', `${who} end`)
    problem(t, await post(`${url}/participants`, token, { passcode: 'open-sesame' }), 404, 'not_found', `${who} join`)
    problem(t, await post(`${url}/participants`, token, { guest: { displayName: 'Eve' }, passcode: 'open-sesame' }), 404, 'not_found', `${who} guest join`)
    problem(t, await get(`${url}/participants`, token), 404, 'not_found', `${who} participants`)
    problem(t, await post(`${url}/participants/${joined.participantId}/leave`, token), 404, 'not_found', `${who} leave`)
    problem(t, await get(`${url}/settings`, token), 404, 'not_found', `${who} GET settings`)
    problem(t, await patch(`${url}/settings`, token, { values: { 'meeting.join_muted': false } }), 404, 'not_found', `${who} PATCH settings`)
    problem(t, await get(`${url}/settings/effective`, token), 404, 'not_found', `${who} effective settings`)
    const list = await get('/v1/meetings', token)
    t.equal(list.status, 200)
    t.notOk(list.body.items.some((item: { id: string }) => item.id === meeting.id || item.id === scheduled.id), `${who}: not listed`)
  }

  const row = await meetingRow(tenant.accountId, meeting.id)
  t.equal(row?.topic, 'Quarterly review')
  t.equal(row?.status, 'live')
  t.equal((await meetingRow(tenant.accountId, scheduled.id))?.status, 'scheduled')
  t.equal((await stayRows(tenant.accountId, meeting.id)).length, 1, 'no stay added by B')
  t.equal((await stayRows(tenant.accountId, meeting.id))[0]?.leftAt, null, 'the host is still present')
  t.equal((await auditRows(other.accountId)).filter((row) => row.action.startsWith('meeting.') || row.action.startsWith('participant.')).length, 0)
})

// ---------------------------------------------------------------------------------------------
// 4. The meeting settings layer

t.test('P-SET-1, P-SET-3: the meeting layer: GET/PATCH by host or admin, provenance meeting, inheritance from the host\'s chain', async (t) => {
  const { tenant, clock, get, patch, create } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const otherHost = await tenant.user(['member'])
  const meeting = await create(host.token)
  const otherMeeting = await create(otherHost.token)
  const url = `${meetingUrl(meeting.id)}/settings`

  t.same((await get(url, host.token)).body, { layer: 'meeting', id: meeting.id, values: {}, locks: {} }, 'an empty layer')
  let effective = (await get(`${url}/effective`, host.token)).body
  t.same(effective.subject, { type: 'meeting', id: meeting.id })
  t.same(effective.settings['meeting.join_muted'], { value: true, source: { layer: 'platform', id: null }, lock: null, overridden: [] })

  clock.set('2026-12-01T12:00:00.000Z')
  const patched = await patch(url, host.token, { values: { 'meeting.join_muted': false, 'meeting.screen_share': 'all' } })
  t.equal(patched.status, 200, 'status 200', { body: patched.body })
  t.same(patched.body, { layer: 'meeting', id: meeting.id, values: { 'meeting.join_muted': false, 'meeting.screen_share': 'all' }, locks: {} })
  t.same((await get(url, tenant.admin)).body, patched.body, 'the admin reads the layer')

  effective = (await get(`${url}/effective`, host.token)).body
  t.same(effective.settings['meeting.join_muted'], { value: false, source: { layer: 'meeting', id: meeting.id }, lock: null, overridden: [] })
  t.same(effective.settings['meeting.screen_share'].source, { layer: 'meeting', id: meeting.id })
  t.equal(effective.settings['meeting.waiting_room'].source.layer, 'platform', 'untouched keys keep their source')

  const other = (await get(`${meetingUrl(otherMeeting.id)}/settings/effective`, otherHost.token)).body
  t.equal(other.settings['meeting.join_muted'].value, true, 'another meeting is not affected')

  // Account and the host's user layer flow into the meeting; the meeting layer wins over them.
  await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'meeting.waiting_room': false, 'meeting.join_muted': true } })
  const mine = await patch('/v1/me/settings', host.token, { values: { 'meeting.join_video_off': false } })
  t.equal(mine.status, 200, 'status 200', { body: mine.body })
  effective = (await get(`${url}/effective`, host.token)).body
  t.same(effective.settings['meeting.waiting_room'].source, { layer: 'account', id: tenant.accountId })
  t.equal(effective.settings['meeting.waiting_room'].value, false)
  t.same(effective.settings['meeting.join_video_off'].source, { layer: 'user', id: host.id, origin: 'explicit' }, 'the host\'s user layer')
  t.equal(effective.settings['meeting.join_muted'].value, false, 'the meeting layer wins over the account value')
  t.same(effective.settings['meeting.join_muted'].source, { layer: 'meeting', id: meeting.id })
  const others = (await get(`${meetingUrl(otherMeeting.id)}/settings/effective`, otherHost.token)).body
  t.equal(others.settings['meeting.join_video_off'].value, true, 'another host\'s meeting does not take this host\'s user layer')
  t.equal(others.settings['meeting.waiting_room'].value, false, 'but takes the account value')

  // null removes a meeting value; the admin can write too.
  const removed = await patch(url, tenant.admin, { values: { 'meeting.join_muted': null } })
  t.equal(removed.status, 200)
  t.same(removed.body.values, { 'meeting.screen_share': 'all' })
  effective = (await get(`${url}/effective`, host.token)).body
  t.same(effective.settings['meeting.join_muted'].source, { layer: 'account', id: tenant.accountId })

  const audit = (await auditRows(tenant.accountId, 'settings.changed')).filter((row) => row.targetType === 'meeting_settings')
  t.equal(audit.length, 2, 'meeting-layer changes are audited')
  t.match(audit[0], { actorId: host.id, targetId: meeting.id, details: { layer: 'meeting' } })
  t.equal(audit[0]?.at.toISOString(), '2026-12-01T12:00:00.000Z')
  t.match(audit[1], { actorId: tenant.adminId, targetId: meeting.id })

  // Validation: keys the meeting layer may not set, unknown keys, bad values, locks.
  const invalid = async (label: string, body: Body, code?: string) => {
    const res = await patch(url, host.token, body)
    problem(t, res, 400, 'validation_failed', label)
    if (code) t.equal(res.body.errors?.[0]?.code, code, `${label}: ${code}`)
  }
  await invalid('account-only key', { values: { 'attention_tracking.allowed': true } }, 'setting_not_settable')
  await invalid('a permission is not a meeting key', { values: { 'permissions.camera': false } }, 'setting_not_settable')
  await invalid('unknown key', { values: { 'meeting.karaoke': true } }, 'unknown_setting')
  await invalid('wrong type', { values: { 'meeting.join_muted': 'yes' } }, 'invalid_value')
  await invalid('bad enum', { values: { 'meeting.screen_share': 'everyone' } }, 'invalid_value')
  await invalid('no locks at the meeting layer', { locks: { 'meeting.join_muted': 'fixed' } })
  t.same((await get(url, host.token)).body.values, { 'meeting.screen_share': 'all' }, 'refusals change nothing')
})

t.test('P-SET-3: account and group locks bind the meeting layer (409 setting_locked / setting_floor)', async (t) => {
  const { api, tenant, get, patch, create } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const meeting = await create(host.token)
  const url = `${meetingUrl(meeting.id)}/settings`
  const accountSettings = `/v1/accounts/${tenant.accountId}/settings`

  // A value set on the meeting before the lock is overridden by it, and reported so.
  t.equal((await patch(url, host.token, { values: { 'meeting.waiting_room': false } })).status, 200)
  const locked = await patch(accountSettings, tenant.admin, { values: { 'meeting.waiting_room': true }, locks: { 'meeting.waiting_room': 'fixed' } })
  t.equal(locked.status, 200, 'status 200', { body: locked.body })

  const refused = await patch(url, host.token, { values: { 'meeting.waiting_room': false } })
  problem(t, refused, 409, 'setting_locked', 'fixed account lock')
  t.match(refused.body.errors?.[0], { key: 'meeting.waiting_room', lockLayer: 'account', lockId: tenant.accountId, pointer: '/body/values/meeting.waiting_room' })
  problem(t, await patch(url, tenant.admin, { values: { 'meeting.waiting_room': false } }), 409, 'setting_locked', 'the admin too, at the meeting layer')

  let effective = (await get(`${url}/effective`, host.token)).body.settings['meeting.waiting_room']
  t.equal(effective.value, true, 'the locked value is in force')
  t.match(effective, { source: { layer: 'account' }, lock: { kind: 'fixed', layer: 'account', id: tenant.accountId, by: tenant.adminId } })
  t.same(effective.overridden, [{ layer: 'meeting', id: meeting.id, value: false, reason: 'fixed_lock' }])

  // A floor: host_only is the most private screen-share rule; the meeting may not open it up.
  t.equal((await patch(accountSettings, tenant.admin, { values: { 'meeting.screen_share': 'host_only' }, locks: { 'meeting.screen_share': 'floor' } })).status, 200)
  const floor = await patch(url, host.token, { values: { 'meeting.screen_share': 'all' } })
  problem(t, floor, 409, 'setting_floor', 'floor account lock')
  t.match(floor.body.errors?.[0], { key: 'meeting.screen_share', lockLayer: 'account' })
  t.equal((await patch(url, host.token, { values: { 'meeting.screen_share': 'host_only' } })).status, 200, 'as private is allowed under a floor')

  // A floor on a boolean: the meeting may turn video off, not on.
  t.equal((await patch(accountSettings, tenant.admin, { values: { 'meeting.join_video_off': true }, locks: { 'meeting.join_video_off': 'floor' } })).status, 200)
  problem(t, await patch(url, host.token, { values: { 'meeting.join_video_off': false } }), 409, 'setting_floor', 'boolean floor')

  // A fixed group lock on the host's group binds the host's meetings, and names the group.
  const group = await api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/groups`, token: tenant.admin, body: { name: 'Legal' } })
  t.equal(group.status, 201)
  t.equal((await api.request({ method: 'PUT', url: `/v1/accounts/${tenant.accountId}/groups/${group.body.id}/members/${host.id}`, token: tenant.admin })).status, 204)
  const groupLock = await patch(`/v1/accounts/${tenant.accountId}/groups/${group.body.id}/settings`, tenant.admin, {
    values: { 'recording.cloud.enabled': false },
    locks: { 'recording.cloud.enabled': 'fixed' },
  })
  t.equal(groupLock.status, 200, 'status 200', { body: groupLock.body })
  const byGroup = await patch(url, host.token, { values: { 'recording.cloud.enabled': true } })
  problem(t, byGroup, 409, 'setting_locked', 'fixed group lock')
  t.match(byGroup.body.errors?.[0], { key: 'recording.cloud.enabled', lockLayer: 'group', lockId: group.body.id })

  // One refused key refuses the whole patch.
  const mixed = await patch(url, host.token, { values: { 'meeting.join_muted': false, 'meeting.waiting_room': false } })
  problem(t, mixed, 409, 'setting_locked', 'mixed patch')
  const layer = (await get(url, host.token)).body
  t.same(layer.values, { 'meeting.waiting_room': false, 'meeting.screen_share': 'host_only' }, 'nothing of a refused patch is written')

  // Unlocked, the meeting value written earlier applies again.
  t.equal((await patch(accountSettings, tenant.admin, { locks: { 'meeting.waiting_room': null } })).status, 200)
  effective = (await get(`${url}/effective`, host.token)).body.settings['meeting.waiting_room']
  t.same(effective, { value: false, source: { layer: 'meeting', id: meeting.id }, lock: null, overridden: [] })
})

t.test('meeting settings of a closed meeting cannot be changed (409 meeting_closed) but can be read', async (t) => {
  const { tenant, get, post, patch, del, create, must } = await setup(t)
  const ended = await create(tenant.admin)
  const cancelled = await create(tenant.admin)
  await must(post(`${meetingUrl(ended.id)}/start`, tenant.admin), 200, 'start')
  await must(post(`${meetingUrl(ended.id)}/end`, tenant.admin), 200, 'end')
  await must(del(meetingUrl(cancelled.id), tenant.admin), 200, 'cancel')
  for (const meeting of [ended, cancelled]) {
    problem(t, await patch(`${meetingUrl(meeting.id)}/settings`, tenant.admin, { values: { 'meeting.join_muted': false } }), 409, 'meeting_closed')
    t.equal((await get(`${meetingUrl(meeting.id)}/settings`, tenant.admin)).status, 200)
    t.equal((await get(`${meetingUrl(meeting.id)}/settings/effective`, tenant.admin)).body.settings['meeting.join_muted'].value, true)
  }
})

// ---------------------------------------------------------------------------------------------
// 5. Listing

const ids = (body: { items: { id: string }[] }) => body.items.map((item) => item.id).sort()

t.test('list: members see the meetings they host or joined; admins and the recorder see the account\'s', async (t) => {
  const { tenant, get, post, create, must } = await setup(t)
  const hana = await tenant.user(['member'])
  const omar = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])

  const hanas = await create(hana.token, { topic: 'Hana hosts' })
  const omarsJoined = await create(omar.token, { topic: 'Omar hosts, Hana joins' })
  const omarsAlone = await create(omar.token, { topic: 'Omar alone' })
  const adminsOwn = await create(tenant.admin, { topic: 'Admin hosts' })
  const guestOnly = await create(omar.token, { topic: 'Hana only brings a guest' })
  await must(post(`${meetingUrl(omarsJoined.id)}/start`, omar.token), 200, 'start')
  await must(post(`${meetingUrl(omarsJoined.id)}/participants`, hana.token, {}), 201, 'hana joins')
  await must(post(`${meetingUrl(guestOnly.id)}/start`, omar.token), 200, 'start')
  await must(post(`${meetingUrl(guestOnly.id)}/participants`, hana.token, { guest: { displayName: 'Visitor' } }), 201, 'guest joins')

  const hanaList = await get('/v1/meetings', hana.token)
  t.equal(hanaList.status, 200)
  t.same(ids(hanaList.body), [hanas.id, omarsJoined.id].sort(), 'hosted and joined, nothing else')
  t.equal(hanaList.body.nextCursor, null)
  const listed = hanaList.body.items.find((item: { id: string }) => item.id === omarsJoined.id)
  t.same(listed, (await get(meetingUrl(omarsJoined.id), hana.token)).body, 'list items are full meetings')

  t.same(ids((await get('/v1/meetings', omar.token)).body), [omarsJoined.id, omarsAlone.id, guestOnly.id].sort())
  const all = [hanas.id, omarsJoined.id, omarsAlone.id, adminsOwn.id, guestOnly.id].sort()
  t.same(ids((await get('/v1/meetings', tenant.admin)).body), all, 'the admin sees every meeting of the account')
  t.same(ids((await get('/v1/meetings', recorder.token)).body), all, 'the recorder too')
  const newcomer = await tenant.user(['member'])
  t.same((await get('/v1/meetings', newcomer.token)).body, { items: [], nextCursor: null }, 'a member with no meetings sees none')
})

t.test('list: from/to filter on scheduledStart give the upcoming meetings (from inclusive, to exclusive)', async (t) => {
  const { tenant, get, del, create, must } = await setup(t)
  const host = await tenant.user(['member'])
  const starts = ['2026-11-30T23:59:59.999Z', '2026-12-01T00:00:00.000Z', '2026-12-05T12:00:00.000Z', '2026-12-08T00:00:00.000Z', '2027-01-15T09:00:00.000Z']
  const made: Record<string, string> = {}
  for (const start of starts) made[start] = (await create(host.token, { scheduledStart: start })).id
  const byStart = (...list: string[]) => list.map((start) => made[start]!).sort()
  const query = async (qs: string, token = host.token) => {
    const res = await get(`/v1/meetings?${qs}`, token)
    t.equal(res.status, 200, qs, { body: res.body })
    return ids(res.body)
  }

  t.same(await query('from=2026-12-01T00:00:00Z'), byStart(starts[1]!, starts[2]!, starts[3]!, starts[4]!), 'from is inclusive')
  t.same(await query('to=2026-12-08T00:00:00Z'), byStart(starts[0]!, starts[1]!, starts[2]!), 'to is exclusive')
  t.same(await query('from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:00Z'), byStart(starts[1]!, starts[2]!), 'a window')
  t.same(await query(`from=${encodeURIComponent('2026-12-05T13:00:00+01:00')}`), byStart(starts[2]!, starts[3]!, starts[4]!), 'an offset is an instant')
  t.same(await query('from=2027-06-01T00:00:00Z'), [], 'nothing upcoming')
  t.same(await query('from=2026-12-08T00:00:00Z&to=2026-12-01T00:00:00Z'), [], 'an empty window')
  t.same(await query('from=2026-12-01T00:00:00Z', tenant.admin), byStart(starts[1]!, starts[2]!, starts[3]!, starts[4]!), 'admins filter too')

  // Cancelled meetings still list (status says so); a changed schedule moves a meeting in or out.
  await must(del(meetingUrl(made[starts[2]!]!), host.token), 200, 'cancel')
  const window = await get('/v1/meetings?from=2026-12-05T00:00:00Z&to=2026-12-06T00:00:00Z', host.token)
  t.same(window.body.items.map((item: { status: string }) => item.status), ['cancelled'])

  for (const qs of ['from=yesterday', 'to=2026-12-01', 'from=2026-12-01T00:00:00', 'since=2026-12-01T00:00:00Z']) {
    problem(t, await get(`/v1/meetings?${qs}`, host.token), 400, 'validation_failed', qs)
  }
})

t.test('list: cursor pagination walks every page without duplicates or gaps; a bad cursor or limit is 400', async (t) => {
  const { tenant, clock, get, create } = await setup(t)
  const host = await tenant.user(['member'])
  const other = await tenant.user(['member'])
  const mine: string[] = []
  for (let i = 0; i < 11; i++) {
    // Some meetings share a creation instant; ids must still page cleanly.
    if (i % 3 === 0) clock.set(new Date(Date.parse(T0) + i * 1000).toISOString())
    mine.push((await create(host.token, { topic: `Meeting ${i}`, scheduledStart: `2026-12-${String(10 + i).padStart(2, '0')}T10:00:00Z` })).id)
  }
  await create(other.token, { topic: 'Not hers' })

  const walk = async (qs: string, token = host.token) => {
    const seen: string[] = []
    const sizes: number[] = []
    let cursor: string | null = null
    for (let guard = 0; guard < 20; guard++) {
      const res: { status: number; body: any } = await get(`/v1/meetings?${qs}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token)
      t.equal(res.status, 200)
      seen.push(...res.body.items.map((item: { id: string }) => item.id))
      sizes.push(res.body.items.length)
      cursor = res.body.nextCursor
      if (cursor === null) break
    }
    return { seen, sizes }
  }

  const { seen, sizes } = await walk('limit=4')
  t.same(sizes, [4, 4, 3], 'three pages')
  t.equal(new Set(seen).size, seen.length, 'no duplicates')
  t.same([...seen].sort(), [...mine].sort(), 'no gaps')
  t.same(seen, [...seen].sort(), 'a stable order (by id)')

  const exact = await walk('limit=11')
  t.same(exact.sizes, [11], 'a page exactly the size of the set has no next cursor')

  const filtered = await walk('limit=2&from=2026-12-15T00:00:00Z')
  t.same([...filtered.seen].sort(), mine.slice(5).sort(), 'pagination keeps the filter')
  t.same(filtered.sizes, [2, 2, 2])

  const admin = await walk('limit=5', tenant.admin)
  t.equal(admin.seen.length, 12)
  t.equal(new Set(admin.seen).size, 12)

  const garbage = Buffer.from('not-an-id', 'utf8').toString('base64url')
  for (const qs of ['cursor=%%%', `cursor=${garbage}`, 'cursor=' + 'x'.repeat(201), 'limit=0', 'limit=101', 'limit=ten', 'limit=2.5']) {
    problem(t, await get(`/v1/meetings?${qs}`, host.token), 400, 'validation_failed', qs)
  }
  const last = (await get('/v1/meetings?limit=100', host.token)).body
  t.equal(last.items.length, 11)
  t.equal(last.nextCursor, null)
})
