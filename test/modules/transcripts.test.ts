import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { consentGrants, transcripts } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, platformToken, type Tenant, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { chainedTrail, auditRows } from '../helpers/audit.js'

// Transcripts (issue 5, items 5 and 7): the switch, segment validation, the transcript-scope
// gate per speaker over their own segments (P-REC-2, rule 7) with refusal or redaction, who
// reads the text and that every read is audited (P-REC-6, P-GOV-2), summaries, deletion. The
// server clock is a TestClock moved by hand; every request is checked against the OpenAPI document.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>
type Res = { status: number; headers: Record<string, unknown>; body: any }

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
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
/** The transcript window of most tests: 90 s, everyone present all through it. */
const START = at(10)
const END = at(100)
const LENGTH_MS = 90_000
const NOBODY = '0190a000-0000-7000-8000-000000000000'
const sorted = (ids: string[]) => [...ids].sort()

interface Person {
  id: string
  token: string
}

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  meetingId: string
  host: Person
  alice: Person
  bob: Person
  recorder: Person
  stranger: Person
  /** Participant ids: host and alice granted recording and transcript, bob only recording. */
  hostP: string
  aliceP: string
  bobP: string
  notices: { recording: string; transcript: string }
  get: (url: string, token: string) => Promise<Res>
  post: (url: string, token: string, body?: Body, headers?: Record<string, string>) => Promise<Res>
  del: (url: string, token: string) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  consent: (participantId: string, token: string, scope: 'recording' | 'transcript', decision?: string) => Promise<any>
  /** POST …/transcripts (must succeed). */
  transcribe: (token: string, body: Body) => Promise<any>
  cohost: () => Promise<string>
  url: (suffix?: string) => string
}

