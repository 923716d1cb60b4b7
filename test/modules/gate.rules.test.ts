import { readdirSync } from 'node:fs'
import path from 'node:path'
import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { consentGrants, consentRecords, recordings, settingValues, transcripts } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, countQueries, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { chainedTrail } from '../helpers/audit.js'

// The ten consent rules (README.md, "The consent rules"), each through the API: the decision
// route (POST …/recording-decisions, stores nothing) shows the refusal and the allowance at the
// rule's edge, to the millisecond (a hand-moved server clock), and a real store (POST
// …/recordings, …/transcripts) shows that a refusal is a 409 consent_missing naming every
// participant and rule, leaves no recordings, transcripts or consent_grants row and no blob, and
// is audited, while an allowed store rests on a grant row listing the consent records relied on.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>
type Res = { status: number; body: any }
type Scope = 'recording' | 'transcript'

/** A server clock the test moves by hand: instants are exact, nothing sleeps. */
class TestClock implements Clock {
  private at: number
  constructor(at: number) {
    this.at = at
  }
  now() {
    return new Date(this.at)
  }
  /** Moves to `ms` after T0 and returns that instant as the API writes it. */
  set(ms: number) {
    this.at = T0 + ms
    return I(ms)
  }
}

const T0 = Date.parse('2026-12-01T09:00:00.000Z')
/** The instant `ms` milliseconds after T0, as the API writes it. */
const I = (ms: number) => new Date(T0 + ms).toISOString()
const S = 1_000
const MIN = 60_000

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  host: { id: string; token: string }
  recorder: { id: string; token: string }
  meetingId: string
  /** The notice of each kind published in setup, and the version a consent answers by default. */
  notice: Partial<Record<Scope, { id: string; versionId: string }>>
  post: (url: string, token: string, body?: Body) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** PATCHes account settings (must succeed). */
  settings: (values: Body) => Promise<void>
  /** Publishes a notice of `kind` at `ms` (must succeed) and makes its version the default. */
  publishNotice: (kind: Scope, ms: number, extra?: Body) => Promise<any>
  /** Publishes a new version of the setup notice of `kind` at `ms`. */
  publishVersion: (kind: Scope, ms: number, text: string, requiresReconsent?: boolean) => Promise<any>
  joinUser: (token: string, ms: number) => Promise<string>
  /** A guest joined by the host's client (so the host's token answers for the guest). */
  joinGuest: (displayName: string, ms: number, isMinor?: boolean) => Promise<string>
  leave: (participantId: string, token: string, ms: number) => Promise<void>
  /** Appends a consent record at `ms` (must succeed) and returns it. */
  consent: (
    token: string,
    participantId: string,
    scope: Scope,
    decision: 'granted' | 'declined' | 'withdrawn' | 'notified',
    ms: number,
    extra?: Body,
  ) => Promise<any>
  /** POST …/recording-decisions as the recorder (must answer 200). */
  decide: (body: Body, token?: string) => Promise<any>
  /** POST …/recordings (kind cloud) as the recorder, with the clock at `nowMs`. */
  store: (body: Body, nowMs: number) => Promise<Res>
  /** POST …/transcripts as the recorder, with the clock at `nowMs`. */
  transcript: (body: Body, nowMs: number) => Promise<Res>
}

