import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { attentionSpans, screenShares } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// Attention tracking (issue 6): screen-share intervals, focus events accepted only when every
// attention rule holds at the event's instant (P-ATT-1, P-ATT-2, P-ATT-4, P-MIN-1,
// P-DSR-4), spans kept only when at least the threshold long (P-ATT-3), and who reads them
// (P-ATT-4, P-GOV-2). A hand-moved clock makes every instant exact; nothing sleeps.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>
type Res = { status: number; body: any }

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
/** The share of most scenes starts here. */
const S = '2026-12-01T09:01:00.000Z'
const DAY_MS = 86_400_000
const plus = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1000).toISOString()
const at = (seconds: number) => plus(S, seconds)

interface Person {
  id: string
  token: string
  pid: string
}

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  req: (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string, body?: unknown) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
}

async function setup(t: Test): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const req = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string, body?: unknown) =>
    api.request({ method, url, token, ...(body === undefined ? {} : { body }) })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  return { api, clock, tenant, req, must }
}

interface Scene {
  meetingId: string
  /** The passcode the server generated for the meeting. */
  passcode: string
  host: Person
  people: Person[]
  noticeId: string | null
  versionId: string | null
  /** Records a 'notified' answer to the given (default: first) attention notice version for a participant. */
  notify: (who: { token: string; pid: string }, versionId?: string) => Promise<any>
  /** Sets the clock to S + seconds and reports the event at that instant (or at `eventAt`). */
  report: (who: { token: string; pid: string }, type: 'focus_lost' | 'focus_regained', seconds: number, eventAt?: string) => Promise<Res>
  share: (token: string, active: boolean) => Promise<Res>
  list: (token: string, query?: string) => Promise<Res>
}

/**
 * An account that allows attention tracking, an attention notice, a live meeting that enables it,
 * the host and `attendees` members joined and notified at T0, and (unless told) the host's share
 * started at S.
 */
async function scene(
  ctx: Ctx,
  options: { allowed?: boolean; enabled?: boolean; notice?: boolean; attendees?: number; notified?: boolean; share?: boolean } = {},
): Promise<Scene> {
  const { tenant, clock, req, must } = ctx
  clock.set(T0)
  if (options.allowed ?? true) {
    await must(req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'attention_tracking.allowed': true } }), 200, 'allow attention')
  }
  let noticeId: string | null = null
  let versionId: string | null = null
  if (options.notice ?? true) {
    const notice = await must(
      req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'attention_tracking', locale: 'en', title: 'Attention', text: 'The host sees when this window is not in focus for a while.' }),
      201,
      'attention notice',
    )
    noticeId = notice.id
    versionId = notice.currentVersion.id
  }
  const hostUser = await tenant.user(['member'])
  const meeting = await must(req('POST', '/v1/meetings', hostUser.token, { topic: 'Review', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(req('POST', `/v1/meetings/${meeting.id}/start`, hostUser.token), 200, 'start')
  // Attendees enter at once (the waiting room has tests of its own).
  await must(req('PATCH', `/v1/meetings/${meeting.id}/settings`, hostUser.token, { values: { 'meeting.waiting_room': false } }), 200, 'open the doors')
  if (options.enabled ?? true) {
    await must(req('PATCH', `/v1/meetings/${meeting.id}/settings`, hostUser.token, { values: { 'attention_tracking.enabled': true } }), 200, 'enable attention')
  }
  const hostJoin = await must(req('POST', `/v1/meetings/${meeting.id}/participants`, hostUser.token, {}), 201, 'host joins')
  const host: Person = { ...hostUser, pid: hostJoin.participantId }
  const people: Person[] = []
  for (let i = 0; i < (options.attendees ?? 1); i++) {
    const user = await tenant.user(['member'])
    const joined = await must(req('POST', `/v1/meetings/${meeting.id}/participants`, user.token, { passcode: meeting.passcode }), 201, 'attendee joins')
    people.push({ ...user, pid: joined.participantId })
  }
  const notify = (who: { token: string; pid: string }, version = versionId!) =>
    must(
      req('POST', `/v1/meetings/${meeting.id}/consents`, who.token, { participantId: who.pid, scope: 'attention_tracking', decision: 'notified', noticeVersionId: version, method: 'click_continue' }),
      201,
      'notified record',
    )
  if ((options.notified ?? true) && versionId) for (const p of [host, ...people]) await notify(p)
  const share = (token: string, active: boolean) => req('PUT', `/v1/meetings/${meeting.id}/screen-share`, token, { active })
  if (options.share ?? true) {
    clock.set(S)
    await must(share(host.token, true), 200, 'share starts')
  }
  const report = (who: { token: string; pid: string }, type: 'focus_lost' | 'focus_regained', seconds: number, eventAt?: string) => {
    clock.set(at(seconds))
    return req('POST', `/v1/meetings/${meeting.id}/attention-events`, who.token, { participantId: who.pid, type, at: eventAt ?? at(seconds) })
  }
  const list = (token: string, query = '') => req('GET', `/v1/meetings/${meeting.id}/attention-events${query}`, token)
  return { meetingId: meeting.id, passcode: meeting.passcode, host, people, noticeId, versionId, notify, report, share, list }
}

async function spanRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(attentionSpans)
    .where(and(eq(attentionSpans.accountId, accountId), eq(attentionSpans.meetingId, meetingId)))
  return rows.sort((x, y) => x.lostAt.getTime() - y.lostAt.getTime())
}

async function shareRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(screenShares)
    .where(and(eq(screenShares.accountId, accountId), eq(screenShares.meetingId, meetingId)))
  return rows.sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime())
}