async function setup(t: Test, options: { values?: Body } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: Body, headers?: Record<string, string>) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const del = (url: string, token: string) => api.request({ method: 'DELETE', url, token })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  await must(
    api.request({
      method: 'PATCH',
      url: `/v1/accounts/${tenant.accountId}/settings`,
      token: tenant.admin,
      body: { values: { 'recording.cloud.enabled': true, 'transcript.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false, ...options.values } },
    }),
    200,
    'settings',
  )
  const notice = async (kind: string) =>
    (await must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale: 'en', title: kind, text: `This meeting's ${kind} notice.` }), 201, 'notice'))
      .currentVersion.id as string
  const notices = { recording: await notice('recording'), transcript: await notice('transcript') }
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const stranger = await tenant.user(['member'])
  const meeting = await must(
    post('/v1/meetings', host.token, { topic: 'Transcribed', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 60, timeZone: 'UTC' }),
    201,
    'meeting',
  )
  const meetingId = meeting.id as string
  await must(post(`/v1/meetings/${meetingId}/start`, host.token), 200, 'start')
  const join = async (token: string) => (await must(post(`/v1/meetings/${meetingId}/participants`, token, {}), 201, 'join')).participantId as string
  const hostP = await join(host.token)
  const aliceP = await join(alice.token)
  const bobP = await join(bob.token)
  const consent = (participantId: string, token: string, scope: 'recording' | 'transcript', decision = 'granted') =>
    must(
      post(`/v1/meetings/${meetingId}/consents`, token, {
        participantId,
        scope,
        decision,
        method: 'click_continue',
        ...(decision === 'granted' || decision === 'notified' ? { noticeVersionId: notices[scope] } : {}),
      }),
      201,
      `consent ${scope} ${decision}`,
    )
  clock.set(at(1))
  for (const [p, token] of [
    [hostP, host.token],
    [aliceP, alice.token],
    [bobP, bob.token],
  ] as const) {
    await consent(p, token, 'recording')
    if (p !== bobP) await consent(p, token, 'transcript')
  }
  clock.set(at(120))
  const url = (suffix = '') => `/v1/meetings/${meetingId}/transcripts${suffix}`
  const transcribe = (token: string, body: Body) => must(post(url(), token, { startedAt: START, endedAt: END, ...body }), 201, 'transcribe')
  const cohost = async () => {
    const deputy = await tenant.user(['admin', 'member'])
    await must(post(`/v1/meetings/${meetingId}/participants`, deputy.token, { role: 'cohost' }), 201, 'cohost joins')
    await must(api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/users/${deputy.id}`, token: tenant.admin, body: { roles: ['member'] } }), 200, 'demote')
    return tokenFor(api.config, { sub: deputy.id, acc: tenant.accountId, roles: ['member'] })
  }
  return { api, clock, tenant, meetingId, host, alice, bob, recorder, stranger, hostP, aliceP, bobP, notices, get, post, del, must, consent, transcribe, cohost, url }
}

async function transcriptRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const rows = await db.select().from(transcripts).where(and(eq(transcripts.accountId, accountId), eq(transcripts.meetingId, meetingId)))
  return rows.sort((x, y) => (x.id < y.id ? -1 : 1))
}

async function transcriptRow(accountId: string, id: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(transcripts).where(and(eq(transcripts.accountId, accountId), eq(transcripts.id, id)))
  return row
}

async function grantRows(accountId: string, meetingId: string, scope: 'recording' | 'transcript') {
  const { db } = await testDatabase()
  const rows = await db.select().from(consentGrants).where(and(eq(consentGrants.accountId, accountId), eq(consentGrants.meetingId, meetingId)))
  return rows.filter((row) => row.scope === scope)
}


function problem(t: Test, res: Res, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

async function auditVerifies(t: Test, ctx: Ctx) {
  const verify = await ctx.get(`/v1/accounts/${ctx.tenant.accountId}/audit/verify`, ctx.tenant.admin)
  t.equal(verify.status, 200)
  t.equal(verify.body.valid, true, 'the audit chain verifies', { body: verify.body })
  t.equal(verify.body.firstInvalidSeq, null)
}

const segment = (speakerParticipantId: string, startMs: number, endMs: number, text: string) => ({ speakerParticipantId, startMs, endMs, text })

// ---------------------------------------------------------------------------------------------
// 1. The switch and validation

t.test('transcript.enabled false: 409 transcript_disabled, nothing written; switched on, the same request is stored', async (t) => {
  const ctx = await setup(t, { values: { 'transcript.enabled': false } })
  const { api, tenant, meetingId, recorder, post, url, must, transcribe, hostP } = ctx
  const body = { startedAt: START, endedAt: END, segments: [segment(hostP, 0, 1000, 'Good morning')] }
  const off = await post(url(), recorder.token, body)
  problem(t, off, 409, 'transcript_disabled')
  t.match(off.body.errors, [{ rule: 'transcript_disabled', participantId: null }], 'the switch is one of the decision\'s rules, named like any other')
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 0, 'no row')
  t.equal((await grantRows(tenant.accountId, meetingId, 'transcript')).length, 0, 'no grant')
  t.equal((await auditRows(tenant.accountId, 'transcript.rejected')).length, 1, 'refused like any store the gate refuses (rule 6)')

  await must(api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'transcript.enabled': true } } }), 200, 'on')
  const stored = await transcribe(recorder.token, body)
  t.equal(stored.status, 'stored')
  // The meeting can switch it off again for itself.
  await must(api.request({ method: 'PATCH', url: `/v1/meetings/${meetingId}/settings`, token: ctx.host.token, body: { values: { 'transcript.enabled': false } } }), 200, 'meeting off')
  problem(t, await post(url(), recorder.token, body), 409, 'transcript_disabled', 'off for the meeting')
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 1)
})

t.test('segment and reference validation: 400 with the pointer of the offending segment field; nothing written; a real recordingId is accepted', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, host, recorder, hostP, aliceP, post, url, must, transcribe } = ctx
  const bad = async (body: Body, pointer: string, label: string) => {
    const res = await post(url(), recorder.token, { startedAt: START, endedAt: END, ...body })
    problem(t, res, 400, 'validation_failed', label)
    t.ok((res.body.errors ?? []).some((e: any) => e.pointer === pointer), `${label}: pointer ${pointer}`, { errors: res.body.errors })
  }
  const ok = segment(hostP, 0, 1000, 'fine')
  await bad({ segments: [ok, segment(aliceP, 2000, 2000, 'empty')] }, '/body/segments/1/endMs', 'endMs equal to startMs')
  await bad({ segments: [segment(aliceP, 5000, 4000, 'backwards'), ok] }, '/body/segments/0/endMs', 'endMs before startMs')
  await bad({ segments: [ok, ok, segment(aliceP, 80_000, LENGTH_MS + 1, 'too long')] }, '/body/segments/2/endMs', 'endMs beyond the window length')
  await bad({ segments: [ok, segment(NOBODY, 1000, 2000, 'who?')] }, '/body/segments/1/speakerParticipantId', 'a speaker who is no participant')
  await bad({ segments: [] }, '/body/segments', 'no segment')
  await bad({ segments: [{ ...ok, confidence: 0.9 }] }, '/body/segments/0/confidence', 'an unknown segment property')
  await bad({ segments: [ok], recordingId: NOBODY }, '/body/recordingId', 'an unknown recordingId')
  await bad({ startedAt: END, endedAt: START, segments: [ok] }, '/body/endedAt', 'a reversed window')
  await bad({ endedAt: at(126), segments: [ok] }, '/body/endedAt', 'a window ending 6 s ahead of the server clock')

  // A participant or a recording of another meeting is as unknown as a random id.
  const other = await must(post('/v1/meetings', host.token, { topic: 'Other', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC' }), 201, 'other')
  await must(post(`/v1/meetings/${other.id}/start`, host.token), 200, 'start other')
  const elsewhere = (await must(post(`/v1/meetings/${other.id}/participants`, host.token, {}), 201, 'join other')).participantId
  await bad({ segments: [segment(elsewhere, 0, 1000, 'wrong room')] }, '/body/segments/0/speakerParticipantId', "another meeting's participant")

  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 0, 'no row')
  t.equal((await grantRows(tenant.accountId, meetingId, 'transcript')).length, 0, 'no grant')
  t.equal((await auditRows(tenant.accountId, 'transcript.rejected')).length, 0)

  // A recording of this meeting is a valid source; the last segment may end exactly at the window end.
  const recording = await must(post(`/v1/meetings/${meetingId}/recordings`, recorder.token, { kind: 'cloud', startedAt: START, endedAt: END }), 201, 'recording')
  const stored = await transcribe(recorder.token, { recordingId: recording.id, segments: [ok, segment(aliceP, 80_000, LENGTH_MS, 'until the end')] })
  t.equal(stored.recordingId, recording.id)
  t.equal((await transcriptRow(tenant.accountId, stored.id))!.recordingId, recording.id)
})

// ---------------------------------------------------------------------------------------------
// 2. The gate (P-REC-2, rule 7)

t.test('P-REC-2: speakers with transcript consent: 201 with every segment text, a transcript grant, transcript.stored', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, hostP, aliceP, transcribe } = ctx
  const segments = [segment(hostP, 0, 5000, 'Good morning, everyone.'), segment(aliceP, 5000, 12_000, 'Morning! Shall we start?'), segment(hostP, 80_000, LENGTH_MS, 'Thanks, bye.')]
  const body = await transcribe(recorder.token, { segments })
  t.match(body, { meetingId, recordingId: null, status: 'stored', startedAt: START, endedAt: END, segmentCount: 3, redactedSegments: 0, createdAt: at(120), deletedAt: null })
  t.same(body.segments, segments.map((s) => ({ ...s, redacted: false })), 'every segment with its text')

  const row = await transcriptRow(tenant.accountId, body.id)
  t.same(row!.segments, segments.map((s) => ({ ...s, redacted: false })), 'the row holds the segments')
  t.match(row, { status: 'stored', redactedSegments: 0, grantId: body.grantId, createdBy: recorder.id })
  const grants = await grantRows(tenant.accountId, meetingId, 'transcript')
  t.equal(grants.length, 1)
  t.match(grants[0], { id: body.grantId, scope: 'transcript', windowStart: new Date(START), windowEnd: new Date(END) })
  t.same(sorted(grants[0]!.capturedParticipantIds), sorted([hostP, aliceP]), 'the speakers are the captured (rule 7)')
  t.equal(grants[0]!.consentRecordIds.length, 2, 'resting on the two transcript consents')
  const stored = await auditRows(tenant.accountId, 'transcript.stored')
  t.equal(stored.length, 1)
  t.match(stored[0], { actorId: recorder.id, targetType: 'transcript', targetId: body.id })
  t.match(stored[0]!.details, { meetingId, grantId: body.grantId, segments: 3, redactedSegments: 0, redactedSpeakers: [] })
})

t.test('P-REC-2, rule 9: a speaker with only recording consent refuses the transcript (409 consent_missing, no row, transcript.rejected) though a recording of them is allowed', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, hostP, bobP, post, url } = ctx
  // Recording consent suffices for a recording of the same window…
  const decision = await post(`/v1/meetings/${meetingId}/recording-decisions`, recorder.token, { scope: 'recording', startedAt: START, endedAt: END })
  t.equal(decision.status, 200)
  t.equal(decision.body.allowed, true, 'bob may be recorded')
  // …and says nothing about a transcript.
  const refused = await post(url(), recorder.token, {
    startedAt: START,
    endedAt: END,
    segments: [segment(hostP, 0, 5000, 'Over to you, Bob.'), segment(bobP, 20_000, 30_000, 'BOB-SECRET-ONE'), segment(bobP, 40_000, 45_000, 'BOB-SECRET-TWO')],
  })
  problem(t, refused, 409, 'consent_missing')
  t.same(
    refused.body.errors.map((e: any) => [e.participantId, e.rule, e.at]),
    [[bobP, 'consent_missing', at(30)]],
    "bob, from the start of his first segment (window start + 20 s)",
  )
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 0, 'no transcripts row')
  t.equal((await grantRows(tenant.accountId, meetingId, 'transcript')).length, 0, 'no transcript grant')
  const rejected = await auditRows(tenant.accountId, 'transcript.rejected')
  t.equal(rejected.length, 1)
  t.match(rejected[0], { actorId: recorder.id, targetType: 'meeting', targetId: meetingId, at: new Date(at(120)) })
  t.match(rejected[0]!.details, { startedAt: START, endedAt: END, violations: [{ participantId: bobP, rule: 'consent_missing' }] })
  t.notOk(JSON.stringify(rejected[0]!.details).includes('BOB-SECRET'), 'the refusal keeps no text')
  const { db } = await testDatabase()
  const trail = await chainedTrail(db, tenant.accountId)
  t.notOk(JSON.stringify(trail).includes('BOB-SECRET'), 'no text of bob anywhere in the trail')
})

t.test('P-REC-2, rule 7: redact=true stores the consenting speakers and redaction markers for the others; the database holds no text of theirs', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, hostP, aliceP, bobP, transcribe } = ctx
  const segments = [
    segment(hostP, 0, 5000, 'Over to you, Bob.'),
    segment(bobP, 20_000, 30_000, 'BOB-SECRET-ONE'),
    segment(aliceP, 30_000, 35_000, 'Thanks Bob.'),
    segment(bobP, 40_000, 45_000, 'BOB-SECRET-TWO'),
  ]
  const body = await transcribe(recorder.token, { redact: true, segments })
  t.equal(body.segmentCount, 4)
  t.equal(body.redactedSegments, 2, "bob's two segments")
  t.same(body.segments, [
    { ...segments[0], redacted: false },
    { speakerParticipantId: bobP, startMs: 20_000, endMs: 30_000, text: null, redacted: true },
    { ...segments[2], redacted: false },
    { speakerParticipantId: bobP, startMs: 40_000, endMs: 45_000, text: null, redacted: true },
  ])

  const row = await transcriptRow(tenant.accountId, body.id)
  t.equal(row!.redactedSegments, 2)
  t.same(row!.segments.filter((s) => s.speakerParticipantId === bobP).map((s) => [s.text, s.redacted]), [
    [null, true],
    [null, true],
  ])
  t.notOk(JSON.stringify(row).includes('BOB-SECRET'), "the row holds no text of bob's")
  const grant = (await grantRows(tenant.accountId, meetingId, 'transcript')).find((g) => g.id === body.grantId)
  t.ok(grant)
  t.same(sorted(grant!.capturedParticipantIds), sorted([hostP, aliceP]), 'the grant covers the consenting speakers only')
  const stored = await auditRows(tenant.accountId, 'transcript.stored')
  t.match(stored[0]!.details, { redactedSegments: 2, redactedSpeakers: [bobP] })
  const { db } = await testDatabase()
  const trail = await chainedTrail(db, tenant.accountId)
  t.notOk(JSON.stringify(trail).includes('BOB-SECRET'), 'nor does the audit trail')
  t.equal((await auditRows(tenant.accountId, 'transcript.rejected')).length, 0)
})

t.test("rule 7: each speaker is checked over their own segments' spans only: consent given mid-window covers the segments after it, not before", async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, hostP, bobP, post, url, consent, bob, transcribe } = ctx
  // Bob grants transcript consent at 50 s, i.e. 40 s into the window.
  ctx.clock.set(at(50))
  await consent(bobP, bob.token, 'transcript')
  ctx.clock.set(at(120))
  const late = await transcribe(recorder.token, { segments: [segment(hostP, 0, 5000, 'Before'), segment(bobP, 40_000, 50_000, 'After my consent')] })
  t.equal(late.redactedSegments, 0, 'a segment starting at the consent instant is allowed')
  t.equal(late.segments[1].text, 'After my consent')
  const early = await post(url(), recorder.token, { segments: [segment(bobP, 39_999, 50_000, 'One millisecond early')], startedAt: START, endedAt: END })
  problem(t, early, 409, 'consent_missing', 'a segment starting 1 ms before the consent')
  t.same(early.body.errors.map((e: any) => [e.participantId, e.rule, e.at]), [[bobP, 'consent_missing', new Date(Date.parse(START) + 39_999).toISOString()]])
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 1)

  // A withdrawal inside a segment's span refuses it, with the withdrawal instant.
  ctx.clock.set(at(80))
  await consent(bobP, bob.token, 'transcript', 'withdrawn')
  ctx.clock.set(at(120))
  const crossing = await post(url(), recorder.token, { segments: [segment(bobP, 60_000, 75_000, 'Across my withdrawal')], startedAt: START, endedAt: END })
  problem(t, crossing, 409, 'consent_missing', 'a segment across the withdrawal')
  t.same(crossing.body.errors.map((e: any) => [e.participantId, e.rule, e.at]), [[bobP, 'withdrawn', at(80)]])
  const before = await transcribe(recorder.token, { segments: [segment(bobP, 60_000, 70_000, 'Before I withdrew')] })
  t.equal(before.segments[0].text, 'Before I withdrew', 'the span that ended at the withdrawal stays allowed')
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 2)
  t.equal((await auditRows(tenant.accountId, 'transcript.rejected')).length, 2)
})

t.test('Idempotency-Key: a retried transcript POST returns the first answer and stores one transcript', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, hostP, post, url } = ctx
  const body = { startedAt: START, endedAt: END, segments: [segment(hostP, 0, 1000, 'Once')] }
  const first = await post(url(), recorder.token, body, { 'idempotency-key': 'tr-1' })
  t.equal(first.status, 201)
  ctx.clock.set(at(130))
  const again = await post(url(), recorder.token, body, { 'idempotency-key': 'tr-1' })
  t.equal(again.status, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.body, first.body)
  t.equal((await transcriptRows(tenant.accountId, meetingId)).length, 1)
  t.equal((await grantRows(tenant.accountId, meetingId, 'transcript')).length, 1)
  t.equal((await auditRows(tenant.accountId, 'transcript.stored')).length, 1)
})

// ---------------------------------------------------------------------------------------------
// 3. Reading

t.test('P-REC-6, P-GOV-2: GET one is for the host and admins, each read audited (transcript.read); recorder, cohost, attendee 403; others 404, none audited', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, host, alice, recorder, stranger, hostP, aliceP, get, url, transcribe } = ctx
  const made = await transcribe(recorder.token, { segments: [segment(hostP, 0, 1000, 'Hello'), segment(aliceP, 1000, 2000, 'Hi')] })
  const cohost = await ctx.cohost()
  const one = url(`/${made.id}`)

  ctx.clock.set(at(140))
  const byHost = await get(one, host.token)
  t.equal(byHost.status, 200)
  t.same(byHost.body, made, 'the host reads the stored transcript')
  ctx.clock.set(at(150))
  const byAdmin = await get(one, tenant.admin)
  t.equal(byAdmin.status, 200)
  t.same(byAdmin.body.segments.map((s: any) => s.text), ['Hello', 'Hi'])
  const reads = await auditRows(tenant.accountId, 'transcript.read')
  t.same(
    reads.map((row) => [row.actorId, row.targetType, row.targetId, row.at.toISOString()]),
    [
      [host.id, 'transcript', made.id, at(140)],
      [tenant.adminId, 'transcript', made.id, at(150)],
    ],
    'each read is an audit entry',
  )
  t.match(reads[0]!.details, { meetingId })

  problem(t, await get(one, recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await get(one, cohost), 403, 'forbidden', 'a cohost')
  problem(t, await get(one, alice.token), 403, 'forbidden', 'an attendee')
  problem(t, await get(one, stranger.token), 404, 'not_found', 'a member not in the meeting')
  problem(t, await get(one, platformToken(api.config)), 404, 'not_found', 'the operator')
  const other = await createTenant(api)
  problem(t, await get(one, other.admin), 404, 'not_found', "another account's admin")
  problem(t, await get(url(`/${NOBODY}`), host.token), 404, 'not_found', 'an unknown transcript')
  t.equal((await auditRows(tenant.accountId, 'transcript.read')).length, 2, 'refused reads write no audit entry')
  await auditVerifies(t, ctx)
})

t.test('GET list: summaries without segments for recorder, host, cohost, admin; attendee 403; stranger and another account 404; pages with a cursor', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, host, alice, recorder, stranger, hostP, bobP, get, url, transcribe } = ctx
  const made: any[] = []
  for (let i = 0; i < 3; i++) {
    ctx.clock.set(at(120 + i))
    made.push(await transcribe(recorder.token, { redact: true, segments: [segment(hostP, 0, 1000, `Take ${i}`), segment(bobP, 1000, 2000, 'redacted')] }))
  }
  const cohost = await ctx.cohost()
  const other = await createTenant(api)
  const summary = (m: any) => {
    const { segments: _, ...rest } = m
    return rest
  }

  for (const [who, token] of [
    ['recorder', recorder.token],
    ['host', host.token],
    ['cohost', cohost],
    ['admin', tenant.admin],
  ] as const) {
    const list = await get(url(), token)
    t.equal(list.status, 200, `${who} lists`)
    t.same(list.body.items, made.map(summary), `${who}: summaries in creation order`)
    t.notOk(list.body.items.some((item: any) => 'segments' in item), `${who}: no segment text in the list`)
    t.notOk(JSON.stringify(list.body).includes('Take'), `${who}: no text at all`)
    t.same(list.body.items.map((item: any) => [item.segmentCount, item.redactedSegments]), [
      [2, 1],
      [2, 1],
      [2, 1],
    ])
  }
  problem(t, await get(url(), alice.token), 403, 'forbidden', 'an attendee')
  problem(t, await get(url(), stranger.token), 404, 'not_found', 'a member not in the meeting')
  problem(t, await get(url(), other.admin), 404, 'not_found', "another account's admin")
  t.equal((await auditRows(tenant.accountId, 'transcript.read')).length, 0, 'listing summaries reads no text')

  const first = await get(url('?limit=2'), host.token)
  t.same(first.body.items.map((item: any) => item.id), [made[0].id, made[1].id])
  t.type(first.body.nextCursor, 'string')
  const second = await get(url(`?limit=2&cursor=${first.body.nextCursor}`), host.token)
  t.same(second.body.items.map((item: any) => item.id), [made[2].id])
  t.equal(second.body.nextCursor, null)
  problem(t, await get(url('?cursor=%2A%2A'), host.token), 400, 'validation_failed', 'a bad cursor')
})

// ---------------------------------------------------------------------------------------------
// 4. Deletion

t.test('DELETE: host and admin 204, status deleted and segments emptied in the database, one transcript.deleted; repeat 204 without an entry; recorder, cohost 403', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, host, alice, recorder, stranger, hostP, aliceP, get, del, url, transcribe } = ctx
  const a = await transcribe(recorder.token, { segments: [segment(hostP, 0, 1000, 'ALPHA-TEXT'), segment(aliceP, 1000, 2000, 'BETA-TEXT')] })
  ctx.clock.set(at(121))
  const b = await transcribe(recorder.token, { segments: [segment(aliceP, 0, 1000, 'GAMMA-TEXT')] })
  const cohost = await ctx.cohost()

  problem(t, await del(url(`/${a.id}`), recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await del(url(`/${a.id}`), cohost), 403, 'forbidden', 'a cohost')
  problem(t, await del(url(`/${a.id}`), alice.token), 403, 'forbidden', 'an attendee')
  problem(t, await del(url(`/${a.id}`), stranger.token), 404, 'not_found', 'a member not in the meeting')
  problem(t, await del(url(`/${NOBODY}`), host.token), 404, 'not_found', 'an unknown transcript')
  t.equal((await transcriptRow(tenant.accountId, a.id))!.segments.length, 2, 'refused deletes change nothing')

  ctx.clock.set(at(200))
  const gone = await del(url(`/${a.id}`), host.token)
  t.equal(gone.status, 204)
  t.equal(gone.body, undefined)
  const row = await transcriptRow(tenant.accountId, a.id)
  t.match(row, { status: 'deleted', segments: [], grantId: a.grantId })
  t.equal(row!.deletedAt?.toISOString(), at(200))
  t.notOk(JSON.stringify(row).includes('TEXT'), 'no text left in the row')
  ctx.clock.set(at(210))
  t.equal((await del(url(`/${a.id}`), host.token)).status, 204, 'a repeat')
  t.equal((await del(url(`/${a.id}`), tenant.admin)).status, 204, 'a repeat by an admin')
  t.equal((await transcriptRow(tenant.accountId, a.id))!.deletedAt?.toISOString(), at(200), 'a repeat changes nothing')

  const listed = await get(url(), host.token)
  t.match(listed.body.items, [{ id: a.id, status: 'deleted', segmentCount: 0, deletedAt: at(200) }, { id: b.id, status: 'stored', segmentCount: 1 }])
  const read = await get(url(`/${a.id}`), host.token)
  t.match(read.body, { status: 'deleted', segments: [] }, 'a deleted transcript reads empty')

  t.equal((await del(url(`/${b.id}`), tenant.admin)).status, 204, 'an admin deletes')
  t.match(await transcriptRow(tenant.accountId, b.id), { status: 'deleted', segments: [] })
  const deleted = await auditRows(tenant.accountId, 'transcript.deleted')
  t.same(
    deleted.map((entry) => [entry.actorId, entry.targetType, entry.targetId, entry.at.toISOString()]),
    [
      [host.id, 'transcript', a.id, at(200)],
      [tenant.adminId, 'transcript', b.id, at(210)],
    ],
    'one entry per deletion, none for repeats',
  )
  t.match(deleted[0]!.details, { meetingId })
  t.notOk(JSON.stringify(await transcriptRows(tenant.accountId, meetingId)).includes('TEXT'), 'no transcript text remains in the meeting')
  await auditVerifies(t, ctx)
})
