import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core'
import { and, eq, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { rowsOf } from '../../db/client.js'
import * as schema from '../../db/schema/index.js'
import { consentRecords, recordings, users } from '../../db/schema/index.js'
import { NOT_PERSONAL, PERSONAL_DATA } from '../../src/modules/privacy/privacy.catalog.js'
import { dueAt } from '../../src/modules/privacy/privacy.deadline.js'
import { TestClock } from '../helpers/clock.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'

// Privacy requests (issue 16): filed by the subject or by an admin, due by the account's
// deadline (P-DSR-6), worked on the job runner, with access and portability (P-DSR-1),
// rectification (P-DSR-2), erasure that leaves no personal value but what it lists as withheld
// (P-DSR-3), restriction and objection (P-DSR-4), cancellation (P-DSR-5) and withdrawal
// (P-DSR-7). The server clock is moved by hand.

type Body = Record<string, unknown>
type Res = { status: number; headers: Record<string, unknown>; body: any }

// A Friday, so business days skip a weekend at once.
const T0 = '2026-12-04T09:00:00.000Z'
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
const DAY_MS = 86_400_000
const START = at(10)
const END = at(100)
const SECRET_TEXT = 'Ada’s secret plan for the merger'
const ADA_AGENT = 'AdaBrowser/7.1 (personal)'

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  meetingId: string
  host: { id: string; token: string }
  ada: { id: string; token: string }
  recorder: { id: string; token: string }
  hostP: string
  adaP: string
  recordingId: string
  transcriptId: string
  req: (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, token: string, body?: Body, headers?: Record<string, string>) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** Runs the job runner until nothing is due (the requests' background work). */
  work: () => Promise<number>
  requests: string
}

async function setup(t: Test, options: { values?: Body; account?: Body } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api, options.account ?? {})
  const req = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, token: string, body?: Body, headers?: Record<string, string>) =>
    api.request({ method, url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  await must(
    req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, {
      values: { 'recording.cloud.enabled': true, 'transcript.enabled': true, 'media_monitoring.allowed': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false, ...options.values },
    }),
    200,
    'settings',
  )
  const notice = async (kind: string) => (await must(req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale: 'en', title: kind, text: `The ${kind} notice.` }), 201, 'notice')).currentVersion.id as string
  const notices = { recording: await notice('recording'), transcript: await notice('transcript'), media_monitoring: await notice('media_monitoring') }
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const meeting = await must(req('POST', '/v1/meetings', host.token, { topic: 'Quarterly', scheduledStart: T0, durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(req('POST', `/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const hostP = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId as string
  const adaP = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, ada.token, {}), 201, 'ada joins')).participantId as string
  clock.set(at(1))
  for (const [participantId, token, agent] of [
    [hostP, host.token, 'HostBrowser/1.0'],
    [adaP, ada.token, ADA_AGENT],
  ] as const) {
    for (const scope of ['recording', 'transcript'] as const) {
      await must(req('POST', `/v1/meetings/${meeting.id}/consents`, token, { participantId, scope, decision: 'granted', noticeVersionId: notices[scope], method: 'click_continue' }, { 'user-agent': agent }), 201, 'grant')
    }
  }
  await must(req('PUT', '/v1/me/media-monitoring', ada.token, { optIn: true, noticeVersionId: notices.media_monitoring }, { 'user-agent': ADA_AGENT }), 200, 'opt in')
  clock.set(at(120))
  await must(
    req('POST', '/v1/media-diagnostics', ada.token, { meetingId: meeting.id, periodStart: at(60), periodEnd: at(110), bitrateKbps: 900, packetLossPct: 1, jitterMs: 10, roundTripMs: 50, codec: 'opus', networkType: 'wifi' }),
    201,
    'diagnostics',
  )
  const recording = await must(req('POST', `/v1/meetings/${meeting.id}/recordings`, recorder.token, { kind: 'cloud', startedAt: START, endedAt: END }), 201, 'record')
  const transcript = await must(
    req('POST', `/v1/meetings/${meeting.id}/transcripts`, recorder.token, {
      startedAt: START,
      endedAt: END,
      segments: [
        { speakerParticipantId: hostP, startMs: 0, endMs: 1000, text: 'Welcome, everyone' },
        { speakerParticipantId: adaP, startMs: 1000, endMs: 2000, text: SECRET_TEXT },
      ],
    }),
    201,
    'transcript',
  )
  return {
    api,
    clock,
    tenant,
    meetingId: meeting.id,
    host,
    ada,
    recorder,
    hostP,
    adaP,
    recordingId: recording.id,
    transcriptId: transcript.id,
    req,
    must,
    work: () => api.app.services.jobs.runDue(),
    requests: `/v1/accounts/${tenant.accountId}/privacy-requests`,
  }
}

/** Every place a personal value of the subject could hide, counted. */
async function personalValuesLeft(accountId: string, values: string[]) {
  const { db } = await testDatabase()
  const found: Record<string, number> = {}
  const tables = ['users', 'participants', 'transcripts', 'consent_client_details', 'consent_records', 'privacy_exports', 'idempotency_keys', 'audit_entries', 'audit_pending', 'setting_values', 'media_diagnostics', 'privacy_requests']
  for (const table of tables) {
    for (const value of values) {
      const rows = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from ${sql.identifier(table)} as x where x.account_id = ${accountId} and x::text ilike ${`%${value}%`}`))
      if (Number(rows[0]!.n) > 0) found[`${table}: ${value}`] = Number(rows[0]!.n)
    }
  }
  return found
}