/** A span row as [participant, lostAt, regainedAt, expiresAt] (null while open). */
const rowView = (row: typeof attentionSpans.$inferSelect) => [row.participantId, row.lostAt.toISOString(), row.regainedAt?.toISOString() ?? null, row.expiresAt?.toISOString() ?? null]

function problem(t: Test, res: Res, status: number, code: string, label: string) {
  t.equal(res.status, status, `${label}: status ${status}`, { body: res.body })
  t.equal(res.body?.code, code, `${label}: code ${code}`)
}

/** A 409 attention_refused naming the rule that failed. */
function refused(t: Test, res: Res, rule: string, label: string) {
  problem(t, res, 409, 'attention_refused', label)
  t.equal(res.body?.errors?.[0]?.rule, rule, `${label}: rule ${rule}`)
}

function accepted(t: Test, res: Res, label: string) {
  t.equal(res.status, 201, `${label}: accepted`, { body: res.body })
}

// ---------------------------------------------------------------------------------------------
// P-ATT-2: the share

t.test('P-ATT-2: no share running → no_screen_share; an event at the exact start instant is accepted, a millisecond before is not; after a stop a second before the event → refused', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const s = await scene(ctx, { share: false })
  const [ada] = s.people as [Person]

  clock.set(at(-30))
  refused(t, await s.report(ada, 'focus_lost', -30), 'no_screen_share', 'no share has ever run')
  t.same(await spanRows(tenant.accountId, s.meetingId), [], 'nothing written')

  clock.set(S)
  const started = await s.share(s.host.token, true)
  t.equal(started.status, 200, 'the host starts sharing', { body: started.body })
  t.same(started.body, { active: true, since: S, participantId: s.host.pid })
  t.same((await shareRows(tenant.accountId, s.meetingId)).map((r) => [r.participantId, r.startedAt.toISOString(), r.stoppedAt]), [[s.host.pid, S, null]], 'one running share on the server clock')

  refused(t, await s.report(ada, 'focus_lost', 0, plus(S, -0.001)), 'no_screen_share', 'a millisecond before the share started')
  const lost = await s.report(ada, 'focus_lost', 0)
  accepted(t, lost, 'at the exact start instant')
  t.same(lost.body, { type: 'focus_lost', at: S, kept: null, span: null })
  t.same((await spanRows(tenant.accountId, s.meetingId)).map(rowView), [[ada.pid, S, null, null]], 'an open span, no expiry yet')

  const regained = await s.report(ada, 'focus_regained', 40)
  accepted(t, regained, 'focus regained while sharing')
  t.equal(regained.body.kept, true)

  clock.set(at(50))
  const stopped = await s.share(s.host.token, false)
  t.equal(stopped.status, 200, 'the host stops sharing')
  t.same(stopped.body, { active: false, since: null, participantId: null })
  t.same((await shareRows(tenant.accountId, s.meetingId)).map((r) => [r.startedAt.toISOString(), r.stoppedAt?.toISOString()]), [[S, at(50)]], 'the interval is closed at the stop instant')

  refused(t, await s.report(ada, 'focus_lost', 51), 'no_screen_share', 'share stopped a second before the event')
  refused(t, await s.report(ada, 'focus_lost', 51, at(50)), 'no_screen_share', 'at the stop instant itself (the interval is half-open)')
  t.equal((await spanRows(tenant.accountId, s.meetingId)).length, 1, 'only the earlier kept span')

  // Stopping again changes nothing.
  const again = await s.share(s.host.token, false)
  t.equal(again.status, 200)
  t.same((await shareRows(tenant.accountId, s.meetingId)).map((r) => r.stoppedAt?.toISOString()), [at(50)], 'the stop instant stays')
})