async function setup(t: Test, options: { values?: Body; notices?: Scope[] } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const post = (url: string, token: string, body?: Body) => api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  const settings = async (values: Body) => {
    await must(api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values } }), 200, 'settings')
  }
  await settings({ 'recording.cloud.enabled': true, 'transcript.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false, ...options.values })
  const notice: Ctx['notice'] = {}
  const publishNotice = async (kind: Scope, ms: number, extra: Body = {}) => {
    clock.set(ms)
    const body = await must(
      post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale: 'en', title: `${kind} notice`, text: `This meeting's ${kind} is kept.`, ...extra }),
      201,
      `publish ${kind} notice`,
    )
    if (!notice[kind] || (extra.locale ?? 'en') === 'en') notice[kind] = { id: body.id, versionId: body.currentVersion.id }
    return body
  }
  for (const kind of options.notices ?? ['recording', 'transcript']) await publishNotice(kind, 0)
  clock.set(0)
  const meeting = await must(post('/v1/meetings', host.token, { topic: 'Gate rules', scheduledStart: I(0), durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(post(`/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const m = `/v1/meetings/${meeting.id}`

  return {
    api,
    clock,
    tenant,
    host,
    recorder,
    meetingId: meeting.id,
    notice,
    post,
    must,
    settings,
    publishNotice,
    async publishVersion(kind, ms, text, requiresReconsent) {
      clock.set(ms)
      const body = await must(
        post(`/v1/accounts/${tenant.accountId}/notices/${notice[kind]!.id}/versions`, tenant.admin, {
          text,
          ...(requiresReconsent === undefined ? {} : { requiresReconsent }),
        }),
        201,
        `publish ${kind} version`,
      )
      notice[kind] = { id: notice[kind]!.id, versionId: body.currentVersion.id }
      return body
    },
    async joinUser(token, ms) {
      clock.set(ms)
      return (await must(post(`${m}/participants`, token, {}), 201, 'join')).participantId
    },
    async joinGuest(displayName, ms, isMinor = false) {
      clock.set(ms)
      return (await must(post(`${m}/participants`, host.token, { guest: { displayName, isMinor } }), 201, 'join guest')).participantId
    },
    async leave(participantId, token, ms) {
      clock.set(ms)
      await must(post(`${m}/participants/${participantId}/leave`, token), 204, 'leave')
    },
    async consent(token, participantId, scope, decision, ms, extra = {}) {
      clock.set(ms)
      const answers = decision === 'granted' || decision === 'notified'
      const body = await must(
        post(`${m}/consents`, token, {
          participantId,
          scope,
          decision,
          method: decision === 'notified' ? 'policy_notice' : decision === 'granted' ? 'click_continue' : 'explicit_toggle',
          ...(answers ? { noticeVersionId: notice[scope]!.versionId } : {}),
          ...extra,
        }),
        201,
        `consent ${scope} ${decision}`,
      )
      if (body.at !== I(ms)) throw new Error(`consent stamped ${body.at}, expected ${I(ms)}`)
      return body
    },
    async decide(body, token = recorder.token) {
      return must(post(`${m}/recording-decisions`, token, body), 200, 'decision')
    },
    store(body, nowMs) {
      clock.set(nowMs)
      return post(`${m}/recordings`, recorder.token, { kind: 'cloud', ...body })
    },
    transcript(body, nowMs) {
      clock.set(nowMs)
      return post(`${m}/transcripts`, recorder.token, body)
    },
  }
}

type V = { participantId: string | null; rule: string; at: string }
const brief = (violations: any[]): V[] =>
  violations.map((v) => ({ participantId: v.participantId, rule: v.rule, at: v.at })).sort((a, b) => String(a.participantId).localeCompare(String(b.participantId)))
const sortV = (list: V[]) => [...list].sort((a, b) => String(a.participantId).localeCompare(String(b.participantId)))

/** Asserts a decision answer: allowed or not, and exactly these violations. */
function verdict(t: Test, body: any, expected: { allowed: boolean; violations?: V[]; captured?: string[] }, label: string) {
  t.equal(body.allowed, expected.allowed, `${label}: allowed ${expected.allowed}`, { body })
  t.same(brief(body.violations), sortV(expected.violations ?? []), `${label}: violations`)
  for (const v of body.violations) t.type(v.detail, 'string')
  if (expected.captured) t.same([...body.capturedParticipantIds].sort(), [...expected.captured].sort(), `${label}: captured`)
}

interface Snapshot {
  recordings: string[]
  transcripts: string[]
  grants: string[]
  audit: number
}

async function snapshot(ctx: Ctx): Promise<Snapshot> {
  const { db } = await testDatabase()
  const { accountId } = ctx.tenant
  const [r, tr, g, a] = await Promise.all([
    db.select({ id: recordings.id }).from(recordings).where(and(eq(recordings.accountId, accountId), eq(recordings.meetingId, ctx.meetingId))),
    db.select({ id: transcripts.id }).from(transcripts).where(and(eq(transcripts.accountId, accountId), eq(transcripts.meetingId, ctx.meetingId))),
    db.select({ id: consentGrants.id }).from(consentGrants).where(and(eq(consentGrants.accountId, accountId), eq(consentGrants.meetingId, ctx.meetingId))),
    chainedTrail(db, accountId),
  ])
  const ids = (rows: { id: string }[]) => rows.map((row) => row.id).sort()
  return { recordings: ids(r), transcripts: ids(tr), grants: ids(g), audit: a.length }
}

/** Every file under the blob store that belongs to the account, and any upload left in flight. */
function blobFiles(ctx: Ctx): string[] {
  const root = path.join(ctx.api.config.dataDir, 'blobs')
  const walk = (dir: string): string[] => {
    try {
      return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
      )
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
  }
  return [...walk(path.join(root, ctx.tenant.accountId)), ...walk(path.join(root, '.incoming'))]
}

async function lastAudit(ctx: Ctx) {
  const { db } = await testDatabase()
  const rows = await chainedTrail(db, ctx.tenant.accountId)
  return rows.at(-1)!
}

/**
 * A refused store (rule 6): 409 consent_missing naming each participant and rule, nothing new in
 * recordings, transcripts or consent_grants, no blob, and exactly one `<kind>.rejected` audit entry.
 */
async function refused(t: Test, ctx: Ctx, res: Res, before: Snapshot, expected: V[], kind: 'recording' | 'transcript' = 'recording') {
  t.equal(res.status, 409, `${kind} store refused`, { body: res.body })
  t.equal(res.body?.code, 'consent_missing', 'code consent_missing')
  t.same(brief(res.body?.errors ?? []), sortV(expected), 'errors[] name each participant, rule and instant')
  const after = await snapshot(ctx)
  t.same(after.recordings, before.recordings, 'no recordings row written')
  t.same(after.transcripts, before.transcripts, 'no transcripts row written')
  t.same(after.grants, before.grants, 'no consent_grants row written')
  t.same(blobFiles(ctx), [], 'no file in the blob store')
  t.equal(after.audit, before.audit + 1, 'exactly one audit entry')
  const entry = await lastAudit(ctx)
  t.match(entry, { action: `${kind}.rejected`, targetType: 'meeting', targetId: ctx.meetingId, actorId: ctx.recorder.id })
  t.same(brief((entry.details as { violations: any[] }).violations), sortV(expected), 'the audit entry lists the violations')
}

/** An allowed recording store: a row whose grant lists the window, the captured and the records relied on. */
async function storedRecording(t: Test, ctx: Ctx, res: Res, expected: { window: [string, string]; captured: string[]; excluded?: string[]; reliedOn: string[] }) {
  t.equal(res.status, 201, 'recording stored', { body: res.body })
  const { db } = await testDatabase()
  const [row] = await db.select().from(recordings).where(and(eq(recordings.accountId, ctx.tenant.accountId), eq(recordings.id, res.body.id)))
  t.ok(row, 'a recordings row')
  t.equal(row!.grantId, res.body.grantId, 'the row references the grant')
  t.equal(row!.startedAt.toISOString(), expected.window[0])
  t.equal(row!.endedAt.toISOString(), expected.window[1])
  t.same([...row!.capturedParticipantIds].sort(), [...expected.captured].sort(), 'captured as decided')
  const [grant] = await db.select().from(consentGrants).where(and(eq(consentGrants.accountId, ctx.tenant.accountId), eq(consentGrants.id, row!.grantId)))
  t.ok(grant, 'the grant row exists')
  t.match(grant, { scope: 'recording', meetingId: ctx.meetingId, decidedBy: ctx.recorder.id })
  t.equal(grant!.windowStart.toISOString(), expected.window[0])
  t.equal(grant!.windowEnd.toISOString(), expected.window[1])
  t.same([...grant!.capturedParticipantIds].sort(), [...expected.captured].sort(), 'the grant names the captured')
  t.same([...grant!.excludedParticipantIds].sort(), [...(expected.excluded ?? [])].sort(), 'the grant names the excluded')
  t.same([...grant!.consentRecordIds].sort(), [...expected.reliedOn].sort(), 'the grant lists the consent records relied on')
  const records = await db.select({ id: consentRecords.id }).from(consentRecords).where(eq(consentRecords.accountId, ctx.tenant.accountId))
  const known = new Set(records.map((r) => r.id))
  t.ok(grant!.consentRecordIds.every((id) => known.has(id)), 'every record relied on exists')
  const entry = await lastAudit(ctx)
  t.match(entry, { action: 'recording.created', targetId: res.body.id, details: { grantId: row!.grantId } })
}

// ---------------------------------------------------------------------------------------------
// Rule 1

t.test('rule 1, P-REC-1: without capturedParticipantIds everyone present in the window is captured, each only for their presence; with the list only those; unknown ids are 400', async (t) => {
  // Acknowledge mode, so rule 5 (explicit mode's exclusion list) stays out of this test.
  const ctx = await setup(t, { values: { 'recording.consent_mode': 'acknowledge' } })
  const { tenant, host, joinUser, joinGuest, leave, consent, decide, store } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const pHost = await joinUser(host.token, 1 * S)
  const hostGrant = await consent(host.token, pHost, 'recording', 'granted', 1 * S)
  // Ada was there before the window and left at 10 s, never consenting.
  const pAda = await joinUser(ada.token, 2 * S)
  await leave(pAda, ada.token, 10 * S)
  // Bob is in the window only from 30 s, and consents on joining.
  const pBob = await joinUser(bob.token, 30 * S)
  const bobGrant = await consent(bob.token, pBob, 'recording', 'granted', 30 * S)
  // Cleo joins at 40 s and consents 1 ms later.
  const pCleo = await joinGuest('Cleo', 40 * S)
  const cleoGrant = await consent(host.token, pCleo, 'recording', 'granted', 40 * S + 1)

  // A stay is half-open: a window that starts at Ada's leave does not capture her; one ms earlier does.
  verdict(t, await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(40 * S) }), { allowed: true, captured: [pHost, pBob] }, 'window from Ada\'s leave')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(10 * S - 1), endedAt: I(40 * S) }),
    { allowed: false, captured: [pHost, pAda, pBob], violations: [{ participantId: pAda, rule: 'consent_missing', at: I(10 * S - 1) }] },
    'window 1 ms before Ada\'s leave',
  )
  // Bob is checked only from his join (his consent at 30 s covers his whole presence).
  verdict(t, await decide({ scope: 'recording', startedAt: I(20 * S), endedAt: I(40 * S) }), { allowed: true, captured: [pHost, pBob] }, 'Bob present for part of the window')
  // Cleo's presence from 40 s is uncovered for 1 ms: refused at her join instant, not at the window start.
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(20 * S), endedAt: I(50 * S) }),
    { allowed: false, captured: [pHost, pBob, pCleo], violations: [{ participantId: pCleo, rule: 'consent_missing', at: I(40 * S) }] },
    'Cleo uncovered for her first ms',
  )
  verdict(t, await decide({ scope: 'recording', startedAt: I(40 * S + 1), endedAt: I(50 * S) }), { allowed: true, captured: [pHost, pBob, pCleo] }, 'from Cleo\'s consent on')

  // With the list, only those listed are captured (and only they are checked).
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(5 * S), endedAt: I(50 * S), capturedParticipantIds: [pHost, pBob] }),
    { allowed: true, captured: [pHost, pBob] },
    'only the listed are captured',
  )
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(5 * S), endedAt: I(50 * S), capturedParticipantIds: [pAda] }),
    { allowed: false, captured: [pAda], violations: [{ participantId: pAda, rule: 'consent_missing', at: I(5 * S) }] },
    'a listed participant without consent',
  )
  // A listed participant not present in the window is not captured at all.
  verdict(t, await decide({ scope: 'recording', startedAt: I(15 * S), endedAt: I(25 * S), capturedParticipantIds: [pAda, pHost] }), { allowed: true, captured: [pHost] }, 'listed but absent')

  // A real store of the refused window: nothing written but the audit entry.
  let before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(20 * S), endedAt: I(50 * S) }, 2 * MIN), before, [{ participantId: pCleo, rule: 'consent_missing', at: I(40 * S) }])
  // The allowed one: a row whose grant lists the records relied on.
  await storedRecording(t, ctx, await store({ startedAt: I(40 * S + 1), endedAt: I(50 * S) }, 2 * MIN), {
    window: [I(40 * S + 1), I(50 * S)],
    captured: [pHost, pBob, pCleo],
    reliedOn: [hostGrant.id, bobGrant.id, cleoGrant.id],
  })

  // Unknown participants: 400 with a pointer to each, on the decision and on the store.
  const stranger = '0190a6f0-0000-7000-8000-000000000001'
  const otherMeeting = await ctx.must(ctx.post('/v1/meetings', host.token, { topic: 'Other', scheduledStart: I(0), durationMinutes: 30, timeZone: 'UTC' }), 201, 'other meeting')
  await ctx.must(ctx.post(`/v1/meetings/${otherMeeting.id}/start`, host.token), 200, 'start other')
  ctx.clock.set(1 * MIN)
  const elsewhere = (await ctx.must(ctx.post(`/v1/meetings/${otherMeeting.id}/participants`, ada.token, {}), 201, 'join other')).participantId
  const bad = await ctx.post(`/v1/meetings/${ctx.meetingId}/recording-decisions`, ctx.recorder.token, {
    scope: 'recording',
    startedAt: I(5 * S),
    endedAt: I(50 * S),
    capturedParticipantIds: [pHost, stranger, elsewhere],
    excludedParticipantIds: [stranger.replace(/1$/, '2')],
  })
  t.equal(bad.status, 400)
  t.equal(bad.body.code, 'validation_failed')
  t.same(
    bad.body.errors.map((e: any) => e.pointer).sort(),
    ['/body/capturedParticipantIds/1', '/body/capturedParticipantIds/2', '/body/excludedParticipantIds/0'],
    'each unknown id is pointed at (a participant of another meeting too)',
  )
  before = await snapshot(ctx)
  const badStore = await store({ startedAt: I(5 * S), endedAt: I(50 * S), capturedParticipantIds: [stranger] }, 2 * MIN)
  t.equal(badStore.status, 400)
  t.same(badStore.body.errors.map((e: any) => e.pointer), ['/body/capturedParticipantIds/0'])
  t.same(await snapshot(ctx), before, 'a 400 store writes nothing, not even an audit entry')
})

// ---------------------------------------------------------------------------------------------
// Rule 2

t.test('rule 2, P-REC-1, P-REC-3: granted (or notified in notice mode) over the whole overlap; no notice of the kind is notice_missing; notified in explicit mode is not_granted; consent 1 ms late is consent_missing', async (t) => {
  // Only a transcript notice: nobody can consent to recording.
  const ctx = await setup(t, { notices: ['transcript'] })
  const { host, tenant, joinUser, consent, decide, store, transcript, settings, publishNotice } = ctx
  const ada = await tenant.user(['member'])
  const pHost = await joinUser(host.token, 1 * S)
  const pAda = await joinUser(ada.token, 2 * S)

  const missing = await decide({ scope: 'recording', startedAt: I(3 * S), endedAt: I(20 * S) })
  verdict(t, missing, { allowed: false, violations: [{ participantId: null, rule: 'notice_missing', at: I(3 * S) }] }, 'no recording notice')
  t.same(missing.capturedParticipantIds, [])
  let before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(3 * S), endedAt: I(20 * S) }, 30 * S), before, [{ participantId: null, rule: 'notice_missing', at: I(3 * S) }])

  // The recording notice is published at 40 s; both consent from then on: ada at 40 s, the host 1 ms later.
  await publishNotice('recording', 40 * S)
  const adaGrant = await consent(ada.token, pAda, 'recording', 'granted', 40 * S)
  const hostGrant = await consent(host.token, pHost, 'recording', 'granted', 40 * S + 1)
  verdict(t, await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(40 * S) }), {
    allowed: false,
    violations: [
      { participantId: pHost, rule: 'consent_missing', at: I(10 * S) },
      { participantId: pAda, rule: 'consent_missing', at: I(10 * S) },
    ],
  }, 'a window before anyone could consent')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(40 * S), endedAt: I(50 * S) }),
    { allowed: false, violations: [{ participantId: pHost, rule: 'consent_missing', at: I(40 * S) }] },
    'consent given 1 ms after the window start',
  )
  verdict(t, await decide({ scope: 'recording', startedAt: I(40 * S + 1), endedAt: I(50 * S) }), { allowed: true, captured: [pHost, pAda] }, 'consent given at the window start')
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(40 * S), endedAt: I(50 * S) }, 1 * MIN), before, [{ participantId: pHost, rule: 'consent_missing', at: I(40 * S) }])
  await storedRecording(t, ctx, await store({ startedAt: I(40 * S + 1), endedAt: I(50 * S) }, 1 * MIN), {
    window: [I(40 * S + 1), I(50 * S)],
    captured: [pHost, pAda],
    reliedOn: [hostGrant.id, adaGrant.id],
  })

  // Notified: not enough in explicit (the default) or acknowledge mode, enough in notice mode.
  const cleo = await tenant.user(['member'])
  const pCleo = await joinUser(cleo.token, 65 * S)
  const notified = await consent(cleo.token, pCleo, 'recording', 'notified', 70 * S)
  const window = { scope: 'recording', startedAt: I(70 * S), endedAt: I(80 * S) }
  verdict(t, await decide(window), { allowed: false, violations: [{ participantId: pCleo, rule: 'not_granted', at: I(70 * S) }] }, 'notified in explicit mode')
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(70 * S), endedAt: I(80 * S) }, 90 * S), before, [{ participantId: pCleo, rule: 'not_granted', at: I(70 * S) }])
  await settings({ 'recording.consent_mode': 'acknowledge' })
  verdict(t, await decide(window), { allowed: false, violations: [{ participantId: pCleo, rule: 'not_granted', at: I(70 * S) }] }, 'notified in acknowledge mode')
  await settings({ 'recording.consent_mode': 'notice' })
  const noticeMode = await decide(window)
  verdict(t, noticeMode, { allowed: true, captured: [pHost, pAda, pCleo] }, 'notified in notice mode')
  t.equal(noticeMode.mode, 'notice')
  t.equal(noticeMode.scope, 'recording')
  // Notice mode still needs the notice shown over the whole overlap: 1 ms before it is not enough.
  verdict(
    t,
    await decide({ ...window, startedAt: I(70 * S - 1) }),
    { allowed: false, violations: [{ participantId: pCleo, rule: 'consent_missing', at: I(70 * S - 1) }] },
    'notified 1 ms late in notice mode',
  )
  const res = await store({ startedAt: I(70 * S), endedAt: I(80 * S) }, 90 * S)
  t.equal(res.status, 201)
  const { db } = await testDatabase()
  const [grant] = await db.select().from(consentGrants).where(and(eq(consentGrants.accountId, tenant.accountId), eq(consentGrants.id, res.body.grantId)))
  t.equal(grant!.mode, 'notice', 'the grant keeps the mode it was decided in')
  t.ok(grant!.consentRecordIds.includes(notified.id), 'the notified record is relied on')

  // The transcript scope has its own notice and still refuses a speaker without transcript consent.
  ctx.clock.set(100 * S)
  before = await snapshot(ctx)
  const tr = await transcript({ startedAt: I(70 * S), endedAt: I(80 * S), segments: [{ speakerParticipantId: pCleo, startMs: 0, endMs: 1000, text: 'hi' }] }, 100 * S)
  await refused(t, ctx, tr, before, [{ participantId: pCleo, rule: 'consent_missing', at: I(70 * S) }], 'transcript')
})

t.test('rule 2, P-REC-2: with no transcript notice published every transcript is refused (notice_missing), even with redact', async (t) => {
  const ctx = await setup(t, { notices: ['recording'] })
  const { host, joinUser, consent, decide, transcript } = ctx
  const pHost = await joinUser(host.token, 1 * S)
  await consent(host.token, pHost, 'recording', 'granted', 1 * S)
  verdict(t, await decide({ scope: 'recording', startedAt: I(1 * S), endedAt: I(9 * S) }), { allowed: true, captured: [pHost] }, 'recording allowed')
  verdict(
    t,
    await decide({ scope: 'transcript', startedAt: I(1 * S), endedAt: I(9 * S) }),
    { allowed: false, violations: [{ participantId: null, rule: 'notice_missing', at: I(1 * S) }] },
    'no transcript notice',
  )
  const before = await snapshot(ctx)
  const tr = await transcript({ startedAt: I(1 * S), endedAt: I(9 * S), redact: true, segments: [{ speakerParticipantId: pHost, startMs: 0, endMs: 500, text: 'hello' }] }, 20 * S)
  await refused(t, ctx, tr, before, [{ participantId: null, rule: 'notice_missing', at: I(1 * S) }], 'transcript')
})

// ---------------------------------------------------------------------------------------------
// Rule 3

t.test('rule 3, P-REC-4, P-DSR-7: a withdrawal ends permission from its instant; earlier capture stays valid; a decline likewise', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, leave, consent, decide, store } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const adaGrant = await consent(ada.token, pAda, 'recording', 'granted', 2 * S)
  const bobGrant = await consent(bob.token, pBob, 'recording', 'granted', 2 * S)
  const W = 30 * S
  const withdrawal = await consent(ada.token, pAda, 'recording', 'withdrawn', W)
  t.equal(withdrawal.decision, 'withdrawn')

  verdict(t, await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(W) }), { allowed: true, captured: [pAda, pBob] }, 'window ending exactly at the withdrawal')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(W + 1) }),
    { allowed: false, violations: [{ participantId: pAda, rule: 'withdrawn', at: I(W) }] },
    'window ending 1 ms after the withdrawal',
  )
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(W + 5 * S), endedAt: I(W + 10 * S) }),
    { allowed: false, violations: [{ participantId: pAda, rule: 'withdrawn', at: I(W) }] },
    'a window after the withdrawal names the withdrawal instant',
  )
  // Stores after the withdrawal: the crossing window is refused as a whole, the earlier one stays lawful.
  let before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(10 * S), endedAt: I(W + 1) }, W + 20 * S), before, [{ participantId: pAda, rule: 'withdrawn', at: I(W) }])
  await storedRecording(t, ctx, await store({ startedAt: I(10 * S), endedAt: I(W) }, W + 20 * S), {
    window: [I(10 * S), I(W)],
    captured: [pAda, pBob],
    reliedOn: [adaGrant.id, bobGrant.id],
  })

  // Ada leaves; Bob declines at D after having granted.
  await leave(pAda, ada.token, W + 30 * S)
  const D = 2 * MIN
  await consent(bob.token, pBob, 'recording', 'declined', D, { noticeVersionId: ctx.notice.recording!.versionId })
  verdict(t, await decide({ scope: 'recording', startedAt: I(W + 30 * S), endedAt: I(D) }), { allowed: true, captured: [pBob] }, 'window ending exactly at the decline')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(W + 30 * S), endedAt: I(D + 1) }),
    { allowed: false, violations: [{ participantId: pBob, rule: 'declined', at: I(D) }] },
    'window ending 1 ms after the decline',
  )
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(W + 30 * S), endedAt: I(D + 1) }, D + 10 * S), before, [{ participantId: pBob, rule: 'declined', at: I(D) }])
  await storedRecording(t, ctx, await store({ startedAt: I(W + 30 * S), endedAt: I(D) }, D + 10 * S), {
    window: [I(W + 30 * S), I(D)],
    captured: [pBob],
    reliedOn: [bobGrant.id],
  })

  // Granting again opens a new permission from its own instant, not before.
  const again = await consent(bob.token, pBob, 'recording', 'granted', D + 20 * S)
  verdict(t, await decide({ scope: 'recording', startedAt: I(D + 20 * S), endedAt: I(D + 30 * S) }), { allowed: true, captured: [pBob] }, 'after granting again')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(D + 20 * S - 1), endedAt: I(D + 30 * S) }),
    { allowed: false, violations: [{ participantId: pBob, rule: 'declined', at: I(D) }] },
    '1 ms before granting again',
  )
  t.ok(again.id)
})

t.test('rule 3, P-REC-4: a withdrawal recorded in the same millisecond as the grant it follows is the latest record', async (t) => {
  // Ten participants each grant and then withdraw at one instant. The record appended last is
  // the participant's latest: the gate must see every one of them as withdrawn.
  const ctx = await setup(t, { values: { 'recording.consent_mode': 'acknowledge' } })
  const ids: string[] = []
  for (let i = 0; i < 10; i++) ids.push(await ctx.joinGuest(`Guest ${i}`, 1 * S))
  for (const id of ids) {
    await ctx.consent(ctx.host.token, id, 'recording', 'granted', 5 * S)
    await ctx.consent(ctx.host.token, id, 'recording', 'withdrawn', 5 * S)
  }
  const status = await ctx.must(ctx.api.request({ method: 'GET', url: `/v1/meetings/${ctx.meetingId}/consent-status`, token: ctx.host.token }), 200, 'status')
  const latest = new Map<string, string>(status.items.map((item: any) => [item.participantId, item.scopes.recording?.decision]))
  t.same(
    ids.map((id) => latest.get(id)),
    ids.map(() => 'withdrawn'),
    'consent-status: every participant withdrawn',
  )
  const decision = await ctx.decide({ scope: 'recording', startedAt: I(5 * S), endedAt: I(6 * S) })
  verdict(t, decision, { allowed: false, violations: ids.map((id) => ({ participantId: id, rule: 'withdrawn', at: I(5 * S) })) }, 'every withdrawal counts')
})

// ---------------------------------------------------------------------------------------------
// Rule 4

t.test('rule 4, P-MIN-1: a minor who granted themself is refused (minor_without_guardian) until a guardian consent is on record', async (t) => {
  const ctx = await setup(t)
  const { tenant, host, joinUser, joinGuest, consent, decide, store, must, api } = ctx
  // A guest declared minor, answered for by the client that joined them (the host's).
  const pKid = await joinGuest('Kid', 1 * S, true)
  await consent(host.token, pKid, 'recording', 'granted', 2 * S)
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(2 * S), endedAt: I(10 * S) }),
    { allowed: false, violations: [{ participantId: pKid, rule: 'minor_without_guardian', at: I(2 * S) }] },
    'a minor guest who clicked continue',
  )
  let before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(2 * S), endedAt: I(10 * S) }, 15 * S), before, [{ participantId: pKid, rule: 'minor_without_guardian', at: I(2 * S) }])

  // A guardian consent names the guardian; the host records it.
  const noName = await ctx.post(`/v1/meetings/${ctx.meetingId}/consents`, host.token, {
    participantId: pKid,
    scope: 'recording',
    decision: 'granted',
    noticeVersionId: ctx.notice.recording!.versionId,
    method: 'guardian',
  })
  t.equal(noName.status, 400)
  t.equal(noName.body.errors[0].pointer, '/body/guardianName')
  const G = 20 * S
  const guardian = await consent(host.token, pKid, 'recording', 'granted', G, { method: 'guardian', guardianName: 'Pat Parent' })
  verdict(t, await decide({ scope: 'recording', startedAt: I(G), endedAt: I(G + 10 * S) }), { allowed: true, captured: [pKid] }, 'from the guardian consent on')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(G - 1), endedAt: I(G + 10 * S) }),
    { allowed: false, violations: [{ participantId: pKid, rule: 'minor_without_guardian', at: I(G - 1) }] },
    '1 ms before the guardian consent',
  )
  await storedRecording(t, ctx, await store({ startedAt: I(G), endedAt: I(G + 10 * S) }, G + 20 * S), {
    window: [I(G), I(G + 10 * S)],
    captured: [pKid],
    reliedOn: [guardian.id],
  })
  const { db } = await testDatabase()
  const [row] = await db.select().from(consentRecords).where(and(eq(consentRecords.accountId, tenant.accountId), eq(consentRecords.id, guardian.id)))
  t.match(row, { method: 'guardian', guardianName: 'Pat Parent', recordedBy: host.id })
  ctx.clock.set(G + 30 * S)
  await must(ctx.post(`/v1/meetings/${ctx.meetingId}/participants/${pKid}/leave`, host.token), 204, 'kid leaves')

  // Users who are minors: a verified flag, or a birth date under the account's threshold.
  const flagged = await tenant.user(['member'], { isMinor: true })
  const born = await tenant.user(['member'], { birthDate: '2016-05-01' })
  const M = 2 * MIN
  const pFlagged = await joinUser(flagged.token, M)
  const pBorn = await joinUser(born.token, M)
  await consent(flagged.token, pFlagged, 'recording', 'granted', M)
  await consent(born.token, pBorn, 'recording', 'granted', M)
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(M), endedAt: I(M + 10 * S) }),
    {
      allowed: false,
      violations: [
        { participantId: pFlagged, rule: 'minor_without_guardian', at: I(M) },
        { participantId: pBorn, rule: 'minor_without_guardian', at: I(M) },
      ],
    },
    'minor users who granted themselves',
  )
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(M), endedAt: I(M + 10 * S) }, M + 20 * S), before, [
    { participantId: pFlagged, rule: 'minor_without_guardian', at: I(M) },
    { participantId: pBorn, rule: 'minor_without_guardian', at: I(M) },
  ])

  // A guardian consent on the user's record (stamped by the server clock) also counts, from its instant.
  const U = M + 30 * S
  for (const user of [flagged, born]) {
    ctx.clock.set(U)
    const patched = await must(
      api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/users/${user.id}`, token: tenant.admin, body: { guardianConsent: { by: 'A Guardian' } } }),
      200,
      'guardian consent on the user',
    )
    t.same(patched.guardianConsent, { by: 'A Guardian', at: I(U) })
    t.equal(patched.isMinor, true)
  }
  verdict(t, await decide({ scope: 'recording', startedAt: I(U), endedAt: I(U + 10 * S) }), { allowed: true, captured: [pFlagged, pBorn] }, 'from the user\'s guardian consent on')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(U - 1), endedAt: I(U + 10 * S) }),
    {
      allowed: false,
      violations: [
        { participantId: pFlagged, rule: 'minor_without_guardian', at: I(U - 1) },
        { participantId: pBorn, rule: 'minor_without_guardian', at: I(U - 1) },
      ],
    },
    '1 ms before the user\'s guardian consent',
  )
})