t.test('P-DSR-6: deadlines in calendar or business days on the server clock, extended once and never silently, overdue listed and counted', async (t) => {
  // Friday 09:00 UTC plus 3 business days is Wednesday; plus 3 calendar days, Monday.
  t.equal(dueAt(new Date(T0), 3, true).toISOString(), '2026-12-09T09:00:00.000Z')
  t.equal(dueAt(new Date(T0), 3, false).toISOString(), '2026-12-07T09:00:00.000Z')
  t.equal(dueAt(new Date('2026-12-05T09:00:00Z'), 1, true).toISOString(), '2026-12-07T09:00:00.000Z', 'a Saturday request is due Monday')

  const ctx = await setup(t, { account: { requestDeadlineDays: 10, requestDeadlineBusinessDays: true } })
  ctx.clock.set(T0)
  const access = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'access' }), 201, 'access')
  t.equal(access.receivedAt, T0, 'received on the server clock')
  t.equal(access.dueAt, '2026-12-18T09:00:00.000Z', '10 business days: two weekends skipped')
  t.equal(access.status, 'verified', 'the subject’s own token verifies it')
  t.same(access.history.map((h: { from: string | null; to: string }) => [h.from, h.to]), [[null, 'received'], ['received', 'verified']])
  const cancel = await ctx.must(ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'cancel_account', subjectUserId: ctx.host.id, reason: 'Asked by letter' }), 201, 'cancel')
  t.equal(cancel.dueAt, '2026-12-18T09:00:00.000Z', 'cancellation: the sooner of 15 days and the deadline (14 calendar days here)')
  t.equal(cancel.status, 'received', 'filed by an admin: waits for verification')

  // Extended once, by at most 60 days, with a reason, in the history.
  const tooFar = await ctx.req('PATCH', `${ctx.requests}/${access.id}`, ctx.tenant.admin, { extendTo: new Date(Date.parse(access.dueAt) + 61 * DAY_MS).toISOString(), reason: 'Complex' })
  t.equal(tooFar.status, 400)
  t.equal((await ctx.req('PATCH', `${ctx.requests}/${access.id}`, ctx.tenant.admin, { extendTo: new Date(Date.parse(access.dueAt) + DAY_MS).toISOString() })).status, 400, 'an extension says why')
  const extended = await ctx.must(ctx.req('PATCH', `${ctx.requests}/${access.id}`, ctx.tenant.admin, { extendTo: '2027-01-15T09:00:00Z', reason: 'Many recordings to review' }), 200, 'extend')
  t.equal(extended.dueAt, '2027-01-15T09:00:00.000Z')
  t.equal(extended.originalDueAt, '2026-12-18T09:00:00.000Z')
  t.match(extended.history.at(-1), { change: 'extension', reason: /Many recordings/ })
  const again = await ctx.req('PATCH', `${ctx.requests}/${access.id}`, ctx.tenant.admin, { extendTo: '2027-01-20T09:00:00Z', reason: 'More' })
  t.equal(again.status, 409)
  t.equal(again.body.code, 'already_extended')

  // Overdue: listed and counted for admins, sorted by due date.
  ctx.clock.set('2026-12-20T00:00:00Z')
  const overdue = await ctx.must(ctx.req('GET', `${ctx.requests}?overdue=true`, ctx.tenant.admin), 200, 'overdue')
  t.same(overdue.items.map((item: { id: string }) => item.id), [cancel.id], 'the cancellation is overdue; the extended access is not')
  t.equal(overdue.overdueCount, 1)
  t.equal(overdue.items[0].overdue, true)
  const all = await ctx.must(ctx.req('GET', ctx.requests, ctx.tenant.admin), 200, 'all')
  t.same(all.items.map((item: { id: string }) => item.id), [cancel.id, access.id], 'by due date')
  t.equal((await ctx.req('GET', ctx.requests, ctx.ada.token)).status, 403, 'members do not list the account’s requests')
})

