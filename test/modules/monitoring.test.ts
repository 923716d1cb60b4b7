import { and, eq, isNull } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { consentClientDetails, consentRecords, mediaDiagnostics } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// Media-traffic monitoring (issue 6): opting in and out as media_monitoring consent records
// (P-MED-1, audited), the account's switch-off that overrides every opt-in (P-MED-2), quality
// figures only in bounded ranges (P-MED-3), truncated networks, expiry from settings, restriction
// (P-DSR-4) and minors (P-MIN-1), and each user reading only their own diagnostics.

// ---------------------------------------------------------------------------------------------
// Helpers

type Res = { status: number; body: any; headers?: Record<string, unknown> }

class TestClock implements Clock {
  private at: number
  constructor(start: string) {
    this.at = Date.parse(start)
  }
  now() {
    return new Date(this.at)
  }
  set(instant: string) {
    this.at = Date.parse(instant)
    return instant
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const DAY_MS = 86_400_000
const plus = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1000).toISOString()

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  req: (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string, body?: unknown, headers?: Record<string, string>) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** The account's media_monitoring notice (version 1). */
  notice: { id: string; versionId: string }
  allow: (allowed: boolean) => Promise<void>
  optIn: (token: string, noticeVersionId?: string) => Promise<Res>
  optOut: (token: string) => Promise<Res>
  /** A valid diagnostics body for the minute before the clock's now, with overrides. */
  figures: (overrides?: Record<string, unknown>) => Record<string, unknown>
  submit: (token: string, overrides?: Record<string, unknown>, headers?: Record<string, string>) => Promise<Res>
  mine: (token: string, query?: string) => Promise<Res>
}

async function setup(t: Test, options: { allowed?: boolean } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const req = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    api.request({ method, url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  const allow = async (allowed: boolean) => {
    await must(req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'media_monitoring.allowed': allowed } }), 200, 'media_monitoring.allowed')
  }
  if (options.allowed ?? true) await allow(true)
  const created = await must(
    req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'media_monitoring', locale: 'en', title: 'Diagnostics', text: 'Call quality figures help us fix problems.' }),
    201,
    'media notice',
  )
  const optIn = (token: string, noticeVersionId: string = created.currentVersion.id) => req('PUT', '/v1/me/media-monitoring', token, { optIn: true, noticeVersionId })
  const optOut = (token: string) => req('PUT', '/v1/me/media-monitoring', token, { optIn: false })
  const figures = (overrides: Record<string, unknown> = {}) => {
    const now = clock.now().toISOString()
    return {
      periodStart: plus(now, -60),
      periodEnd: now,
      bitrateKbps: 1200,
      packetLossPct: 0.5,
      jitterMs: 12,
      roundTripMs: 80,
      codec: 'opus',
      networkType: 'wifi',
      ...overrides,
    }
  }
  const submit = (token: string, overrides: Record<string, unknown> = {}, headers?: Record<string, string>) => req('POST', '/v1/media-diagnostics', token, figures(overrides), headers)
  const mine = (token: string, query = '') => req('GET', `/v1/me/media-diagnostics${query}`, token)
  return { api, clock, tenant, req, must, notice: { id: created.id, versionId: created.currentVersion.id }, allow, optIn, optOut, figures, submit, mine }
}

async function diagnosticRows(accountId: string, userId?: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(mediaDiagnostics)
    .where(and(eq(mediaDiagnostics.accountId, accountId), userId ? eq(mediaDiagnostics.userId, userId) : undefined))
  return rows.sort((x, y) => x.receivedAt.getTime() - y.receivedAt.getTime() || (x.id < y.id ? -1 : 1))
}