t.test('P-ATT-2, P-ATT-3: stopping the share closes every open span at the stop instant: 40 s kept, 10 s dropped', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const s = await scene(ctx, { attendees: 2 })
  const [ada, bob] = s.people as [Person, Person]

  accepted(t, await s.report(ada, 'focus_lost', 10), 'ada loses focus')
  accepted(t, await s.report(bob, 'focus_lost', 40), 'bob loses focus')
  clock.set(at(50))
  t.equal((await s.share(s.host.token, false)).status, 200, 'the share stops at S+50')

  t.same(
    (await spanRows(tenant.accountId, s.meetingId)).map(rowView),
    [[ada.pid, at(10), at(50), new Date(Date.parse(at(50)) + 30 * DAY_MS).toISOString()]],
    "ada's 40 s span is kept with its expiry; bob's 10 s span is deleted; none stays open",
  )
  const seen = await s.list(s.host.token)
  t.equal(seen.status, 200)
  t.same(seen.body.items.map((i: any) => [i.participantId, i.lostAt, i.regainedAt, i.seconds]), [[ada.pid, at(10), at(50), 40]], 'the host sees only the kept span')

  refused(t, await s.report(ada, 'focus_regained', 55), 'no_screen_share', 'the late focus_regained comes after the share stopped')
  clock.set(at(60))
  t.equal((await s.share(s.host.token, true)).status, 200, 'a new share')
  problem(t, await s.report(bob, 'focus_regained', 61), 409, 'no_open_span', 'the stop closed bob’s span')
  accepted(t, await s.report(ada, 'focus_lost', 62), 'ada can lose focus again: nothing was left open')
})

t.test('P-ATT-2 (bug probe): ending the meeting ends the share; no focus event is accepted after the end', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]

  accepted(t, await s.report(ada, 'focus_lost', 5), 'ada loses focus while the host shares')
  clock.set(at(60))
  t.equal((await req('POST', `/v1/meetings/${s.meetingId}/end`, s.host.token)).status, 200, 'the host ends the meeting at S+60')

  t.notOk((await shareRows(tenant.accountId, s.meetingId)).some((r) => r.stoppedAt === null), 'no share runs in an ended meeting')
  t.notOk((await spanRows(tenant.accountId, s.meetingId)).some((r) => r.regainedAt === null), 'no span stays open in an ended meeting')
  const late = await s.report(ada, 'focus_regained', 70)
  t.equal(late.status, 409, 'an event ten seconds after the meeting ended is refused', { body: late.body })
  const lost = await s.report(ada, 'focus_lost', 80)
  t.equal(lost.status, 409, 'a new span cannot open after the meeting ended', { body: lost.body })
  t.notOk((await spanRows(tenant.accountId, s.meetingId)).some((r) => r.lostAt.getTime() >= Date.parse(at(60))), 'no span starts after the end')
})

t.test('P-ATT-2 (bug probe): a focus_lost dated just before the stop but arriving after it leaves no span open past the share', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]

  clock.set(at(100))
  t.equal((await s.share(s.host.token, false)).status, 200, 'the share stops at S+100')
  // The client's event instant is within the allowed skew and inside the share interval.
  const late = await s.report(ada, 'focus_lost', 102, at(99))
  t.ok(late.status === 201 || late.status === 409, 'accepted or refused, either is defensible', { body: late.body })
  t.notOk(
    (await spanRows(tenant.accountId, s.meetingId)).some((r) => r.regainedAt === null),
    'no span stays open after the share that contained it stopped',
  )

  clock.set(at(200))
  t.equal((await s.share(s.host.token, true)).status, 200, 'a new share at S+200')
  accepted(t, await s.report(ada, 'focus_lost', 200), 'ada loses focus during the new share')
  accepted(t, await s.report(ada, 'focus_regained', 240), 'and regains it')
  for (const row of await spanRows(tenant.accountId, s.meetingId)) {
    if (row.regainedAt === null) continue
    const covered = (await shareRows(tenant.accountId, s.meetingId)).some(
      (share) => share.startedAt <= row.lostAt && (share.stoppedAt === null || share.stoppedAt >= row.regainedAt!),
    )
    t.ok(covered, `a kept span (${row.lostAt.toISOString()} … ${row.regainedAt.toISOString()}) lies inside one share interval`)
  }
})

// ---------------------------------------------------------------------------------------------
// P-ATT-4: the notice