t.test('P-DSR-1: access builds a machine-readable export of every category, with receipts and notice texts, and only the subject’s own segments', async (t) => {
  const ctx = await setup(t)
  const filed = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'access' }), 201, 'file')
  t.equal((await ctx.req('GET', `/v1/me/privacy-requests/${filed.id}/export`, ctx.ada.token)).status, 404, 'no export before the work ran')
  await ctx.work()
  const [done] = (await ctx.must(ctx.req('GET', '/v1/me/privacy-requests', ctx.ada.token), 200, 'mine')).items
  t.match(done, { id: filed.id, status: 'completed', exportAvailable: true })
  t.same(done.history.map((h: { to: string }) => h.to), ['received', 'verified', 'in_progress', 'completed'])
  const document = await ctx.must(ctx.req('GET', `/v1/me/privacy-requests/${filed.id}/export`, ctx.ada.token), 200, 'download')
  t.equal(document.format, 'consentry.export/1')
  const category = (name: string) => document.categories.find((c: { category: string }) => c.category === name)
  for (const c of document.categories) t.ok(c.purpose && c.legalBasis && c.recipients && c.retention, `${c.category} says why, on what basis, to whom and how long`)
  t.equal(category('profile').items[0].id, ctx.ada.id)
  const consents = category('consents_and_receipts').items
  t.equal(consents.length, 3, 'two meeting grants and the monitoring opt-in')
  const meetingGrant = consents.find((c: { scope: string }) => c.scope === 'recording')
  t.match(meetingGrant, { userAgent: ADA_AGENT, notice: { text: 'The recording notice.' } })
  t.match(meetingGrant.receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'with its signed receipt')
  t.equal(meetingGrant.notice.sha256.length, 64, 'and the hash of the exact text it answered')
  const segments = category('transcripts').items.flatMap((item: { segments: { text: string }[] }) => item.segments.map((s) => s.text))
  t.same(segments, [SECRET_TEXT], 'her own segment, not the host’s')
  t.equal(category('recordings').items[0].id, ctx.recordingId)
  t.equal(category('media_diagnostics').items.length, 1)
  t.ok(category('audit_entries').items.length > 0)
  t.notOk(JSON.stringify(document).includes('HostBrowser'), 'nothing of another participant')

  const byAdmin = await ctx.req('GET', `${ctx.requests}/${filed.id}/export`, ctx.tenant.admin)
  t.equal(byAdmin.status, 200, 'admins download it too')
  t.equal((await ctx.req('GET', `/v1/me/privacy-requests/${filed.id}/export`, ctx.host.token)).status, 404, 'another user never sees it')
  const now = await ctx.must(ctx.req('GET', '/v1/me/export', ctx.ada.token), 200, 'export now')
  t.equal(now.categories.length, document.categories.length, 'GET /v1/me/export answers the same document at once')
  const { db } = await testDatabase()
  const downloads = await db.select().from(schema.auditEntries).where(and(eq(schema.auditEntries.accountId, ctx.tenant.accountId), eq(schema.auditEntries.action, 'privacy_export.downloaded')))
  t.equal(downloads.length, 3, 'every download is audited')
})