async function monitoringRecords(accountId: string, userId: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select({ record: consentRecords, client: consentClientDetails })
    .from(consentRecords)
    .leftJoin(consentClientDetails, and(eq(consentClientDetails.accountId, consentRecords.accountId), eq(consentClientDetails.recordId, consentRecords.id)))
    .where(and(eq(consentRecords.accountId, accountId), eq(consentRecords.userId, userId), eq(consentRecords.scope, 'media_monitoring'), isNull(consentRecords.meetingId)))
  // The client's network is kept beside the append-only record, where erasure can delete it.
  return rows.map(({ record, client }) => ({ ...record, clientNetwork: client?.clientNetwork ?? null })).sort((x, y) => x.at.getTime() - y.at.getTime())
}


function problem(t: Test, res: Res, status: number, code: string, label: string) {
  t.equal(res.status, status, `${label}: status ${status}`, { body: res.body })
  t.equal(res.body?.code, code, `${label}: code ${code}`)
}

// ---------------------------------------------------------------------------------------------
// P-MED-1: opting in and out

t.test('P-MED-1: not opted in → 409 monitoring_not_opted_in; opted in → 201; opted out → 409 again; opt-in and opt-out are consent records and audited', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, must } = ctx
  const ada = await tenant.user(['member'])

  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_opted_in', 'never opted in')
  t.same(await diagnosticRows(tenant.accountId), [], 'nothing stored')

  clock.set(plus(T0, 10))
  const optedIn = await ctx.optIn(ada.token)
  t.equal(optedIn.status, 200, 'opt in', { body: optedIn.body })
  t.same(optedIn.body, { optedIn: true, recordId: optedIn.body.recordId, at: plus(T0, 10), noticeVersionId: ctx.notice.versionId })

  clock.set(plus(T0, 100))
  const first = await ctx.submit(ada.token)
  t.equal(first.status, 201, 'opted in: accepted', { body: first.body })
  t.same(first.body, {
    id: first.body.id,
    meetingId: null,
    periodStart: plus(T0, 40),
    periodEnd: plus(T0, 100),
    bitrateKbps: 1200,
    packetLossPct: 0.5,
    jitterMs: 12,
    roundTripMs: 80,
    codec: 'opus',
    networkType: 'wifi',
    clientNetwork: '127.0.0.0/24',
    receivedAt: plus(T0, 100),
    expiresAt: new Date(Date.parse(plus(T0, 100)) + 30 * DAY_MS).toISOString(),
  }, 'quality figures, a truncated network, an expiry 30 days after receipt')
  const [row] = await diagnosticRows(tenant.accountId)
  t.match(row, { id: first.body.id, userId: ada.id, clientNetwork: '127.0.0.0/24', bitrateKbps: 1200, codec: 'opus' }, 'stored for the user')
  t.notMatch(JSON.stringify(row), /127\.0\.0\.1/, 'the full address is kept nowhere in the row')

  clock.set(plus(T0, 200))
  const optedOut = await ctx.optOut(ada.token)
  t.equal(optedOut.status, 200, 'opt out')
  t.same(optedOut.body, { optedIn: false, recordId: optedOut.body.recordId, at: plus(T0, 200), noticeVersionId: null })
  clock.set(plus(T0, 201))
  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_opted_in', 'opted out after opting in')
  t.equal((await diagnosticRows(tenant.accountId)).length, 1, 'nothing more stored')

  t.same(
    (await monitoringRecords(tenant.accountId, ada.id)).map((r) => [r.id, r.decision, r.method, r.noticeVersionId, r.at.toISOString(), r.participantId, r.clientNetwork]),
    [
      [optedIn.body.recordId, 'granted', 'explicit_toggle', ctx.notice.versionId, plus(T0, 10), null, '127.0.0.0/24'],
      [optedOut.body.recordId, 'withdrawn', 'explicit_toggle', null, plus(T0, 200), null, '127.0.0.0/24'],
    ],
    'two account-wide media_monitoring records, no meeting',
  )
  const ins = await auditRows(tenant.accountId, 'media_monitoring.opted_in')
  const outs = await auditRows(tenant.accountId, 'media_monitoring.opted_out')
  t.same(ins.map((r) => [r.actorId, r.targetType, r.targetId, r.at.toISOString(), r.details]), [[ada.id, 'user', ada.id, plus(T0, 10), { recordId: optedIn.body.recordId, noticeVersionId: ctx.notice.versionId }]], 'the opt-in is audited')
  t.same(outs.map((r) => [r.actorId, r.targetType, r.targetId, r.at.toISOString(), r.details]), [[ada.id, 'user', ada.id, plus(T0, 200), { recordId: optedOut.body.recordId, noticeVersionId: null }]], 'the opt-out is audited')

  // Opting in again works and is accepted again.
  clock.set(plus(T0, 300))
  t.equal((await ctx.optIn(ada.token)).status, 200, 'opt in again')
  clock.set(plus(T0, 301))
  t.equal((await ctx.submit(ada.token)).status, 201, 'accepted again')

  const page = await ctx.mine(ada.token)
  t.equal(page.status, 200)
  t.same(page.body.items.map((i: any) => i.receivedAt), [plus(T0, 100), plus(T0, 301)], 'the user sees their own diagnostics')
})