// ---------------------------------------------------------------------------------------------
// Rule 5

t.test('rule 5, P-REC-3: in explicit mode a present participant without a grant must be excluded (not_excluded); acknowledge mode does not ask it; captured and excluded at once is 400', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, consent, decide, store, settings } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const adaGrant = await consent(ada.token, pAda, 'recording', 'granted', 2 * S)
  const window = { startedAt: I(2 * S), endedAt: I(20 * S) }

  const notExcluded = await decide({ scope: 'recording', ...window, capturedParticipantIds: [pAda] })
  verdict(t, notExcluded, { allowed: false, captured: [pAda], violations: [{ participantId: pBob, rule: 'not_excluded', at: I(2 * S) }] }, 'Bob present, not granted, not excluded')
  t.equal(notExcluded.mode, 'explicit')
  let before = await snapshot(ctx)
  await refused(t, ctx, await store({ ...window, capturedParticipantIds: [pAda] }, 30 * S), before, [{ participantId: pBob, rule: 'not_excluded', at: I(2 * S) }])

  verdict(t, await decide({ scope: 'recording', ...window, capturedParticipantIds: [pAda], excludedParticipantIds: [pBob] }), { allowed: true, captured: [pAda] }, 'Bob excluded')
  // Without a list everyone present is captured: Bob then needs consent, unless excluded.
  verdict(
    t,
    await decide({ scope: 'recording', ...window }),
    { allowed: false, captured: [pAda, pBob], violations: [{ participantId: pBob, rule: 'consent_missing', at: I(2 * S) }] },
    'no list: Bob captured',
  )
  verdict(t, await decide({ scope: 'recording', ...window, excludedParticipantIds: [pBob] }), { allowed: true, captured: [pAda] }, 'no list, Bob excluded')
  await storedRecording(t, ctx, await store({ ...window, capturedParticipantIds: [pAda], excludedParticipantIds: [pBob] }, 30 * S), {
    window: [window.startedAt, window.endedAt],
    captured: [pAda],
    excluded: [pBob],
    reliedOn: [adaGrant.id],
  })

  // Bob grants at 40 s: a window from then on needs no exclusion; one from 1 ms earlier does.
  await consent(bob.token, pBob, 'recording', 'granted', 40 * S)
  verdict(t, await decide({ scope: 'recording', startedAt: I(40 * S), endedAt: I(50 * S), capturedParticipantIds: [pAda] }), { allowed: true, captured: [pAda] }, 'Bob granted')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(40 * S - 1), endedAt: I(50 * S), capturedParticipantIds: [pAda] }),
    { allowed: false, captured: [pAda], violations: [{ participantId: pBob, rule: 'not_excluded', at: I(40 * S - 1) }] },
    'Bob not yet granted 1 ms earlier',
  )

  // The same refused request in acknowledge mode is allowed.
  await settings({ 'recording.consent_mode': 'acknowledge' })
  const ack = await decide({ scope: 'recording', ...window, capturedParticipantIds: [pAda] })
  verdict(t, ack, { allowed: true, captured: [pAda] }, 'acknowledge mode')
  t.equal(ack.mode, 'acknowledge')
  const res = await store({ ...window, capturedParticipantIds: [pAda] }, 60 * S)
  t.equal(res.status, 201)
  t.same(res.body.excludedParticipantIds, [])

  // Captured and excluded at once: 400, nothing written.
  const both = await ctx.post(`/v1/meetings/${ctx.meetingId}/recording-decisions`, ctx.recorder.token, {
    scope: 'recording',
    ...window,
    capturedParticipantIds: [pAda, pBob],
    excludedParticipantIds: [pBob],
  })
  t.equal(both.status, 400)
  t.equal(both.body.code, 'validation_failed')
  t.equal(both.body.errors[0].pointer, '/body/excludedParticipantIds')
  before = await snapshot(ctx)
  const bothStore = await store({ ...window, capturedParticipantIds: [pBob], excludedParticipantIds: [pBob] }, 60 * S)
  t.equal(bothStore.status, 400)
  t.same(await snapshot(ctx), before, 'nothing written')
})