t.test('P-DSR-3: erasure leaves no personal value of the subject anywhere, but what it lists as withheld, and the audit chain still verifies', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const [before] = await db.select().from(users).where(and(eq(users.accountId, ctx.tenant.accountId), eq(users.id, ctx.ada.id)))
  const values = [before!.email, SECRET_TEXT, ADA_AGENT]
  t.ok(Object.keys(await personalValuesLeft(ctx.tenant.accountId, values)).length >= 3, 'the values are there before')
  const filed = await ctx.must(ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'erasure', subjectUserId: ctx.ada.id, reason: 'She wrote to us' }), 201, 'file')
  await ctx.work()
  t.equal((await ctx.must(ctx.req('GET', `${ctx.requests}/${filed.id}`, ctx.tenant.admin), 200, 'get')).status, 'received', 'an admin’s filing waits for verification')
  const verified = await ctx.must(ctx.req('PATCH', `${ctx.requests}/${filed.id}`, ctx.tenant.admin, { status: 'verified' }), 200, 'verify')
  t.equal(verified.status, 'verified')
  await ctx.work()
  const done = await ctx.must(ctx.req('GET', `${ctx.requests}/${filed.id}`, ctx.tenant.admin), 200, 'done')
  t.equal(done.status, 'completed')
  t.match(done.result.erased, { recordings: 1, transcript_segments: 1, media_diagnostics: 1, consent_client_details: 3, profile: 1 })
  t.same(done.result.withheld.map((w: { category: string; reason: string }) => [w.category, w.reason]), [
    ['consents_and_receipts', 'legal_obligation'],
    ['audit_entries', 'legal_obligation'],
  ])
  t.same(await personalValuesLeft(ctx.tenant.accountId, values), {}, 'no email, no transcript text, no user agent left')
  const [after] = await db.select().from(users).where(and(eq(users.accountId, ctx.tenant.accountId), eq(users.id, ctx.ada.id)))
  t.match(after, { displayName: 'Erased user', pictureUrl: null, email: `erased-${ctx.ada.id}@erased.invalid` })
  const [recording] = await db.select().from(recordings).where(and(eq(recordings.accountId, ctx.tenant.accountId), eq(recordings.id, ctx.recordingId)))
  t.equal(recording!.status, 'deleted', 'recording.on_erasure delete: the recording she appears in is gone')
  const transcript = await ctx.must(ctx.req('GET', `/v1/meetings/${ctx.meetingId}/transcripts/${ctx.transcriptId}`, ctx.host.token), 200, 'transcript')
  t.same(transcript.segments.map((s: { text: string | null; redacted: boolean }) => [s.text, s.redacted]), [['Welcome, everyone', false], [null, true]], 'her segment is a redaction marker; the host’s stays')
  t.equal((await db.select().from(consentRecords).where(eq(consentRecords.accountId, ctx.tenant.accountId))).length, 5, 'the consent records stay as pseudonymous evidence')
  const verify = await ctx.must(ctx.req('GET', `/v1/accounts/${ctx.tenant.accountId}/audit/verify`, ctx.tenant.admin), 200, 'verify')
  t.equal(verify.valid, true)
})