t.test('P-MED-1: opting in names the current media_monitoring notice: none → 400, another kind → 400, an outdated version → 409 notice_outdated; a version asking reconsent ends the opt-in', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req, must } = ctx
  const ada = await tenant.user(['member'])

  const bare = await req('PUT', '/v1/me/media-monitoring', ada.token, { optIn: true })
  problem(t, bare, 400, 'validation_failed', 'no notice version')
  t.equal(bare.body.errors[0].pointer, '/body/noticeVersionId')
  const attention = await must(req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'attention_tracking', locale: 'en', title: 'Attention', text: 'Focus.' }), 201, 'attention notice')
  const wrongKind = await ctx.optIn(ada.token, attention.currentVersion.id)
  problem(t, wrongKind, 400, 'validation_failed', 'an attention notice version')
  t.equal(wrongKind.body.errors[0].pointer, '/body/noticeVersionId')
  problem(t, await ctx.optIn(ada.token, '0190aaaa-0000-7000-8000-000000000000'), 400, 'validation_failed', 'an unknown version')
  problem(t, await req('PUT', '/v1/me/media-monitoring', ada.token, { optIn: true, noticeVersionId: ctx.notice.versionId, scope: 'all' }), 400, 'validation_failed', 'an unknown field')
  t.same(await monitoringRecords(tenant.accountId, ada.id), [], 'refusals record nothing')

  clock.set(plus(T0, 10))
  t.equal((await ctx.optIn(ada.token)).status, 200, 'opt in to v1')

  // v2 without reconsent: the v1 opt-in still counts, but v1 can no longer be agreed to.
  clock.set(plus(T0, 20))
  const v2 = await must(req('POST', `/v1/accounts/${tenant.accountId}/notices/${ctx.notice.id}/versions`, tenant.admin, { text: 'Call quality figures help us fix problems. (Reworded.)' }), 201, 'v2')
  const outdated = await ctx.optIn(ada.token, ctx.notice.versionId)
  problem(t, outdated, 409, 'notice_outdated', 'agreeing to v1 once v2 exists')
  clock.set(plus(T0, 30))
  t.equal((await ctx.submit(ada.token)).status, 201, 'v2 asks no reconsent: the v1 opt-in counts')

  clock.set(plus(T0, 40))
  const v3 = await must(req('POST', `/v1/accounts/${tenant.accountId}/notices/${ctx.notice.id}/versions`, tenant.admin, { text: 'We now also keep the codec profile.', requiresReconsent: true }), 201, 'v3')
  clock.set(plus(T0, 50))
  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_opted_in', 'v3 asks reconsent: the v1 opt-in no longer counts')
  problem(t, await ctx.optIn(ada.token, v2.currentVersion.id), 409, 'notice_outdated', 'agreeing to v2 once v3 exists')
  clock.set(plus(T0, 60))
  t.equal((await ctx.optIn(ada.token, v3.currentVersion.id)).status, 200, 'opt in to v3')
  clock.set(plus(T0, 70))
  t.equal((await ctx.submit(ada.token)).status, 201, 'accepted again')
  t.equal((await diagnosticRows(tenant.accountId, ada.id)).length, 2)
  t.same((await monitoringRecords(tenant.accountId, ada.id)).map((r) => r.noticeVersionId), [ctx.notice.versionId, v3.currentVersion.id], 'one record per accepted change')
})