// ---------------------------------------------------------------------------------------------
// Rule 6

t.test('rule 6, P-REC-1: a refusal writes nothing but one rejected audit entry, and names every offending participant and rule', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, joinGuest, consent, decide, store, transcript, host } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const pHost = await joinUser(host.token, 1 * S)
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const pKid = await joinGuest('Kid', 1 * S, true)
  await consent(host.token, pHost, 'recording', 'granted', 2 * S)
  await consent(host.token, pHost, 'transcript', 'granted', 2 * S)
  await consent(bob.token, pBob, 'recording', 'granted', 2 * S)
  await consent(bob.token, pBob, 'recording', 'withdrawn', 5 * S)
  await consent(bob.token, pBob, 'transcript', 'granted', 2 * S + 1)
  await consent(host.token, pKid, 'recording', 'granted', 2 * S)
  // A stored recording first, so the counts below start from a non-empty table.
  const ok = await store({ startedAt: I(2 * S), endedAt: I(4 * S), capturedParticipantIds: [pHost], excludedParticipantIds: [pAda, pBob, pKid] }, 10 * S)
  t.equal(ok.status, 201)
  const window = { startedAt: I(2 * S), endedAt: I(8 * S) }
  const expected: V[] = [
    { participantId: pAda, rule: 'consent_missing', at: I(2 * S) },
    { participantId: pBob, rule: 'withdrawn', at: I(5 * S) },
    { participantId: pKid, rule: 'minor_without_guardian', at: I(2 * S) },
  ]
  verdict(t, await decide({ scope: 'recording', ...window }), { allowed: false, captured: [pHost, pAda, pBob, pKid], violations: expected }, 'three offenders')

  const { db } = await testDatabase()
  const count = async () => {
    const [r, tr, g, a] = await Promise.all([
      db.select().from(recordings).where(eq(recordings.accountId, tenant.accountId)),
      db.select().from(transcripts).where(eq(transcripts.accountId, tenant.accountId)),
      db.select().from(consentGrants).where(eq(consentGrants.accountId, tenant.accountId)),
      chainedTrail(db, tenant.accountId),
    ])
    return { recordings: r.length, transcripts: tr.length, grants: g.length, audit: a.length }
  }
  const rowsBefore = await count()
  t.same(rowsBefore.recordings, 1)
  t.same(rowsBefore.grants, 1)
  const blobsBefore = blobFiles(ctx)
  const res = await store({ ...window }, 10 * S)
  t.equal(res.status, 409)
  t.equal(res.body.code, 'consent_missing')
  t.equal(res.body.errors.length, 3, 'one error per offending participant')
  for (const e of res.body.errors) t.match(e, { participantId: String, rule: String, code: e.rule, at: String, detail: String })
  t.same(await count(), { ...rowsBefore, audit: rowsBefore.audit + 1 }, 'row counts unchanged but one audit entry')
  t.same(blobFiles(ctx), blobsBefore, 'no file added')
  const entry = await lastAudit(ctx)
  t.match(entry, { action: 'recording.rejected', actorType: 'user', actorId: ctx.recorder.id, targetId: ctx.meetingId, details: { kind: 'cloud', startedAt: window.startedAt, endedAt: window.endedAt } })
  t.same(brief((entry.details as any).violations), sortV(expected))
  // The same through the shared helper, and a transcript with two failing speakers.
  const before = await snapshot(ctx)
  await refused(t, ctx, await store({ ...window }, 10 * S), before, expected)
  const snap = await snapshot(ctx)
  const tr = await transcript(
    {
      ...window,
      segments: [
        { speakerParticipantId: pHost, startMs: 0, endMs: 1000, text: 'fine' },
        { speakerParticipantId: pAda, startMs: 1000, endMs: 2000, text: 'no consent' },
        { speakerParticipantId: pBob, startMs: 0, endMs: 500, text: 'too early' },
      ],
    },
    10 * S,
  )
  await refused(t, ctx, tr, snap, [
    { participantId: pAda, rule: 'consent_missing', at: I(3 * S) },
    { participantId: pBob, rule: 'consent_missing', at: I(2 * S) },
  ], 'transcript')
})