t.test('P-DSR-3: recording.on_erasure withhold keeps recordings and says so; a legal hold on the subject suspends erasure', async (t) => {
  const ctx = await setup(t, { values: { 'recording.on_erasure': 'withhold' } })
  const { db } = await testDatabase()
  await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'erasure' }), 201, 'file')
  await ctx.work()
  const [mine] = (await ctx.must(ctx.req('GET', ctx.requests, ctx.tenant.admin), 200, 'list')).items
  t.match(mine.result.withheld[0], { category: 'recordings', count: 1, reason: 'account_rule' })
  const [recording] = await db.select().from(recordings).where(and(eq(recordings.accountId, ctx.tenant.accountId), eq(recordings.id, ctx.recordingId)))
  t.equal(recording!.status, 'pending', 'kept (registered, not deleted)')

  const hold = await ctx.must(ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/legal-holds`, ctx.tenant.admin, { subjectUserId: ctx.host.id, reason: 'Dispute' }), 201, 'hold')
  const held = await ctx.must(ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'erasure', subjectUserId: ctx.host.id, reason: 'Asked' }), 201, 'file')
  await ctx.must(ctx.req('PATCH', `${ctx.requests}/${held.id}`, ctx.tenant.admin, { status: 'verified' }), 200, 'verify')
  await ctx.work()
  const done = await ctx.must(ctx.req('GET', `${ctx.requests}/${held.id}`, ctx.tenant.admin), 200, 'get')
  t.match(done.result.withheld, [{ reason: 'legal_hold', holdIds: [hold.id] }])
  const [host] = await db.select().from(users).where(and(eq(users.accountId, ctx.tenant.accountId), eq(users.id, ctx.host.id)))
  t.not(host!.displayName, 'Erased user', 'held: the profile stays')
})

t.test('P-DSR-4: a completed restriction stops monitoring and attention for the subject until it is lifted', async (t) => {
  const ctx = await setup(t)
  const diagnostics = () =>
    ctx.req('POST', '/v1/media-diagnostics', ctx.ada.token, { periodStart: at(100), periodEnd: at(110), bitrateKbps: 900, packetLossPct: 1, jitterMs: 10, roundTripMs: 50, codec: 'opus', networkType: 'wifi' })
  t.equal((await diagnostics()).status, 201)
  const filed = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'objection' }), 201, 'object')
  const early = await ctx.req('POST', `/v1/me/privacy-requests/${filed.id}/lift`, ctx.ada.token)
  t.equal(early.status, 409, 'not yet completed: nothing to lift')
  await ctx.work()
  const refused = await diagnostics()
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'processing_restricted')
  const lifted = await ctx.must(ctx.req('POST', `/v1/me/privacy-requests/${filed.id}/lift`, ctx.ada.token), 200, 'lift')
  t.ok(lifted.liftedAt)
  t.equal(lifted.history.at(-1).change, 'lift')
  t.equal((await diagnostics()).status, 201, 'lifted: processing resumes')
  t.equal((await ctx.req('POST', `/v1/me/privacy-requests/${filed.id}/lift`, ctx.ada.token)).status, 409, 'lifted once')
})

t.test('P-DSR-4: while a restriction stands, marketing and profiling settings resolve off whatever the user chose; lifted, the choice applies again', async (t) => {
  const ctx = await setup(t)
  const STOPPED = ['privacy.marketing_email', 'privacy.analytics', 'privacy.targeted_ads', 'privacy.data_sharing']
  const effective = async (token: string, url = '/v1/me/settings/effective') => (await ctx.must(ctx.req('GET', url, token), 200, 'effective')).settings
  await ctx.must(ctx.req('PATCH', '/v1/me/settings', ctx.ada.token, { values: Object.fromEntries([...STOPPED, 'privacy.non_essential_cookies'].map((key) => [key, true])) }), 200, 'opt in')
  const before = await effective(ctx.ada.token)
  t.same(STOPPED.map((key) => before[key].value), [true, true, true, true], 'opted in')

  const filed = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'restriction' }), 201, 'restrict')
  await ctx.work()
  const done = await ctx.must(ctx.req('GET', `${ctx.requests}/${filed.id}`, ctx.tenant.admin), 200, 'request')
  t.same(done.result, { restricted: true, stops: ['attention_tracking', 'media_monitoring', ...STOPPED] }, 'the result names what stops')
  const during = await effective(ctx.ada.token)
  for (const key of STOPPED) {
    t.equal(during[key].value, false, `${key} off while restricted`)
    t.same(during[key].source, { layer: 'user', id: ctx.ada.id, origin: 'restriction' })
    t.same(during[key].overridden, [{ layer: 'user', id: ctx.ada.id, value: true, reason: 'restriction' }], 'her choice is kept')
  }
  t.equal(during['privacy.non_essential_cookies'].value, true, 'a setting the restriction does not cover keeps her choice')
  const asAdmin = await effective(ctx.tenant.admin, `/v1/accounts/${ctx.tenant.accountId}/users/${ctx.ada.id}/settings/effective`)
  t.equal(asAdmin['privacy.analytics'].value, false, 'what the platform reads for her says off too')
  const catalog = await ctx.must(ctx.req('GET', '/v1/settings/catalog', ctx.ada.token), 200, 'catalog')
  t.same(
    catalog.settings.filter((item: { stopsWhileRestricted: boolean }) => item.stopsWhileRestricted).map((item: { key: string }) => item.key).sort(),
    [...STOPPED].sort(),
    'the catalogue says which keys a restriction holds off',
  )

  await ctx.must(ctx.req('POST', `/v1/me/privacy-requests/${filed.id}/lift`, ctx.ada.token), 200, 'lift')
  const after = await effective(ctx.ada.token)
  t.same(STOPPED.map((key) => [after[key].value, after[key].source.origin]), STOPPED.map(() => [true, 'explicit']), 'lifted: her choices apply again')
})

t.test('P-DSR-7: one request withdraws every standing grant, each as a record of its own; earlier records stay', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const before = await db.select().from(consentRecords).where(and(eq(consentRecords.accountId, ctx.tenant.accountId), eq(consentRecords.userId, ctx.ada.id)))
  await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'withdraw_consent' }), 201, 'withdraw')
  await ctx.work()
  const [done] = (await ctx.must(ctx.req('GET', '/v1/me/privacy-requests', ctx.ada.token), 200, 'mine')).items
  t.same(done.result, { withdrawn: 3 }, 'recording, transcript and the monitoring opt-in')
  const after = await db.select().from(consentRecords).where(and(eq(consentRecords.accountId, ctx.tenant.accountId), eq(consentRecords.userId, ctx.ada.id)))
  t.equal(after.length, before.length + 3, 'earlier records stay; three withdrawals are added')
  const status = await ctx.must(ctx.req('GET', `/v1/meetings/${ctx.meetingId}/consent-status`, ctx.host.token), 200, 'status')
  const ada = status.items.find((item: { participantId: string }) => item.participantId === ctx.adaP)
  t.match(ada.scopes, { recording: { decision: 'withdrawn' }, transcript: { decision: 'withdrawn' } })
  await ctx.work()
  t.equal((await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'withdraw_consent' })).status, 201, 'a closed request does not block a new one')
})

t.test('P-DSR-5: cancellation refuses the subject’s tokens at once and completes with erasure; P-DSR-2: rectification corrects the profile', async (t) => {
  const ctx = await setup(t)
  const fixed = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.host.token, { type: 'rectification', details: { displayName: 'Grace H.' } }), 201, 'rectify')
  await ctx.work()
  t.equal((await ctx.must(ctx.req('GET', '/v1/me', ctx.host.token), 200, 'me')).displayName, 'Grace H.')
  t.same((await ctx.must(ctx.req('GET', `${ctx.requests}/${fixed.id}`, ctx.tenant.admin), 200, 'r')).result, { corrected: ['displayName'] })

  const cancel = await ctx.must(ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'cancel_account' }), 201, 'cancel')
  t.equal((await ctx.req('GET', '/v1/me', ctx.ada.token)).status, 401, 'her token is refused at once, before the work runs')
  await ctx.work()
  const done = await ctx.must(ctx.req('GET', `${ctx.requests}/${cancel.id}`, ctx.tenant.admin), 200, 'get')
  t.equal(done.status, 'completed')
  t.ok(Date.parse(done.completedAt) <= Date.parse(done.dueAt), 'completed before its deadline')
  t.match(done.result.erased, { profile: 1 })
  const { db } = await testDatabase()
  const [row] = await db.select().from(users).where(and(eq(users.accountId, ctx.tenant.accountId), eq(users.id, ctx.ada.id)))
  t.match(row, { status: 'cancelled', displayName: 'Erased user' })
})

t.test('bad input: unknown types and fields, a second open request, another subject’s request, invalid moves, guests', async (t) => {
  const ctx = await setup(t)
  t.equal((await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'forget_me' })).status, 400)
  t.equal((await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'access', extra: 1 })).status, 400)
  t.equal((await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'access', details: { displayName: 'x' } })).status, 400, 'details only with rectification')
  t.equal((await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'rectification' })).status, 400, 'a rectification names what to correct')
  const first = await ctx.must(ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'access', subjectUserId: ctx.ada.id, reason: 'Letter' }), 201, 'first')
  const second = await ctx.req('POST', '/v1/me/privacy-requests', ctx.ada.token, { type: 'access' })
  t.equal(second.status, 409)
  t.equal(second.body.code, 'request_open')
  t.equal(second.body.requestId, first.id, 'naming the open one')
  const { db } = await testDatabase()
  t.equal(rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from privacy_requests where account_id = ${ctx.tenant.accountId}`))[0]!.n, 1, 'a refused request writes nothing')

  t.equal((await ctx.req('GET', `/v1/me/privacy-requests/${first.id}/export`, ctx.host.token)).status, 404, 'another subject’s request is 404')
  const other = await createTenant(ctx.api)
  t.equal((await ctx.req('GET', `/v1/accounts/${other.accountId}/privacy-requests/${first.id}`, other.admin)).status, 404, 'and in another account')
  const skip = await ctx.req('PATCH', `${ctx.requests}/${first.id}`, ctx.tenant.admin, { status: 'completed' })
  t.equal(skip.status, 409)
  t.equal(skip.body.code, 'invalid_transition')
  t.equal((await ctx.req('PATCH', `${ctx.requests}/${first.id}`, ctx.tenant.admin, { status: 'rejected' })).status, 400, 'a rejection says why')
  const rejected = await ctx.must(ctx.req('PATCH', `${ctx.requests}/${first.id}`, ctx.tenant.admin, { status: 'rejected', reason: 'Identity not confirmed' }), 200, 'reject')
  t.match(rejected, { status: 'rejected', reason: 'Identity not confirmed' })
  t.equal((await ctx.req('PATCH', `${ctx.requests}/${first.id}`, ctx.tenant.admin, { status: 'verified' })).status, 409, 'a rejected request stays rejected')

  // A guest: named by meeting and participant, for access and erasure.
  const guest = (await ctx.must(ctx.req('POST', `/v1/meetings/${ctx.meetingId}/participants`, ctx.host.token, { guest: { displayName: 'Visiting Vera' } }), 201, 'guest')).participantId as string
  t.equal((await ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'restriction', guest: { meetingId: ctx.meetingId, participantId: guest }, reason: 'x' })).status, 400)
  t.equal((await ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'erasure', guest: { meetingId: ctx.meetingId, participantId: ctx.adaP }, reason: 'x' })).status, 404, 'a user’s participation is not a guest')
  const erase = await ctx.must(ctx.req('POST', ctx.requests, ctx.tenant.admin, { type: 'erasure', guest: { meetingId: ctx.meetingId, participantId: guest }, reason: 'Vera asked' }), 201, 'guest erasure')
  await ctx.must(ctx.req('PATCH', `${ctx.requests}/${erase.id}`, ctx.tenant.admin, { status: 'verified' }), 200, 'verify')
  await ctx.work()
  t.same(await personalValuesLeft(ctx.tenant.accountId, ['Visiting Vera']), {}, 'the guest’s name is gone')
})

t.test('the catalogue of personal data covers every table of the schema, so none escapes access or erasure', async (t) => {
  const tables = (Object.values(schema) as unknown[])
    .filter((value): value is PgTable => typeof value === 'object' && value !== null && Symbol.for('drizzle:IsDrizzleTable') in value)
    .map((table) => getTableConfig(table).name)
  const personal = PERSONAL_DATA.flatMap((category) => category.tables)
  const declared = new Set([...personal, ...Object.keys(NOT_PERSONAL)])
  t.same(tables.filter((name) => !declared.has(name)), [], 'every table is declared personal or not')
  t.same([...declared].filter((name) => !tables.includes(name)), [], 'and the catalogue names no table that does not exist')
  t.same(personal.filter((name) => name in NOT_PERSONAL), [], 'none is both')
  t.ok(tables.length > 25)
})