// ---------------------------------------------------------------------------------------------
// P-MED-2: the account's switch

t.test('P-MED-2: the account switching monitoring off refuses an opted-in user at once; switching it back on accepts again without a new opt-in', async (t) => {
  const ctx = await setup(t, { allowed: false })
  const { tenant, clock, req } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])

  problem(t, await ctx.submit(bob.token), 409, 'monitoring_not_allowed', 'off and not opted in: the account is named first')
  t.equal((await ctx.optIn(ada.token)).status, 200, 'a user may opt in while the account has it off')
  clock.set(plus(T0, 10))
  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_allowed', 'off by default, whatever the opt-in')
  const mine = await req('PATCH', '/v1/me/settings', ada.token, { values: { 'media_monitoring.allowed': true } })
  t.equal(mine.status, 400, 'the user layer cannot switch it on', { body: mine.body })

  await ctx.allow(true)
  clock.set(plus(T0, 20))
  t.equal((await ctx.submit(ada.token)).status, 201, 'on: the opted-in user is accepted')

  await ctx.allow(false)
  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_allowed', 'switched off: refused at once')
  clock.set(plus(T0, 30))
  problem(t, await ctx.submit(ada.token), 409, 'monitoring_not_allowed', 'and later')
  t.equal((await diagnosticRows(tenant.accountId, ada.id)).length, 1, 'nothing stored while off')

  await ctx.allow(true)
  clock.set(plus(T0, 40))
  t.equal((await ctx.submit(ada.token)).status, 201, 'on again: accepted without a new opt-in')
  t.equal((await monitoringRecords(tenant.accountId, ada.id)).length, 1, 'still the one opt-in record')
  t.same((await diagnosticRows(tenant.accountId, ada.id)).map((r) => r.receivedAt.toISOString()), [plus(T0, 20), plus(T0, 40)])
})

// ---------------------------------------------------------------------------------------------
// P-MED-3: what a diagnostics body may carry