// ---------------------------------------------------------------------------------------------
// Rule 7

t.test('rule 7, P-REC-2: transcript speakers are checked over their segments\' spans; without redact one failing speaker refuses the transcript, with redact their segments become markers', async (t) => {
  const ctx = await setup(t)
  const { tenant, host, joinUser, consent, transcript } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const cleo = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const pCleo = await joinUser(cleo.token, 1 * S)
  // The recorder starts at 10 s. Ada consents to transcripts at 10 s; Bob from 30 s to 50 s; Cleo
  // never, and never speaks. Everyone granted recording, which does not count here (rule 9).
  for (const [token, p] of [
    [ada.token, pAda],
    [bob.token, pBob],
    [cleo.token, pCleo],
  ] as const) await consent(token, p, 'recording', 'granted', 2 * S)
  const adaGrant = await consent(ada.token, pAda, 'transcript', 'granted', 10 * S)
  const bobGrant = await consent(bob.token, pBob, 'transcript', 'granted', 30 * S)
  await consent(bob.token, pBob, 'transcript', 'withdrawn', 50 * S)
  const start = I(10 * S)
  const end = I(70 * S)
  const now = 80 * S
  const seg = (p: string, startMs: number, endMs: number, text: string) => ({ speakerParticipantId: p, startMs, endMs, text })

  // Bob inside his consent, to the edges (offsets from startedAt: 20 000 ms is 30 s), with Ada:
  // stored, Cleo (present, silent, no consent) does not block it.
  let before = await snapshot(ctx)
  const inside = await transcript({ startedAt: start, endedAt: end, segments: [seg(pAda, 0, 5000, 'ada'), seg(pBob, 20_000, 40_000, 'bob inside')] }, now)
  t.equal(inside.status, 201, JSON.stringify(inside.body))
  t.equal(inside.body.redactedSegments, 0)
  t.same(inside.body.segments.map((s: any) => [s.text, s.redacted]), [
    ['ada', false],
    ['bob inside', false],
  ])
  const { db } = await testDatabase()
  const [row] = await db.select().from(transcripts).where(and(eq(transcripts.accountId, tenant.accountId), eq(transcripts.id, inside.body.id)))
  t.equal(row!.grantId, inside.body.grantId)
  t.same(row!.segments.map((s) => s.text), ['ada', 'bob inside'])
  const [grant] = await db.select().from(consentGrants).where(and(eq(consentGrants.accountId, tenant.accountId), eq(consentGrants.id, row!.grantId)))
  t.match(grant, { scope: 'transcript', mode: 'explicit' })
  t.same([...grant!.capturedParticipantIds].sort(), [pAda, pBob].sort(), 'the speakers are the captured; Cleo is not')
  t.same([...grant!.consentRecordIds].sort(), [adaGrant.id, bobGrant.id].sort(), 'the transcript consents relied on')
  t.same((await snapshot(ctx)).transcripts.length, before.transcripts.length + 1)

  // One ms outside Bob's consent, on either side: refused without redact, naming Bob.
  before = await snapshot(ctx)
  await refused(t, ctx, await transcript({ startedAt: start, endedAt: end, segments: [seg(pAda, 0, 5000, 'ada'), seg(pBob, 19_999, 25_000, 'bob early')] }, now), before, [
    { participantId: pBob, rule: 'consent_missing', at: I(30 * S - 1) },
  ], 'transcript')
  before = await snapshot(ctx)
  await refused(t, ctx, await transcript({ startedAt: start, endedAt: end, segments: [seg(pBob, 20_000, 40_000, 'bob inside'), seg(pBob, 39_000, 40_001, 'bob late')] }, now), before, [
    { participantId: pBob, rule: 'withdrawn', at: I(50 * S) },
  ], 'transcript')

  // The same with redact: stored; Bob's segments become markers, Ada's stay.
  before = await snapshot(ctx)
  const redacted = await transcript(
    {
      startedAt: start,
      endedAt: end,
      redact: true,
      segments: [seg(pAda, 0, 5000, 'ada one'), seg(pBob, 20_000, 30_000, 'bob inside'), seg(pBob, 39_000, 40_001, 'bob late'), seg(pAda, 45_000, 60_000, 'ada two')],
    },
    now,
  )
  t.equal(redacted.status, 201, JSON.stringify(redacted.body))
  t.equal(redacted.body.redactedSegments, 2)
  t.same(redacted.body.segments, [
    { speakerParticipantId: pAda, startMs: 0, endMs: 5000, text: 'ada one', redacted: false },
    { speakerParticipantId: pBob, startMs: 20_000, endMs: 30_000, text: null, redacted: true },
    { speakerParticipantId: pBob, startMs: 39_000, endMs: 40_001, text: null, redacted: true },
    { speakerParticipantId: pAda, startMs: 45_000, endMs: 60_000, text: 'ada two', redacted: false },
  ])
  const [stored] = await db.select().from(transcripts).where(and(eq(transcripts.accountId, tenant.accountId), eq(transcripts.id, redacted.body.id)))
  t.same(
    stored!.segments.map((s) => [s.speakerParticipantId, s.text, s.redacted]),
    [
      [pAda, 'ada one', false],
      [pBob, null, true],
      [pBob, null, true],
      [pAda, 'ada two', false],
    ],
    'the database holds no text of the redacted speaker',
  )
  t.notOk(JSON.stringify(stored!.segments).includes('bob'), 'no trace of the redacted text')
  const [rgrant] = await db.select().from(consentGrants).where(and(eq(consentGrants.accountId, tenant.accountId), eq(consentGrants.id, stored!.grantId)))
  t.same(rgrant!.capturedParticipantIds, [pAda], 'the grant covers only the speakers kept')
  const entry = await lastAudit(ctx)
  t.match(entry, { action: 'transcript.stored', targetId: redacted.body.id, details: { redactedSegments: 2, redactedSpeakers: [pBob] } })
  t.same((await snapshot(ctx)).transcripts.length, before.transcripts.length + 1)

  // All speakers failing with redact: nothing is left to store.
  before = await snapshot(ctx)
  const allOut = await transcript({ startedAt: start, endedAt: end, redact: true, segments: [seg(pCleo, 0, 1000, 'cleo')] }, now)
  t.equal(allOut.status, 201, 'a transcript of markers only is stored')
  t.same(allOut.body.segments, [{ speakerParticipantId: pCleo, startMs: 0, endMs: 1000, text: null, redacted: true }])
  t.same((await snapshot(ctx)).transcripts.length, before.transcripts.length + 1)
  t.ok(host.id)
})