t.test('P-ATT-4: notice not shown → notice_not_shown; a notified record to the current version → accepted; a new version asking reconsent → refused again', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req, must } = ctx
  const s = await scene(ctx, { notice: false, notified: false })
  const [ada] = s.people as [Person]

  refused(t, await s.report(ada, 'focus_lost', 1), 'notice_not_shown', 'no attention notice is published at all')

  clock.set(at(2))
  const notice = await must(
    req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'attention_tracking', locale: 'en', title: 'Attention', text: 'Version one.' }),
    201,
    'notice v1',
  )
  refused(t, await s.report(ada, 'focus_lost', 3), 'notice_not_shown', 'published, but this participant has no record')

  clock.set(at(10))
  await s.notify(ada, notice.currentVersion.id)
  refused(t, await s.report(ada, 'focus_lost', 10, at(9)), 'notice_not_shown', 'an event a second before the notified record')
  t.same(await spanRows(tenant.accountId, s.meetingId), [], 'refusals write nothing')
  const lost = await s.report(ada, 'focus_lost', 10)
  accepted(t, lost, 'at the instant of the notified record')
  accepted(t, await s.report(ada, 'focus_regained', 45), 'regained after 35 s')

  // A version that does not ask for reconsent keeps the earlier answer good.
  clock.set(at(50))
  const v2 = await must(req('POST', `/v1/accounts/${tenant.accountId}/notices/${notice.id}/versions`, tenant.admin, { text: 'Version two, a typo fixed.' }), 201, 'v2')
  t.equal(v2.currentVersion.requiresReconsent, false)
  accepted(t, await s.report(ada, 'focus_lost', 51), 'v2 without reconsent: the v1 notified record still counts')
  accepted(t, await s.report(ada, 'focus_regained', 52), 'short span, dropped')

  clock.set(at(60))
  const v3 = await req('POST', `/v1/accounts/${tenant.accountId}/notices/${notice.id}/versions`, tenant.admin, { text: 'Version three: we now keep spans longer.', requiresReconsent: true })
  t.equal(v3.status, 201, 'v3 published, asking for reconsent', { body: v3.body })
  refused(t, await s.report(ada, 'focus_lost', 60), 'notice_not_shown', 'v3 asks for reconsent: from its publication instant the old answer no longer counts')
  refused(t, await s.report(ada, 'focus_lost', 61), 'notice_not_shown', 'a second later too')

  clock.set(at(62))
  await s.notify(ada, v3.body.currentVersion.id)
  accepted(t, await s.report(ada, 'focus_lost', 62), 'notified of v3: accepted again')
  accepted(t, await s.report(ada, 'focus_regained', 100), '38 s, kept')

  // A withdrawal stops it at once.
  clock.set(at(110))
  await must(req('POST', `/v1/meetings/${s.meetingId}/consents`, ada.token, { participantId: ada.pid, scope: 'attention_tracking', decision: 'withdrawn', method: 'explicit_toggle' }), 201, 'withdraw')
  refused(t, await s.report(ada, 'focus_lost', 110), 'notice_not_shown', 'after a withdrawal')

  t.same(
    (await spanRows(tenant.accountId, s.meetingId)).map((r) => [r.lostAt.toISOString(), r.regainedAt?.toISOString()]),
    [
      [at(10), at(45)],
      [at(62), at(100)],
    ],
    'exactly the two long spans accepted under a shown notice',
  )
})

// ---------------------------------------------------------------------------------------------
// P-MIN-1: minors

t.test('P-MIN-1: a minor guest with a notified record → participant_minor, even with a guardian consent; a minor user too; an adult guest is tracked', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req, must } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]
  const joinGuest = async (isMinor: boolean) => {
    const res = await must(req('POST', `/v1/meetings/${s.meetingId}/participants`, s.host.token, { guest: { displayName: isMinor ? 'Kid' : 'Adult guest', isMinor } }), 201, 'guest joins')
    return { token: s.host.token, pid: res.participantId as string }
  }
  clock.set(at(1))
  const kid = await joinGuest(true)
  const adult = await joinGuest(false)
  await s.notify(kid)
  await s.notify(adult)

  refused(t, await s.report(kid, 'focus_lost', 2), 'participant_minor', 'a minor guest with a notified record')
  await must(
    req('POST', `/v1/meetings/${s.meetingId}/consents`, s.host.token, { participantId: kid.pid, scope: 'attention_tracking', decision: 'granted', noticeVersionId: s.versionId, method: 'guardian', guardianName: 'Parent' }),
    201,
    'guardian grant',
  )
  refused(t, await s.report(kid, 'focus_lost', 3), 'participant_minor', 'a guardian consent does not make a minor trackable')

  const adultLost = await s.report(adult, 'focus_lost', 4)
  accepted(t, adultLost, 'an adult guest, reported by the client that joined them')
  problem(t, await s.report({ token: ada.token, pid: adult.pid }, 'focus_regained', 5), 403, 'forbidden', 'another client reports for the guest')

  const teen = await tenant.user(['member'], { isMinor: true })
  clock.set(at(6))
  const teenJoin = await must(req('POST', `/v1/meetings/${s.meetingId}/participants`, teen.token, { passcode: s.passcode }), 201, 'minor user joins')
  const teenP = { token: teen.token, pid: teenJoin.participantId as string }
  await s.notify(teenP)
  refused(t, await s.report(teenP, 'focus_lost', 7), 'participant_minor', 'a minor user')

  t.same((await spanRows(tenant.accountId, s.meetingId)).map((r) => r.participantId), [adult.pid], 'no span of a minor exists')
})

// ---------------------------------------------------------------------------------------------
// P-ATT-1: the account and the meeting