t.test('P-MED-3: quality figures only: unknown fields, out-of-range figures, bad periods → 400; the bounds themselves are accepted', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, api, must } = ctx
  const ada = await tenant.user(['member'])
  t.equal((await ctx.optIn(ada.token)).status, 200)
  clock.set(plus(T0, 7200))

  const refusals: [string, Record<string, unknown>][] = [
    ['ip', { ip: '203.0.113.7' }],
    ['content', { content: 'hello everyone' }],
    ['audioSample', { audioSample: 'UklGRiQAAABXQVZF' }],
    ['videoFrame', { videoFrame: 'iVBORw0KGgo=' }],
    ['negative bitrate', { bitrateKbps: -1 }],
    ['bitrate above 1 000 000', { bitrateKbps: 1_000_001 }],
    ['fractional bitrate', { bitrateKbps: 1.5 }],
    ['negative loss', { packetLossPct: -0.1 }],
    ['loss above 100 %', { packetLossPct: 100.1 }],
    ['negative jitter', { jitterMs: -1 }],
    ['jitter above 60 s', { jitterMs: 60_001 }],
    ['round trip above 60 s', { roundTripMs: 60_001 }],
    ['a codec with spaces and punctuation', { codec: 'opus; DROP TABLE' }],
    ['an empty codec', { codec: '' }],
    ['a codec of 33 characters', { codec: 'a'.repeat(33) }],
    ['an unknown network type', { networkType: 'satellite' }],
    ['a period longer than an hour', { periodStart: plus(clock.now().toISOString(), -3600.001) }],
    ['an empty period', { periodStart: clock.now().toISOString() }],
    ['a period ending before it starts', { periodStart: plus(clock.now().toISOString(), 1) }],
    ['a period ending more than a minute from now', { periodStart: plus(clock.now().toISOString(), 1), periodEnd: plus(clock.now().toISOString(), 60.001) }],
    ['a meeting that does not exist', { meetingId: '0190aaaa-0000-7000-8000-000000000000' }],
  ]
  for (const [label, overrides] of refusals) problem(t, await ctx.submit(ada.token, overrides), 400, 'validation_failed', label)
  const other = await createTenant(api)
  const foreignHost = await other.user(['member'])
  const foreign = await must(ctx.req('POST', '/v1/meetings', foreignHost.token, { topic: 'Elsewhere', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC' }), 201, 'foreign meeting')
  const cross = await ctx.submit(ada.token, { meetingId: foreign.id })
  problem(t, cross, 400, 'validation_failed', "another account's meeting")
  t.equal(cross.body.errors[0].pointer, '/body/meetingId')
  t.same(await diagnosticRows(tenant.accountId), [], 'nothing stored by any refusal')

  const now = clock.now().toISOString()
  const top = await ctx.submit(ada.token, { periodStart: plus(now, -3600), bitrateKbps: 1_000_000, packetLossPct: 100, jitterMs: 60_000, roundTripMs: 60_000, codec: 'H264/AVC-High_4.0', networkType: 'cellular' })
  t.equal(top.status, 201, 'exactly an hour, every figure at its upper bound', { body: top.body })
  const bottom = await ctx.submit(ada.token, { bitrateKbps: 0, packetLossPct: 0, jitterMs: 0, roundTripMs: 0, networkType: 'unknown' })
  t.equal(bottom.status, 201, 'every figure at its lower bound', { body: bottom.body })
  const skewed = await ctx.submit(ada.token, { periodStart: now, periodEnd: plus(now, 60) })
  t.equal(skewed.status, 201, 'a period ending exactly a minute ahead (client clock skew)', { body: skewed.body })
  const host = await tenant.user(['member'])
  const meeting = await must(ctx.req('POST', '/v1/meetings', host.token, { topic: 'Here', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC' }), 201, 'meeting')
  const withMeeting = await ctx.submit(ada.token, { meetingId: meeting.id })
  t.equal(withMeeting.status, 201)
  t.equal(withMeeting.body.meetingId, meeting.id, 'the meeting the figures came from')

  const rows = await diagnosticRows(tenant.accountId)
  t.equal(rows.length, 4)
  for (const row of rows) {
    t.same(
      Object.keys(row).sort(),
      ['accountId', 'bitrateKbps', 'clientNetwork', 'codec', 'expiresAt', 'id', 'jitterMs', 'meetingId', 'networkType', 'packetLossPct', 'periodEnd', 'periodStart', 'receivedAt', 'roundTripMs', 'userId'],
      'a row has quality figures and bookkeeping only',
    )
  }
})

// ---------------------------------------------------------------------------------------------
// Restriction, minors, idempotency, retention

t.test('P-DSR-4: a restricted, opted-in user → 409 processing_restricted; lifting the restriction accepts again', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req } = ctx
  const ada = await tenant.user(['member'])
  t.equal((await ctx.optIn(ada.token)).status, 200)
  clock.set(plus(T0, 10))
  t.equal((await req('PATCH', `/v1/accounts/${tenant.accountId}/users/${ada.id}`, tenant.admin, { status: 'restricted' })).status, 200, 'restricted')
  problem(t, await ctx.submit(ada.token), 409, 'processing_restricted', 'restricted')
  t.same(await diagnosticRows(tenant.accountId, ada.id), [], 'nothing stored')
  t.equal((await req('PATCH', `/v1/accounts/${tenant.accountId}/users/${ada.id}`, tenant.admin, { status: 'active' })).status, 200, 'lifted')
  t.equal((await ctx.submit(ada.token)).status, 201, 'accepted once lifted')
})

t.test('P-MIN-1 (bug probe): a minor without a guardian consent on record is not monitored, even after opting in', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const teen = await tenant.user(['member'], { isMinor: true })
  t.equal((await ctx.optIn(teen.token)).status, 200, 'the minor opts in')
  clock.set(plus(T0, 10))
  const res = await ctx.submit(teen.token)
  t.equal(res.status, 409, 'refused: no guardian consent on record', { body: res.body })
  t.same(await diagnosticRows(tenant.accountId, teen.id), [], 'no monitoring data about the minor is kept')

  // With a guardian's consent on record the minor's opt-in counts.
  clock.set(plus(T0, 20))
  const guardian = await ctx.req('PATCH', `/v1/accounts/${tenant.accountId}/users/${teen.id}`, tenant.admin, { guardianConsent: { by: 'Parent' } })
  t.equal(guardian.status, 200, 'the admin records the guardian consent', { body: guardian.body })
  clock.set(plus(T0, 30))
  t.equal((await ctx.submit(teen.token)).status, 201, 'accepted with a guardian consent on record')
})

t.test('retention and retries: expiresAt follows media_monitoring.retention_days; a retried POST with the same Idempotency-Key stores one row', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req } = ctx
  const ada = await tenant.user(['member'])
  t.equal((await ctx.optIn(ada.token)).status, 200)
  t.equal((await req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'media_monitoring.retention_days': 3 } })).status, 200, 'retention 3 days')
  clock.set(plus(T0, 10))
  const first = await ctx.submit(ada.token, {}, { 'idempotency-key': 'diag-1' })
  t.equal(first.status, 201)
  t.equal(first.body.expiresAt, new Date(Date.parse(plus(T0, 10)) + 3 * DAY_MS).toISOString(), 'received + 3 days')
  const retry = await ctx.submit(ada.token, {}, { 'idempotency-key': 'diag-1' })
  t.equal(retry.status, 201)
  t.same(retry.body, first.body, 'the same answer')
  t.equal(retry.headers?.['idempotent-replayed'], 'true')
  const rows = await diagnosticRows(tenant.accountId, ada.id)
  t.same(rows.map((r) => [r.id, r.expiresAt.toISOString()]), [[first.body.id, first.body.expiresAt]], 'one row, with its expiry')
})