// ---------------------------------------------------------------------------------------------
// Rule 8

t.test('rule 8, P-REC-4: a withdrawal and a recording store race; a store is never allowed over a withdrawal that was on record before its decision', async (t) => {
  // The real system clock: instants move while the two requests run.
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const post = async (url: string, token: string, body?: Body) => api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  const patched = await api.request({
    method: 'PATCH',
    url: `/v1/accounts/${tenant.accountId}/settings`,
    token: tenant.admin,
    body: { values: { 'recording.cloud.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false } },
  })
  t.equal(patched.status, 200)
  const notice = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: 'Recorded.' })
  t.equal(notice.status, 201)
  const versionId = notice.body.currentVersion.id
  const meeting = await post('/v1/meetings', host.token, { topic: 'Race', scheduledStart: new Date().toISOString(), durationMinutes: 30, timeZone: 'UTC' })
  t.equal(meeting.status, 201)
  const m = `/v1/meetings/${meeting.body.id}`
  t.equal((await post(`${m}/start`, host.token)).status, 200)
  const pAda = (await post(`${m}/participants`, ada.token, {})).body.participantId as string
  const tick = () => new Promise((resolve) => setTimeout(resolve, 3))

  const ROUNDS = 20
  let allowed = 0
  let refusedCount = 0
  for (let round = 0; round < ROUNDS; round++) {
    // A fresh grant opens the round, a few ms after the previous withdrawal so instants differ.
    await tick()
    const grant = await post(`${m}/consents`, ada.token, { participantId: pAda, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' })
    t.equal(grant.status, 201)
    await tick()
    const window = { kind: 'cloud', startedAt: grant.body.at, endedAt: new Date(Date.now() + 2000).toISOString(), capturedParticipantIds: [pAda] }
    const [withdrawal, rec] = await Promise.all([
      post(`${m}/consents`, ada.token, { participantId: pAda, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' }),
      post(`${m}/recordings`, recorder.token, window),
    ])
    t.equal(withdrawal.status, 201, `round ${round}: withdrawal recorded`)
    t.ok(rec.status === 201 || rec.status === 409, `round ${round}: the store answered ${rec.status}`, { body: rec.body })
    if (rec.status === 409) {
      refusedCount++
      t.equal(rec.body.code, 'consent_missing')
      t.same(brief(rec.body.errors), [{ participantId: pAda, rule: 'withdrawn', at: withdrawal.body.at }], `round ${round}: refused on this round's withdrawal`)
    } else {
      allowed++
    }
  }
  t.equal(allowed + refusedCount, ROUNDS)
  t.comment(`${allowed} stores allowed, ${refusedCount} refused`)

  // The invariant, from the database: no allowed recording's decision came after a withdrawal on
  // record inside its window.
  const { db } = await testDatabase()
  const rows = await db.select().from(recordings).where(and(eq(recordings.accountId, tenant.accountId), eq(recordings.meetingId, meeting.body.id)))
  const grants = new Map(
    (await db.select().from(consentGrants).where(eq(consentGrants.accountId, tenant.accountId))).map((g) => [g.id, g]),
  )
  const withdrawals = (await db.select().from(consentRecords).where(and(eq(consentRecords.accountId, tenant.accountId), eq(consentRecords.participantId, pAda)))).filter(
    (r) => r.scope === 'recording' && r.decision === 'withdrawn',
  )
  t.equal(rows.length, allowed, 'one row per allowed store')
  t.equal(withdrawals.length, ROUNDS)
  const broken: string[] = []
  for (const row of rows) {
    const grant = grants.get(row.grantId)!
    t.ok(grant, 'each row has its grant')
    for (const w of withdrawals) {
      const inWindow = w.at.getTime() >= row.startedAt.getTime() && w.at.getTime() < row.endedAt.getTime()
      if (inWindow && w.at.getTime() < grant.decidedAt.getTime()) {
        broken.push(`recording ${row.id} [${row.startedAt.toISOString()}, ${row.endedAt.toISOString()}) decided at ${grant.decidedAt.toISOString()} over withdrawal ${w.id} at ${w.at.toISOString()}`)
      }
    }
  }
  t.same(broken, [], 'no store decided after a withdrawal inside its window')
})

// ---------------------------------------------------------------------------------------------
// Rule 9

t.test('rule 9, P-GOV-3: consent to one scope never implies another; a notice version with requiresReconsent stops older grants from its instant, one without it does not', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, consent, decide, store, transcript, publishVersion, publishNotice } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const adaRec = await consent(ada.token, pAda, 'recording', 'granted', 2 * S)
  const bobTr = await consent(bob.token, pBob, 'transcript', 'granted', 2 * S)
  const window = { startedAt: I(2 * S), endedAt: I(10 * S) }

  // Ada: recording only. Bob: transcript only.
  verdict(t, await decide({ scope: 'recording', ...window, capturedParticipantIds: [pAda], excludedParticipantIds: [pBob] }), { allowed: true, captured: [pAda] }, 'Ada recorded')
  verdict(
    t,
    await decide({ scope: 'transcript', ...window, capturedParticipantIds: [pAda] }),
    { allowed: false, captured: [pAda], violations: [{ participantId: pAda, rule: 'consent_missing', at: I(2 * S) }] },
    'Ada\'s recording consent does not allow a transcript',
  )
  verdict(
    t,
    await decide({ scope: 'recording', ...window, capturedParticipantIds: [pBob], excludedParticipantIds: [pAda] }),
    { allowed: false, captured: [pBob], violations: [{ participantId: pBob, rule: 'consent_missing', at: I(2 * S) }] },
    'Bob\'s transcript consent does not allow a recording',
  )
  let before = await snapshot(ctx)
  await refused(t, ctx, await transcript({ ...window, segments: [{ speakerParticipantId: pAda, startMs: 0, endMs: 1000, text: 'ada' }] }, 20 * S), before, [
    { participantId: pAda, rule: 'consent_missing', at: I(2 * S) },
  ], 'transcript')
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ ...window, capturedParticipantIds: [pBob], excludedParticipantIds: [pAda] }, 20 * S), before, [
    { participantId: pBob, rule: 'consent_missing', at: I(2 * S) },
  ])
  const trOk = await transcript({ ...window, segments: [{ speakerParticipantId: pBob, startMs: 0, endMs: 1000, text: 'bob' }] }, 20 * S)
  t.equal(trOk.status, 201, 'Bob\'s transcript is stored')
  await storedRecording(t, ctx, await store({ ...window, capturedParticipantIds: [pAda], excludedParticipantIds: [pBob] }, 20 * S), {
    window: [window.startedAt, window.endedAt],
    captured: [pAda],
    excluded: [pBob],
    reliedOn: [adaRec.id],
  })

  // Bob grants recording too; both now hold a grant to version 1.
  const bobRec = await consent(bob.token, pBob, 'recording', 'granted', 30 * S)
  // Version 2 without requiresReconsent at 40 s: grants to version 1 keep counting across it.
  const v2 = await publishVersion('recording', 40 * S, 'This meeting is recorded; recordings are kept 30 days.', false)
  t.equal(v2.currentVersion.version, 2)
  t.equal(v2.currentVersion.requiresReconsent, false)
  verdict(t, await decide({ scope: 'recording', startedAt: I(30 * S), endedAt: I(60 * S) }), { allowed: true, captured: [pAda, pBob] }, 'across a version without requiresReconsent')
  // Version 3 with requiresReconsent at P = 70 s.
  const P = 70 * S
  const v3 = await publishVersion('recording', P, 'This meeting is recorded and analysed.', true)
  t.equal(v3.currentVersion.requiresReconsent, true)
  verdict(t, await decide({ scope: 'recording', startedAt: I(30 * S), endedAt: I(P) }), { allowed: true, captured: [pAda, pBob] }, 'window ending at the new version')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(30 * S), endedAt: I(P + 1) }),
    {
      allowed: false,
      violations: [
        { participantId: pAda, rule: 'reconsent_required', at: I(P) },
        { participantId: pBob, rule: 'reconsent_required', at: I(P) },
      ],
    },
    'window crossing the new version',
  )
  before = await snapshot(ctx)
  await refused(t, ctx, await store({ startedAt: I(30 * S), endedAt: I(P + 1) }, P + 10 * S), before, [
    { participantId: pAda, rule: 'reconsent_required', at: I(P) },
    { participantId: pBob, rule: 'reconsent_required', at: I(P) },
  ])
  await storedRecording(t, ctx, await store({ startedAt: I(30 * S), endedAt: I(P) }, P + 10 * S), {
    window: [I(30 * S), I(P)],
    captured: [pAda, pBob],
    reliedOn: [adaRec.id, bobRec.id],
  })

  // Answering version 3 counts from its own instant.
  const R = P + 20 * S
  const adaV3 = await consent(ada.token, pAda, 'recording', 'granted', R)
  const bobV3 = await consent(bob.token, pBob, 'recording', 'granted', R)
  t.equal(adaV3.noticeVersionId, v3.currentVersion.id)
  verdict(t, await decide({ scope: 'recording', startedAt: I(R), endedAt: I(R + 10 * S) }), { allowed: true, captured: [pAda, pBob] }, 'after reconsent')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(R - 1), endedAt: I(R + 10 * S) }),
    {
      allowed: false,
      violations: [
        { participantId: pAda, rule: 'reconsent_required', at: I(R - 1) },
        { participantId: pBob, rule: 'reconsent_required', at: I(R - 1) },
      ],
    },
    '1 ms before reconsent',
  )
  // The old version can no longer be answered.
  ctx.clock.set(R + 30 * S)
  const outdated = await ctx.post(`/v1/meetings/${ctx.meetingId}/consents`, ada.token, {
    participantId: pAda,
    scope: 'recording',
    decision: 'granted',
    noticeVersionId: adaRec.noticeVersionId,
    method: 'click_continue',
  })
  t.equal(outdated.status, 409)
  t.equal(outdated.body.code, 'notice_outdated')

  // Another locale's notice of the kind asking for reconsent does not touch grants to the English one.
  const de = await publishNotice('recording', R + 40 * S, { locale: 'de', text: 'Diese Besprechung wird aufgezeichnet.' })
  ctx.clock.set(R + 50 * S)
  const deV2 = await ctx.post(`/v1/accounts/${tenant.accountId}/notices/${de.id}/versions`, tenant.admin, { text: 'Diese Besprechung wird aufgezeichnet und ausgewertet.', requiresReconsent: true })
  t.equal(deV2.status, 201)
  verdict(t, await decide({ scope: 'recording', startedAt: I(R), endedAt: I(R + 60 * S) }), { allowed: true, captured: [pAda, pBob] }, 'a German version asking for reconsent')
  t.ok(bobV3.id && bobTr.id)
})