t.test('P-ATT-1: the account prohibits with a fixed lock → attention_not_allowed whatever the meeting says, and the join answer says off; a meeting that does not enable it → attention_not_enabled', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req, must } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]
  const accountUrl = `/v1/accounts/${tenant.accountId}/settings`
  const meetingUrl = `/v1/meetings/${s.meetingId}/settings`
  const joinAnswer = async (label: string) =>
    (await must(req('POST', `/v1/meetings/${s.meetingId}/participants`, s.host.token, { guest: { displayName: label } }), 201, label)).settings.attentionTracking

  accepted(t, await s.report(ada, 'focus_lost', 1), 'allowed and enabled')
  accepted(t, await s.report(ada, 'focus_regained', 2), 'allowed and enabled')
  t.equal(await joinAnswer('on'), true, 'the join answer tells the participant tracking is on')

  clock.set(at(10))
  const prohibit = await req('PATCH', accountUrl, tenant.admin, { values: { 'attention_tracking.allowed': false }, locks: { 'attention_tracking.allowed': 'fixed' } })
  t.equal(prohibit.status, 200, 'the admin prohibits and locks', { body: prohibit.body })
  t.equal(await joinAnswer('prohibited'), false, 'the join answer says off')
  refused(t, await s.report(ada, 'focus_lost', 11), 'attention_not_allowed', 'prohibited by the account')

  // The meeting enables it again; it cannot set the account's switch at all.
  t.equal((await req('PATCH', meetingUrl, s.host.token, { values: { 'attention_tracking.enabled': true } })).status, 200, 'the meeting (re)enables it')
  const sneak = await req('PATCH', meetingUrl, s.host.token, { values: { 'attention_tracking.allowed': true } })
  problem(t, sneak, 400, 'validation_failed', 'the meeting layer cannot allow tracking')
  t.equal(sneak.body.errors?.[0]?.code, 'setting_not_settable')
  const mine = await req('PATCH', '/v1/me/settings', ada.token, { values: { 'attention_tracking.allowed': true } })
  t.equal(mine.status, 400, 'nor the user layer', { body: mine.body })
  refused(t, await s.report(ada, 'focus_lost', 12), 'attention_not_allowed', 'a meeting that enables it is still refused')
  t.equal(await joinAnswer('still prohibited'), false)

  // Allowed again; the meeting switches it off.
  clock.set(at(20))
  t.equal((await req('PATCH', accountUrl, tenant.admin, { values: { 'attention_tracking.allowed': true }, locks: { 'attention_tracking.allowed': null } })).status, 200, 'allowed again')
  t.equal((await req('PATCH', meetingUrl, s.host.token, { values: { 'attention_tracking.enabled': false } })).status, 200, 'the meeting disables it')
  refused(t, await s.report(ada, 'focus_lost', 21), 'attention_not_enabled', 'allowed, but the meeting has it off')
  t.equal(await joinAnswer('not enabled'), false, 'the join answer says off')
  t.equal((await req('PATCH', meetingUrl, s.host.token, { values: { 'attention_tracking.enabled': true } })).status, 200)
  accepted(t, await s.report(ada, 'focus_lost', 22), 'allowed and enabled once more')

  t.same((await spanRows(tenant.accountId, s.meetingId)).map((r) => [r.lostAt.toISOString(), r.regainedAt]), [[at(22), null]], 'refusals wrote nothing; the 1 s span was dropped')
})

t.test('P-ATT-1: by default nothing is tracked: the account never allowed it → attention_not_allowed (checked before the meeting switch)', async (t) => {
  const ctx = await setup(t)
  const s = await scene(ctx, { allowed: false, enabled: false })
  const [ada] = s.people as [Person]
  refused(t, await s.report(ada, 'focus_lost', 1), 'attention_not_allowed', 'platform defaults')
  t.same(await spanRows(ctx.tenant.accountId, s.meetingId), [])
})

// ---------------------------------------------------------------------------------------------
// P-ATT-3: the threshold

t.test('P-ATT-3: threshold 30 s: a 29 s span is not kept, 30 s and 31 s are; at 60 s a 45 s span is not kept', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]
  const span = async (from: number, to: number) => {
    accepted(t, await s.report(ada, 'focus_lost', from), `lost at +${from}`)
    const res = await s.report(ada, 'focus_regained', to)
    accepted(t, res, `regained at +${to}`)
    return res.body
  }

  const short = await span(0, 29)
  t.same(short, { type: 'focus_regained', at: at(29), kept: false, span: null }, '29 s: not kept')
  t.same(await spanRows(tenant.accountId, s.meetingId), [], 'no row remains for the 29 s span')

  const exact = await span(30, 60)
  t.equal(exact.kept, true, 'exactly 30 s: kept')
  t.same(exact.span, { id: exact.span.id, participantId: ada.pid, lostAt: at(30), regainedAt: at(60), seconds: 30, expiresAt: new Date(Date.parse(at(60)) + 30 * DAY_MS).toISOString() })

  const long = await span(70, 101)
  t.equal(long.kept, true, '31 s: kept')
  t.equal(long.span.seconds, 31)

  const seen = await s.list(s.host.token)
  t.same(seen.body.items.map((i: any) => i.seconds), [30, 31], 'the host sees the 30 s and 31 s spans, not the 29 s one')

  // The account raises the threshold (and shortens retention); below 30 is refused.
  clock.set(at(110))
  const tooLow = await req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'attention_tracking.threshold_seconds': 29 } })
  t.equal(tooLow.status, 400, 'a threshold below 30 s is refused', { body: tooLow.body })
  const raised = await req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'attention_tracking.threshold_seconds': 60, 'attention_tracking.retention_days': 7 } })
  t.equal(raised.status, 200, 'threshold 60 s, retention 7 days', { body: raised.body })

  const mid = await span(120, 165)
  t.same(mid, { type: 'focus_regained', at: at(165), kept: false, span: null }, '45 s under a 60 s threshold: not kept')
  const sixty = await span(170, 230)
  t.equal(sixty.kept, true, '60 s: kept')
  t.equal(sixty.span.expiresAt, new Date(Date.parse(at(230)) + 7 * DAY_MS).toISOString(), 'expiry from the retention setting')

  t.same(
    (await spanRows(tenant.accountId, s.meetingId)).map((r) => [r.lostAt.toISOString(), r.regainedAt?.toISOString(), r.expiresAt?.toISOString()]),
    [
      [at(30), at(60), new Date(Date.parse(at(60)) + 30 * DAY_MS).toISOString()],
      [at(70), at(101), new Date(Date.parse(at(101)) + 30 * DAY_MS).toISOString()],
      [at(170), at(230), new Date(Date.parse(at(230)) + 7 * DAY_MS).toISOString()],
    ],
    'the database holds exactly the kept spans, each with its expiry',
  )
})