// ---------------------------------------------------------------------------------------------
// Reading

t.test("GET /v1/me/media-diagnostics: only the caller's own rows, paged; the recorder role has none", async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  for (const u of [ada, bob]) t.equal((await ctx.optIn(u.token)).status, 200)
  const made: Record<string, string[]> = { [ada.id]: [], [bob.id]: [] }
  for (const [i, u] of [ada, bob, ada, ada, bob].entries()) {
    clock.set(plus(T0, 10 + i))
    const res = await ctx.submit(u.token, { bitrateKbps: 100 + i })
    t.equal(res.status, 201)
    made[u.id]!.push(res.body.id)
  }

  const seen: string[] = []
  let cursor: string | null = null
  for (let guard = 0; guard < 5; guard++) {
    const page: Res = await ctx.mine(ada.token, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    t.equal(page.status, 200)
    seen.push(...page.body.items.map((i: any) => i.id))
    cursor = page.body.nextCursor
    if (!cursor) break
  }
  t.same(seen, made[ada.id], "ada's three rows over two pages, in order")
  t.same((await ctx.mine(bob.token)).body.items.map((i: any) => [i.id, i.bitrateKbps]), [[made[bob.id]![0], 101], [made[bob.id]![1], 104]], "bob's own two rows")
  t.same((await ctx.mine(tenant.admin)).body.items, [], 'an admin sees only their own (none), not the account’s')
  problem(t, await ctx.mine(recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await ctx.mine(ada.token, '?cursor=not-a-cursor'), 400, 'validation_failed', 'a bad cursor')
})