// ---------------------------------------------------------------------------------------------
// Rule 10

t.test('rule 10: the join answer tells the client the recording.denial_action (read_only by default, remove when the account sets it)', async (t) => {
  const ctx = await setup(t)
  const { tenant, host, settings, must, post, api } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const cleo = await tenant.user(['member'])
  const m = `/v1/meetings/${ctx.meetingId}`
  ctx.clock.set(1 * S)
  const first = await must(post(`${m}/participants`, ada.token, {}), 201, 'join')
  t.equal(first.settings.recordingDenialAction, 'read_only', 'the default')

  await settings({ 'recording.denial_action': 'remove' })
  const { db } = await testDatabase()
  const stored = await db.select().from(settingValues).where(eq(settingValues.accountId, tenant.accountId))
  t.ok(stored.some((row) => row.key === 'recording.denial_action' && row.value === 'remove'), 'the account layer holds remove')
  const second = await must(post(`${m}/participants`, bob.token, {}), 201, 'join')
  t.equal(second.settings.recordingDenialAction, 'remove', 'the account value')

  // The meeting layer can say stop_capture for this meeting.
  const patched = await api.request({ method: 'PATCH', url: `${m}/settings`, token: host.token, body: { values: { 'recording.denial_action': 'stop_capture' } } })
  t.equal(patched.status, 200, JSON.stringify(patched.body))
  const third = await must(post(`${m}/participants`, cleo.token, {}), 201, 'join')
  t.equal(third.settings.recordingDenialAction, 'stop_capture', 'the meeting value')
})

// ---------------------------------------------------------------------------------------------
// Round trips and who may ask

t.test('the decision route costs at most two database round trips, for a meeting of 30 participants', async (t) => {
  const ctx = await setup(t)
  const ids: string[] = []
  for (let i = 0; i < 30; i++) {
    const id = await ctx.joinGuest(`Guest ${i}`, 1 * S + i)
    ids.push(id)
    await ctx.consent(ctx.host.token, id, 'recording', 'granted', 1 * S + i)
  }
  ctx.clock.set(1 * MIN)
  const body = { scope: 'recording', startedAt: I(10 * S), endedAt: I(20 * S) }
  const { result, queries } = await countQueries(() => ctx.post(`/v1/meetings/${ctx.meetingId}/recording-decisions`, ctx.recorder.token, body))
  t.equal(result.status, 200)
  verdict(t, result.body, { allowed: true, captured: ids }, '30 participants')
  t.ok(queries.length <= 2, `at most two round trips (saw ${queries.length})`, { queries })
  // The answer is the same when something fails: still one answer naming the offender.
  await ctx.consent(ctx.host.token, ids[7]!, 'recording', 'withdrawn', 15 * S)
  ctx.clock.set(1 * MIN)
  const second = await countQueries(() => ctx.post(`/v1/meetings/${ctx.meetingId}/recording-decisions`, ctx.recorder.token, body))
  verdict(t, second.result.body, { allowed: false, captured: ids, violations: [{ participantId: ids[7]!, rule: 'withdrawn', at: I(15 * S) }] }, 'one withdrawal')
  t.ok(second.queries.length <= 2, `at most two round trips (saw ${second.queries.length})`, { queries: second.queries })
})

t.test('issue 14, lever 5: the decision reads only what stands at its window: a long history before it, stays that ended before it and records after it change nothing', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, leave, consent, decide, store } = ctx
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const cy = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  const pBob = await joinUser(bob.token, 1 * S)
  const pCy = await joinUser(cy.token, 1 * S)
  // Ada changes her mind four times before the window; her last answer (a grant at 6 s) stands.
  let adaLatest: any
  for (const [i, decision] of (['granted', 'withdrawn', 'granted', 'withdrawn', 'granted'] as const).entries()) {
    adaLatest = await consent(ada.token, pAda, 'recording', decision, (2 + i) * S, decision === 'granted' ? {} : { noticeVersionId: ctx.notice.recording!.versionId })
  }
  await consent(bob.token, pBob, 'recording', 'granted', 2 * S)
  await consent(bob.token, pBob, 'recording', 'withdrawn', 7 * S)
  // Cy never answers, and leaves before the window: not captured, not a violation.
  await leave(pCy, cy.token, 8 * S)

  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(20 * S) }),
    { allowed: false, captured: [pAda, pBob], violations: [{ participantId: pBob, rule: 'withdrawn', at: I(7 * S) }] },
    'the answer standing at the window start counts, not an earlier one',
  )
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(3 * S + 500), endedAt: I(20 * S) }),
    {
      allowed: false,
      captured: [pAda, pBob, pCy],
      violations: [
        { participantId: pAda, rule: 'withdrawn', at: I(3 * S) },
        { participantId: pBob, rule: 'withdrawn', at: I(7 * S) },
        { participantId: pCy, rule: 'consent_missing', at: I(3 * S + 500) },
      ],
    },
    'a window opening inside the history sees the answer standing then',
  )
  const bobAgain = await consent(bob.token, pBob, 'recording', 'granted', 12 * S)
  // Ada withdraws after the window's end: the window is still allowed, one reaching past it is not.
  await consent(ada.token, pAda, 'recording', 'withdrawn', 25 * S)
  verdict(t, await decide({ scope: 'recording', startedAt: I(12 * S), endedAt: I(25 * S) }), { allowed: true, captured: [pAda, pBob] }, 'a record at or after the window end changes nothing')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(12 * S), endedAt: I(25 * S + 1) }),
    { allowed: false, violations: [{ participantId: pAda, rule: 'withdrawn', at: I(25 * S) }] },
    'one millisecond later it does',
  )
  await storedRecording(t, ctx, await store({ startedAt: I(12 * S), endedAt: I(20 * S) }, 30 * S), {
    window: [I(12 * S), I(20 * S)],
    captured: [pAda, pBob],
    reliedOn: [adaLatest.id, bobAgain.id],
  })
})