// ---------------------------------------------------------------------------------------------
// Focus events themselves

t.test('focus events: no_open_span, span_open, a regain at or before the loss → 400, the 10 s skew → 400 /body/at, unknown fields → 400', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]
  const rows = () => spanRows(tenant.accountId, s.meetingId)

  problem(t, await s.report(ada, 'focus_regained', 1), 409, 'no_open_span', 'regained without a loss')
  accepted(t, await s.report(ada, 'focus_lost', 5), 'lost at +5')
  problem(t, await s.report(ada, 'focus_lost', 6), 409, 'span_open', 'a second loss')
  t.equal((await rows()).length, 1, 'one open span')

  const same = await s.report(ada, 'focus_regained', 5)
  problem(t, same, 400, 'validation_failed', 'regained at the loss instant')
  t.equal(same.body.errors[0].pointer, '/body/at')
  problem(t, await s.report(ada, 'focus_regained', 6, at(4)), 400, 'validation_failed', 'regained before the loss')

  // The event instant may be at most 10 s from the server clock, either way.
  clock.set(at(20))
  for (const [label, eventAt] of [
    ['10.001 s ahead', plus(at(20), 10.001)],
    ['10.001 s behind', plus(at(20), -10.001)],
  ] as const) {
    const res = await s.report(ada, 'focus_regained', 20, eventAt)
    problem(t, res, 400, 'validation_failed', label)
    t.equal(res.body.errors[0].pointer, '/body/at', `${label}: pointer`)
  }
  const ahead = await s.report(ada, 'focus_regained', 20, at(30))
  accepted(t, ahead, 'exactly 10 s ahead')
  t.same([ahead.body.at, ahead.body.kept], [at(30), false], '25 s: not kept')
  accepted(t, await s.report(ada, 'focus_lost', 45, at(35)), 'exactly 10 s behind')
  t.same((await rows()).map(rowView), [[ada.pid, at(35), null, null]])

  // P-ATT-3: the event says focus lost or regained and nothing else about the screen.
  const url = `/v1/meetings/${s.meetingId}/attention-events`
  for (const extra of [{ windowTitle: 'Bank statement.pdf' }, { activeApp: 'Slack' }, { screenshot: 'aGVsbG8=' }]) {
    const res = await ctx.req('POST', url, ada.token, { participantId: ada.pid, type: 'focus_regained', at: at(45), ...extra })
    problem(t, res, 400, 'validation_failed', `unknown field ${Object.keys(extra)[0]}`)
  }
  problem(t, await ctx.req('POST', url, ada.token, { participantId: ada.pid, type: 'idle', at: at(45) }), 400, 'validation_failed', 'an unknown type')
  t.same((await rows()).map(rowView), [[ada.pid, at(35), null, null]], '400s change nothing')
})