t.test('issue 14, lever 5: a stay that ends exactly as the window opens, or starts exactly as it closes, is not captured', async (t) => {
  const ctx = await setup(t)
  const { tenant, joinUser, leave, consent, decide } = ctx
  const ada = await tenant.user(['member'])
  const dan = await tenant.user(['member'])
  const eve = await tenant.user(['member'])
  const pAda = await joinUser(ada.token, 1 * S)
  await consent(ada.token, pAda, 'recording', 'granted', 2 * S)
  const pDan = await joinUser(dan.token, 1 * S)
  await leave(pDan, dan.token, 10 * S)
  ctx.clock.set(20 * S)
  const pEve = await joinUser(eve.token, 20 * S)
  verdict(t, await decide({ scope: 'recording', startedAt: I(10 * S), endedAt: I(20 * S) }), { allowed: true, captured: [pAda] }, 'neither Dan (left at the start) nor Eve (joined at the end)')
  verdict(
    t,
    await decide({ scope: 'recording', startedAt: I(10 * S - 1), endedAt: I(20 * S + 1) }),
    {
      allowed: false,
      captured: [pAda, pDan, pEve],
      violations: [
        { participantId: pDan, rule: 'consent_missing', at: I(10 * S - 1) },
        { participantId: pEve, rule: 'consent_missing', at: I(20 * S) },
      ],
    },
    'one millisecond wider on each side: both',
  )
})

t.test('who may ask the gate: recorder, host and admin; an attendee is 403; another account is 404; nothing is stored', async (t) => {
  const ctx = await setup(t)
  const { tenant, host, joinUser, consent, post, api } = ctx
  const ada = await tenant.user(['member'])
  const outsider = await tenant.user(['member'])
  const pHost = await joinUser(host.token, 1 * S)
  const pAda = await joinUser(ada.token, 1 * S)
  await consent(host.token, pHost, 'recording', 'granted', 2 * S)
  await consent(ada.token, pAda, 'recording', 'granted', 2 * S)
  const body = { scope: 'recording', startedAt: I(2 * S), endedAt: I(5 * S) }
  const url = `/v1/meetings/${ctx.meetingId}/recording-decisions`
  const before = await snapshot(ctx)
  for (const [who, token] of [
    ['recorder', ctx.recorder.token],
    ['host', host.token],
    ['admin', tenant.admin],
  ] as const) {
    const res = await post(url, token, body)
    t.equal(res.status, 200, `${who} asks`)
    t.equal(res.body.allowed, true)
  }
  const attendee = await post(url, ada.token, body)
  t.equal(attendee.status, 403, 'an attendee')
  t.equal(attendee.body.code, 'forbidden')
  const notInMeeting = await post(url, outsider.token, body)
  t.equal(notInMeeting.status, 404, 'a member who is not in the meeting')
  const other = await createTenant(api)
  const stranger = await other.user(['member'])
  const otherRecorder = await other.user(['recorder'])
  for (const token of [stranger.token, otherRecorder.token, other.admin]) {
    const res = await post(url, token, body)
    t.equal(res.status, 404, 'another account')
    t.equal(res.body.code, 'not_found')
  }
  t.same(await snapshot(ctx), before, 'asking stores nothing, not even an audit entry')
})

// ---------------------------------------------------------------------------------------------
// One decision for preview and store; device permissions (issue 12)

t.test('P-REC-5: the preview and the store run one decision: a switched-off kind is refused by both, with the same violations', async (t) => {
  const ctx = await setup(t, { values: { 'recording.cloud.enabled': false, 'recording.local.enabled': true } })
  const { host, joinUser, consent, decide, store, settings } = ctx
  const hostP = await joinUser(host.token, 0)
  await consent(host.token, hostP, 'recording', 'granted', 1 * S)
  const window = { startedAt: I(2 * S), endedAt: I(10 * S) }

  const cloudPreview = await decide({ scope: 'recording', kind: 'cloud', ...window })
  verdict(t, cloudPreview, { allowed: false, violations: [{ participantId: null, rule: 'recording_disabled', at: I(2 * S) }] }, 'cloud, while cloud is off')
  const cloudStore = await store(window, 20 * S)
  t.equal(cloudStore.status, 409)
  t.equal(cloudStore.body.code, 'recording_disabled', 'the store names the switch')
  t.same(cloudStore.body.errors.map((e: any) => ({ participantId: e.participantId, rule: e.rule, at: e.at })), brief(cloudPreview.violations), 'the same violations as the preview')

  verdict(t, await decide({ scope: 'recording', kind: 'local', ...window }), { allowed: true, captured: [hostP] }, 'local is on')
  verdict(t, await decide({ scope: 'recording', ...window }), { allowed: true, captured: [hostP] }, 'no kind: some kind is on')
  await settings({ 'recording.local.enabled': false })
  verdict(t, await decide({ scope: 'recording', ...window }), { allowed: false, violations: [{ participantId: null, rule: 'recording_disabled', at: I(2 * S) }] }, 'no kind, none on')
  await settings({ 'transcript.enabled': false })
  verdict(t, await decide({ scope: 'transcript', ...window }), { allowed: false, violations: [{ participantId: null, rule: 'transcript_disabled', at: I(2 * S) }, { participantId: hostP, rule: 'consent_missing', at: I(2 * S) }] }, 'transcripts off, and no transcript consent either: every violation at once')
  const kindOnTranscript = await ctx.post(`/v1/meetings/${ctx.meetingId}/recording-decisions`, ctx.recorder.token, { scope: 'transcript', kind: 'cloud', ...window })
  t.equal(kindOnTranscript.status, 400, 'a kind belongs to recordings only')
  // A window still running is answerable, as recorders ask mid-capture.
  await settings({ 'recording.cloud.enabled': true })
  ctx.clock.set(5 * S)
  verdict(t, await decide({ scope: 'recording', kind: 'cloud', startedAt: I(2 * S), endedAt: I(60 * S) }), { allowed: true, captured: [hostP] }, 'mid-capture')
})

t.test('P-SET-2: a participant with camera and microphone off is never recorded unless excluded; the join answer says their permissions', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, host, joinUser, joinGuest, consent, decide, store, settings } = ctx
  const ada = await tenant.user(['member'])
  const bo = await tenant.user(['member'])
  const me = (token: string, values: Body) => api.request({ method: 'PATCH', url: '/v1/me/settings', token, body: { values } })
  t.equal((await me(ada.token, { 'permissions.camera': false, 'permissions.microphone': false })).status, 200)
  t.equal((await me(bo.token, { 'permissions.camera': false })).status, 200, 'bo keeps the microphone')

  const hostP = await joinUser(host.token, 0)
  ctx.clock.set(0)
  const adaJoin = await ctx.must(ctx.post(`/v1/meetings/${ctx.meetingId}/participants`, ada.token, {}), 201, 'ada joins')
  t.same(adaJoin.permissions, { camera: false, microphone: false, screenCapture: true }, "the join answer carries ada's own permissions")
  const adaP = adaJoin.participantId
  const boP = await joinUser(bo.token, 0)
  for (const [token, p] of [[host.token, hostP], [ada.token, adaP], [bo.token, boP]] as const) await consent(token, p, 'recording', 'granted', 1 * S)
  const window = { startedAt: I(2 * S), endedAt: I(10 * S) }

  verdict(t, await decide({ scope: 'recording', ...window }), { allowed: false, violations: [{ participantId: adaP, rule: 'device_permission_off', at: I(2 * S) }] }, 'ada is present with both off: consent does not lift her switch')
  const refused = await store(window, 20 * S)
  t.equal(refused.status, 409)
  t.equal(refused.body.code, 'consent_missing')
  t.match(refused.body.errors, [{ participantId: adaP, rule: 'device_permission_off' }])
  verdict(t, await decide({ scope: 'recording', ...window, excludedParticipantIds: [adaP] }), { allowed: true, captured: [hostP, boP] }, 'excluded, she is kept out and the rest may be recorded')
  t.equal((await store({ ...window, excludedParticipantIds: [adaP] }, 20 * S)).status, 201)
  verdict(t, await decide({ scope: 'transcript', ...window, capturedParticipantIds: [adaP] }), { allowed: false, violations: [{ participantId: adaP, rule: 'consent_missing', at: I(2 * S) }] }, 'transcripts are decided on transcript consent (no device rule)')

  // The account switches devices off for everyone, guests included; a user's own "on" cannot lift a fixed lock.
  await settings({ 'permissions.camera': false, 'permissions.microphone': false })
  const guestP = await joinGuest('Visitor', 0)
  await consent(host.token, guestP, 'recording', 'granted', 1 * S)
  // Explicit mode: whoever is present and not captured is listed as excluded (rule 5).
  const all = await decide({ scope: 'recording', ...window, capturedParticipantIds: [guestP, boP], excludedParticipantIds: [hostP, adaP] })
  verdict(t, all, { allowed: false, violations: [{ participantId: guestP, rule: 'device_permission_off', at: I(2 * S) }, { participantId: boP, rule: 'device_permission_off', at: I(2 * S) }] }, 'the account layer applies to guests and users alike')
  t.equal((await me(bo.token, { 'permissions.camera': true, 'permissions.microphone': true })).status, 200, 'bo turns both on for himself (no lock)')
  const onlyBo = { scope: 'recording', ...window, capturedParticipantIds: [boP], excludedParticipantIds: [hostP, adaP, guestP] }
  verdict(t, await decide(onlyBo), { allowed: true, captured: [boP] }, "bo's own layer wins where nothing is locked")
  await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { locks: { 'permissions.camera': 'fixed', 'permissions.microphone': 'fixed' } } })
  verdict(t, await decide(onlyBo), { allowed: false, violations: [{ participantId: boP, rule: 'device_permission_off', at: I(2 * S) }] }, 'a fixed lock keeps them off')
})