t.test("who reports: only the participant's own client; another account's meeting → 404; an unknown participant → 404", async (t) => {
  const ctx = await setup(t)
  const { api, tenant, clock, req } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]

  problem(t, await s.report({ token: ada.token, pid: s.host.pid }, 'focus_lost', 1), 403, 'forbidden', "an attendee reports the host's focus")
  problem(t, await s.report({ token: s.host.token, pid: ada.pid }, 'focus_lost', 1), 403, 'forbidden', "the host reports an attendee's focus")
  problem(t, await s.report({ token: tenant.admin, pid: ada.pid }, 'focus_lost', 1), 403, 'forbidden', 'an admin reports for an attendee')
  problem(t, await s.report({ token: ada.token, pid: '0190aaaa-0000-7000-8000-000000000000' }, 'focus_lost', 1), 404, 'not_found', 'an unknown participant')

  const other = await createTenant(api)
  const outsider = await other.user(['member'])
  clock.set(at(2))
  problem(t, await req('POST', `/v1/meetings/${s.meetingId}/attention-events`, outsider.token, { participantId: ada.pid, type: 'focus_lost', at: at(2) }), 404, 'not_found', 'another account: POST')
  problem(t, await req('GET', `/v1/meetings/${s.meetingId}/attention-events`, outsider.token), 404, 'not_found', 'another account: GET')
  problem(t, await req('PUT', `/v1/meetings/${s.meetingId}/screen-share`, outsider.token, { active: false }), 404, 'not_found', 'another account: screen share')
  problem(t, await req('GET', `/v1/meetings/${s.meetingId}/attention-events`, other.admin), 404, 'not_found', "another account's admin")
  t.same(await spanRows(tenant.accountId, s.meetingId), [], 'nothing written')
  t.same((await shareRows(tenant.accountId, s.meetingId)).map((r) => r.stoppedAt), [null], 'the share still runs')
})

// ---------------------------------------------------------------------------------------------
// P-DSR-4: restriction

t.test('P-DSR-4: a restricted user → processing_restricted; lifting the restriction accepts again', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req } = ctx
  const s = await scene(ctx)
  const [ada] = s.people as [Person]

  clock.set(at(1))
  const restrict = await req('PATCH', `/v1/accounts/${tenant.accountId}/users/${ada.id}`, tenant.admin, { status: 'restricted' })
  t.equal(restrict.status, 200, 'the admin records the restriction', { body: restrict.body })
  t.equal(restrict.body.status, 'restricted')
  refused(t, await s.report(ada, 'focus_lost', 2), 'processing_restricted', 'restricted')
  t.same(await spanRows(tenant.accountId, s.meetingId), [], 'nothing kept')

  t.equal((await req('PATCH', `/v1/accounts/${tenant.accountId}/users/${ada.id}`, tenant.admin, { status: 'active' })).status, 200, 'lifted')
  accepted(t, await s.report(ada, 'focus_lost', 3), 'accepted once the restriction is lifted')
})

// ---------------------------------------------------------------------------------------------
// P-ATT-4, P-GOV-2: who reads

t.test('P-ATT-4, P-GOV-2: the host and a cohost read every kept span (audited), a participant only their own; others 403; open spans never appear', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, clock, req, must } = ctx
  const s = await scene(ctx, { attendees: 2 })
  const [ada, bob] = s.people as [Person, Person]
  const recorder = await tenant.user(['recorder'])
  const stranger = await tenant.user(['member'])

  // A cohost: only the host or an admin makes one; an admin joins themself as cohost, then is
  // demoted to member (the cohost role in the meeting, not the account role, grants the read).
  clock.set(at(0))
  const deputy = await tenant.user(['admin', 'member'])
  const deputyJoin = await must(req('POST', `/v1/meetings/${s.meetingId}/participants`, deputy.token, { role: 'cohost' }), 201, 'cohost joins')
  t.equal(deputyJoin.role, 'cohost')
  await must(req('PATCH', `/v1/accounts/${tenant.accountId}/users/${deputy.id}`, tenant.admin, { roles: ['member'] }), 200, 'demote')
  const cohost = tokenFor(api.config, { sub: deputy.id, acc: tenant.accountId, roles: ['member'] })

  accepted(t, await s.report(ada, 'focus_lost', 1), 'ada')
  const adaSpan = (await s.report(ada, 'focus_regained', 41)).body.span
  accepted(t, await s.report(bob, 'focus_lost', 2), 'bob')
  const bobSpan = (await s.report(bob, 'focus_regained', 50)).body.span
  accepted(t, await s.report(ada, 'focus_lost', 60), 'ada again: this span stays open')
  clock.set(at(200))
  t.equal((await spanRows(tenant.accountId, s.meetingId)).length, 3, 'two kept spans and one open span in the database')

  const byHost = await s.list(s.host.token)
  t.equal(byHost.status, 200, 'the host reads', { body: byHost.body })
  t.same(byHost.body, { items: [adaSpan, bobSpan], nextCursor: null }, 'every kept span, the open one never')
  const byCohost = await s.list(cohost)
  t.equal(byCohost.status, 200, 'a cohost reads', { body: byCohost.body })
  t.same(byCohost.body.items, [adaSpan, bobSpan], 'the cohost sees them all')
  const filtered = await s.list(s.host.token, `?participantId=${bob.pid}`)
  t.same(filtered.body.items, [bobSpan], 'the host may ask for one participant')
  const page1 = await s.list(s.host.token, '?limit=1')
  t.same(page1.body.items, [adaSpan])
  t.type(page1.body.nextCursor, 'string', 'a cursor to the next page')
  const page2 = await s.list(s.host.token, `?limit=1&cursor=${page1.body.nextCursor}`)
  t.same(page2.body, { items: [bobSpan], nextCursor: null })

  const own = await s.list(ada.token)
  t.equal(own.status, 200, 'a participant reads their own')
  t.same(own.body.items, [adaSpan], 'only their own kept span')
  t.same((await s.list(ada.token, `?participantId=${ada.pid}`)).body.items, [adaSpan], 'asking for themself is fine')
  t.same((await s.list(bob.token)).body.items, [bobSpan])
  problem(t, await s.list(ada.token, `?participantId=${bob.pid}`), 403, 'forbidden', "an attendee reading another's spans")
  problem(t, await s.list(tenant.admin), 403, 'forbidden', 'an admin who is not the host nor in the meeting')
  problem(t, await s.list(recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await s.list(stranger.token), 403, 'forbidden', 'a member who is not a participant')

  const reads = await auditRows(tenant.accountId, 'attention.read')
  t.same(
    reads.map((r) => [r.actorId, r.targetType, r.targetId, r.details]),
    [
      [s.host.id, 'meeting', s.meetingId, { participantId: null, spans: 2 }],
      [deputy.id, 'meeting', s.meetingId, { participantId: null, spans: 2 }],
      [s.host.id, 'meeting', s.meetingId, { participantId: bob.pid, spans: 1 }],
      [s.host.id, 'meeting', s.meetingId, { participantId: null, spans: 1 }],
      [s.host.id, 'meeting', s.meetingId, { participantId: null, spans: 1 }],
    ],
    'every read by the host or a cohost is audited; participants reading their own are not',
  )
  t.ok(reads.every((r) => r.at.toISOString() === at(200)), 'stamped with the server clock')
})

// ---------------------------------------------------------------------------------------------
// The screen share route

t.test('screen share: host or cohost only (attendee 403, stranger 404), the host must have joined (not_present), one share at a time, not in an ended meeting (meeting_not_live)', async (t) => {
  const ctx = await setup(t)
  const { tenant, clock, req, must } = ctx
  clock.set(T0)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const meeting = await must(req('POST', '/v1/meetings', host.token, { topic: 'Share', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC' }), 201, 'meeting')
  const url = `/v1/meetings/${meeting.id}/screen-share`
  const put = (token: string, active: boolean) => req('PUT', url, token, { active })

  problem(t, await put(host.token, true), 409, 'not_present', 'the host has not joined (the meeting is not even live)')
  await must(req('POST', `/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  problem(t, await put(host.token, true), 409, 'not_present', 'live, but the host has not joined')
  problem(t, await put(tenant.admin, true), 409, 'not_present', 'an admin who has not joined')
  const hostPid = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId
  await must(req('POST', `/v1/meetings/${meeting.id}/participants`, ada.token, { passcode: meeting.passcode }), 201, 'ada joins')
  const deputy = await tenant.user(['admin', 'member'])
  const cohostPid = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, deputy.token, { role: 'cohost' }), 201, 'cohost joins')).participantId

  problem(t, await put(ada.token, true), 403, 'forbidden', 'an attendee')
  problem(t, await put(stranger.token, true), 404, 'not_found', 'a member who is not in the meeting')
  problem(t, await req('PUT', url, host.token, { active: true, region: 'full' }), 400, 'validation_failed', 'an unknown field')
  t.same(await shareRows(tenant.accountId, meeting.id), [], 'refusals write nothing')

  clock.set(plus(T0, 10))
  const byCohost = await put(deputy.token, true)
  t.equal(byCohost.status, 200, 'a cohost shares')
  t.same(byCohost.body, { active: true, since: plus(T0, 10), participantId: cohostPid })
  clock.set(plus(T0, 20))
  const byHost = await put(host.token, true)
  t.equal(byHost.status, 200)
  t.same(byHost.body, { active: true, since: plus(T0, 10), participantId: cohostPid }, 'one share at a time: the running one is answered')
  t.equal((await shareRows(tenant.accountId, meeting.id)).length, 1)

  clock.set(plus(T0, 30))
  t.same((await put(host.token, false)).body, { active: false, since: null, participantId: null }, 'the host stops it')
  clock.set(plus(T0, 40))
  t.same((await put(host.token, true)).body, { active: true, since: plus(T0, 40), participantId: hostPid }, 'the host shares')
  clock.set(plus(T0, 50))
  t.equal((await put(host.token, false)).status, 200)
  t.same(
    (await shareRows(tenant.accountId, meeting.id)).map((r) => [r.participantId, r.startedAt.toISOString(), r.stoppedAt?.toISOString()]),
    [
      [cohostPid, plus(T0, 10), plus(T0, 30)],
      [hostPid, plus(T0, 40), plus(T0, 50)],
    ],
    'two intervals on the server clock',
  )

  clock.set(plus(T0, 60))
  await must(req('POST', `/v1/meetings/${meeting.id}/end`, host.token), 200, 'end')
  problem(t, await put(host.token, true), 409, 'meeting_not_live', 'an ended meeting')
  t.equal((await shareRows(tenant.accountId, meeting.id)).length, 2, 'no share started')
})
