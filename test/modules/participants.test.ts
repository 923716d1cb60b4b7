import { and, eq, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { auditEntries, auditPending, participants, presenceIntervals } from '../../db/schema/index.js'
import { rowsOf } from '../../db/client.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, countQueries, createTenant, type Tenant, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// Participation (issue 4): joins, leaves and rejoins as presence intervals with server-clock
// instants (P-REC-7), guests and minors (P-MIN-1), the passcode check, what the join answer tells
// the client (P-SET-1, P-ATT-1), who may list participants, and the audit of joins and leaves.
// Every request goes through api.request, which checks the answer against openapi/openapi.json.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>

/** A server clock the test moves by hand: instants are exact, nothing sleeps. */
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
  /** Moves to `seconds` after `base`. */
  after(base: string, seconds: number) {
    this.at = Date.parse(base) + seconds * 1000
    return new Date(this.at).toISOString()
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
/** The instant `seconds` after `base`, as the API writes it. */
const plus = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1000).toISOString()

type Res = { status: number; body: any }

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  get: (url: string, token: string) => Promise<Res>
  post: (url: string, token: string, body?: Body) => Promise<Res>
  patch: (url: string, token: string, body: Body) => Promise<Res>
  del: (url: string, token: string) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** Creates a meeting (must succeed). */
  create: (token: string, overrides?: Body) => Promise<any>
  /** Creates and starts a meeting (must succeed). */
  live: (token: string, overrides?: Body) => Promise<any>
  join: (meetingId: string, token: string, body?: Body) => Promise<Res>
  leave: (meetingId: string, participantId: string, token: string) => Promise<Res>
  /** Every participant of the meeting, as the given token lists them (must succeed). */
  list: (meetingId: string, token: string) => Promise<any[]>
}

/**
 * `defaults`: keep the platform's defaults (waiting room on). Otherwise the account turns the
 * waiting room off, so the tests of presence see joiners enter at once; the waiting room has
 * tests of its own.
 */
async function setup(t: Test, options: { tenant?: Body; at?: string; defaults?: boolean } = {}): Promise<Ctx> {
  const clock = new TestClock(options.at ?? T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api, options.tenant)
  if (!options.defaults) {
    const open = await api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'meeting.waiting_room': false } } })
    if (open.status !== 200) throw new Error(`settings: ${JSON.stringify(open.body)}`)
  }
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: Body) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  const patch = (url: string, token: string, body: Body) => api.request({ method: 'PATCH', url, token, body })
  const del = (url: string, token: string) => api.request({ method: 'DELETE', url, token })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  // The passcodes the server generated, as a client that created the meeting would keep them.
  const generated = new Map<string, string>()
  const create = async (token: string, overrides: Body = {}) => {
    const meeting = await must(
      post('/v1/meetings', token, { topic: 'Standup', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 30, timeZone: 'UTC', ...overrides }),
      201,
      'create meeting',
    )
    if (meeting.passcode) generated.set(meeting.id, meeting.passcode)
    return meeting
  }
  const live = async (token: string, overrides: Body = {}) => {
    const meeting = await create(token, overrides)
    return must(post(`/v1/meetings/${meeting.id}/start`, token), 200, 'start meeting')
  }
  /** Joins with the generated passcode unless the body names one (the passcode tests use their own). */
  const join = (meetingId: string, token: string, body: Body = {}) => {
    const passcode = generated.get(meetingId)
    return post(`/v1/meetings/${meetingId}/participants`, token, passcode && !('passcode' in body) ? { ...body, passcode } : body)
  }
  const leave = (meetingId: string, participantId: string, token: string) =>
    post(`/v1/meetings/${meetingId}/participants/${participantId}/leave`, token)
  const list = async (meetingId: string, token: string) => {
    const body = await must(get(`/v1/meetings/${meetingId}/participants?limit=100`, token), 200, 'list participants')
    return body.items as any[]
  }
  return { api, clock, tenant, get, post, patch, del, must, create, live, join, leave, list }
}

async function participantRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  return db
    .select()
    .from(participants)
    .where(and(eq(participants.accountId, accountId), eq(participants.meetingId, meetingId)))
}

async function stayRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(presenceIntervals)
    .where(and(eq(presenceIntervals.accountId, accountId), eq(presenceIntervals.meetingId, meetingId)))
  return rows.sort((x, y) => x.joinedAt.getTime() - y.joinedAt.getTime())
}


function problem(t: Test, res: Res, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

const DEFAULT_JOIN_SETTINGS = {
  joinVideoOff: true,
  joinMuted: true,
  waitingRoom: true,
  screenShare: 'host_only',
  recordingCloud: false,
  recordingLocal: false,
  recordingConsentMode: 'explicit',
  transcript: false,
  attentionTracking: false,
  recordingDenialAction: 'read_only',
}

// ---------------------------------------------------------------------------------------------
// 1. Presence intervals

t.test('P-REC-7: join, leave, rejoin: one participant, two exact intervals, total length 90 s; joins and leaves audited', async (t) => {
  const { tenant, clock, join, leave, list, live } = await setup(t)
  const host = await tenant.user(['member'], { displayName: 'Hana Host' })
  const ada = await tenant.user(['member'], { displayName: 'Ada Lovelace' })
  const meeting = await live(host.token)
  const T = '2026-12-01T10:00:00.000Z'

  clock.set(T)
  const first = await join(meeting.id, ada.token)
  t.equal(first.status, 201)
  t.match(first.body, { participantId: String, role: 'attendee', settings: Object, notices: [], consent: { recording: 'none', transcript: 'none', attentionTracking: 'none' } })
  clock.after(T, 60)
  t.equal((await leave(meeting.id, first.body.participantId, ada.token)).status, 204)
  clock.after(T, 120)
  const again = await join(meeting.id, ada.token)
  t.equal(again.status, 201)
  t.equal(again.body.participantId, first.body.participantId, 'a rejoin is the same participant')
  clock.after(T, 150)
  t.equal((await leave(meeting.id, again.body.participantId, ada.token)).status, 204)
  clock.after(T, 400)

  const items = await list(meeting.id, host.token)
  t.equal(items.length, 1, 'one participant')
  t.same(items[0], {
    id: first.body.participantId,
    meetingId: meeting.id,
    userId: ada.id,
    displayName: 'Ada Lovelace',
    guest: false,
    role: 'attendee',
    isMinor: false,
    present: false,
      waiting: false,
    intervals: [
      { joinedAt: T, leftAt: plus(T, 60) },
      { joinedAt: plus(T, 120), leftAt: plus(T, 150) },
    ],
    totalSeconds: 90,
  })

  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 1, 'one participant row')
  const stays = await stayRows(tenant.accountId, meeting.id)
  t.same(
    stays.map((stay) => [stay.participantId, stay.joinedAt.toISOString(), stay.leftAt?.toISOString()]),
    [
      [first.body.participantId, T, plus(T, 60)],
      [first.body.participantId, plus(T, 120), plus(T, 150)],
    ],
    'each stay is its own row',
  )

  const joined = await auditRows(tenant.accountId, 'participant.joined')
  t.same(joined.map((row) => row.at.toISOString()), [T, plus(T, 120)])
  for (const row of joined) {
    t.match(row, { actorType: 'user', actorId: ada.id, targetType: 'meeting', targetId: meeting.id })
    t.same(row.details, { participantId: first.body.participantId, role: 'attendee', guest: false })
  }
  const left = await auditRows(tenant.accountId, 'participant.left')
  t.same(left.map((row) => row.at.toISOString()), [plus(T, 60), plus(T, 150)])
  for (const row of left) t.match(row, { actorId: ada.id, targetId: meeting.id, details: { participantId: first.body.participantId } })
})

t.test('presence refusals: already_present, not_present, meeting_not_live; refusals write nothing', async (t) => {
  const { tenant, clock, post, del, create, must, join, leave } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await create(host.token)

  problem(t, await join(meeting.id, ada.token), 409, 'meeting_not_live', 'join a scheduled meeting')
  problem(t, await join(meeting.id, host.token), 409, 'meeting_not_live', 'the host too')
  problem(t, await join(meeting.id, ada.token, { guest: { displayName: 'Early guest' } }), 409, 'meeting_not_live', 'a guest too')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 0, 'no participant row for a refused join')

  await must(post(`/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  clock.set('2026-12-01T09:10:00.000Z')
  const joined = await join(meeting.id, ada.token)
  t.equal(joined.status, 201)
  clock.set('2026-12-01T09:11:00.000Z')
  problem(t, await join(meeting.id, ada.token), 409, 'already_present', 'join while present')
  t.equal((await stayRows(tenant.accountId, meeting.id)).length, 1, 'no second open stay')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 1, 'a refused join is not audited')

  t.equal((await leave(meeting.id, joined.body.participantId, ada.token)).status, 204)
  problem(t, await leave(meeting.id, joined.body.participantId, ada.token), 409, 'not_present', 'leave twice')
  t.equal((await auditRows(tenant.accountId, 'participant.left')).length, 1, 'a refused leave is not audited')
  const stays = await stayRows(tenant.accountId, meeting.id)
  t.equal(stays[0]?.leftAt?.toISOString(), '2026-12-01T09:11:00.000Z', 'the second leave does not move the first')

  problem(t, await leave(meeting.id, '0190a6f0-0000-7000-8000-000000000000', host.token), 404, 'not_found', 'unknown participant')
  problem(t, await leave(meeting.id, 'nobody', host.token), 400, 'validation_failed', 'malformed participant id')
  const otherMeeting = await create(host.token)
  await must(post(`/v1/meetings/${otherMeeting.id}/start`, host.token), 200, 'start other')
  problem(t, await leave(otherMeeting.id, joined.body.participantId, host.token), 404, 'not_found', 'a participant of another meeting')

  // Ended and cancelled meetings refuse joins; an ended meeting's stays are closed.
  t.equal((await join(meeting.id, ada.token)).status, 201, 'rejoin')
  await must(post(`/v1/meetings/${meeting.id}/end`, host.token), 200, 'end')
  problem(t, await join(meeting.id, ada.token), 409, 'meeting_not_live', 'join an ended meeting')
  problem(t, await leave(meeting.id, joined.body.participantId, ada.token), 409, 'not_present', 'leave after the end closed the stay')
  const cancelled = await create(host.token)
  await must(del(`/v1/meetings/${cancelled.id}`, host.token), 200, 'cancel')
  problem(t, await join(cancelled.id, ada.token), 409, 'meeting_not_live', 'join a cancelled meeting')
})

t.test('P-REC-7: an open stay counts to now while the meeting is live, and to endedAt after the end', async (t) => {
  const { tenant, clock, post, must, join, leave, list, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const T = '2026-12-01T10:00:00.000Z'
  clock.set(T)
  const meeting = await live(host.token)

  clock.after(T, 10)
  const ada1 = await must(join(meeting.id, ada.token), 201, 'ada joins')
  clock.after(T, 55)
  let [item] = await list(meeting.id, host.token)
  t.match(item, { present: true, intervals: [{ joinedAt: plus(T, 10), leftAt: null }], totalSeconds: 45 }, 'counted to now')
  clock.set(plus(T, 70.6))
  ;[item] = await list(meeting.id, host.token)
  t.equal(item.totalSeconds, 60, 'whole seconds, rounded down')

  // Closed stays and the open one add up.
  clock.after(T, 80)
  await must(leave(meeting.id, ada1.participantId, ada.token), 204, 'leave')
  clock.after(T, 90)
  await must(join(meeting.id, ada.token), 201, 'rejoin')
  clock.after(T, 95)
  ;[item] = await list(meeting.id, host.token)
  t.equal(item.totalSeconds, 75, '70 closed + 5 open')
  t.equal(item.present, true)

  clock.after(T, 100)
  const ended = await must(post(`/v1/meetings/${meeting.id}/end`, host.token), 200, 'end')
  t.equal(ended.endedAt, plus(T, 100))
  clock.after(T, 5000)
  ;[item] = await list(meeting.id, host.token)
  t.same(item.intervals, [
    { joinedAt: plus(T, 10), leftAt: plus(T, 80) },
    { joinedAt: plus(T, 90), leftAt: plus(T, 100) },
  ], 'the open stay closed at endedAt')
  t.equal(item.totalSeconds, 80, 'counted to the end, not to now')
  t.equal(item.present, false)
})

// ---------------------------------------------------------------------------------------------
// 2. Guests and minors

t.test('P-MIN-1: guests: each join is a new participant with its display name and minor flag', async (t) => {
  const { tenant, clock, join, leave, list, live } = await setup(t)
  const host = await tenant.user(['member'])
  const parent = await tenant.user(['member'])
  const other = await tenant.user(['member'])
  const meeting = await live(host.token)
  clock.set('2026-12-01T09:30:00.000Z')

  const kid = await join(meeting.id, parent.token, { guest: { displayName: 'Kim (child)', isMinor: true } })
  t.equal(kid.status, 201)
  t.equal(kid.body.role, 'attendee')
  t.same(kid.body.settings, { ...DEFAULT_JOIN_SETTINGS, waitingRoom: false }, 'the guest\'s client gets the settings too (this account turned the waiting room off)')
  const kid2 = await join(meeting.id, parent.token, { guest: { displayName: 'Kim (child)', isMinor: true } })
  t.equal(kid2.status, 201)
  t.not(kid2.body.participantId, kid.body.participantId, 'the same name again is another participant')
  const adult = await join(meeting.id, parent.token, { guest: { displayName: 'Guest adult' } })
  t.equal(adult.status, 201)

  const items = await list(meeting.id, host.token)
  t.equal(items.length, 3)
  const byId = new Map(items.map((item) => [item.id, item]))
  for (const [res, name, minor] of [[kid, 'Kim (child)', true], [kid2, 'Kim (child)', true], [adult, 'Guest adult', false]] as const) {
    t.same(byId.get(res.body.participantId), {
      id: res.body.participantId,
      meetingId: meeting.id,
      userId: null,
      displayName: name,
      guest: true,
      role: 'attendee',
      isMinor: minor,
      present: true,
      waiting: false,
      intervals: [{ joinedAt: '2026-12-01T09:30:00.000Z', leftAt: null }],
      totalSeconds: 0,
    }, `${name}: guest, minor ${minor}`)
  }
  const rows = await participantRows(tenant.accountId, meeting.id)
  t.equal(rows.length, 3)
  t.ok(rows.every((row) => row.userId === null && row.joinedBy === parent.id), 'no user row; the joining client is recorded')
  const audit = await auditRows(tenant.accountId, 'participant.joined')
  t.same(audit.map((row) => row.details), [kid, kid2, adult].map((res) => ({ participantId: res.body.participantId, role: 'attendee', guest: true, waiting: false })))
  t.ok(audit.every((row) => !JSON.stringify(row.details).includes('Kim')), 'the audit holds ids, not names')

  // Who may make a guest leave: the client that joined them, the host, an admin; not another member.
  problem(t, await leave(meeting.id, kid.body.participantId, other.token), 403, 'forbidden', 'another member')
  clock.set('2026-12-01T09:31:00.000Z')
  t.equal((await leave(meeting.id, kid.body.participantId, parent.token)).status, 204, 'the joining client')
  t.equal((await leave(meeting.id, kid2.body.participantId, host.token)).status, 204, 'the host')
  t.equal((await leave(meeting.id, adult.body.participantId, tenant.admin)).status, 204, 'an admin')
  const after = await list(meeting.id, host.token)
  t.ok(after.every((item) => item.present === false && item.totalSeconds === 60), 'all left after 60 s')

  for (const [label, body] of [
    ['empty display name', { guest: { displayName: '' } }],
    ['no display name', { guest: { isMinor: true } }],
    ['unknown guest property', { guest: { displayName: 'X', email: 'x@example.test' } }],
    ['minor flag not a boolean', { guest: { displayName: 'X', isMinor: 'yes' } }],
    ['unknown property', { guest: { displayName: 'X' }, userId: host.id }],
    ['role host cannot be asked', { role: 'host' }],
    ['passcode too long', { passcode: 'x'.repeat(65) }],
  ] as [string, Body][]) {
    problem(t, await join(meeting.id, parent.token, body), 400, 'validation_failed', label)
  }
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 3, 'refused joins write nothing')
})

t.test('P-MIN-1: a user the account marks a minor joins as a minor (flag, or a birth date under the account threshold)', async (t) => {
  const { api, tenant, clock, join, list, live } = await setup(t, { tenant: { minorAgeThreshold: 16 }, at: '2026-12-01T12:00:00.000Z' })
  const host = await tenant.user(['member'])
  const flagged = await tenant.user(['member'], { isMinor: true })
  const fifteen = await tenant.user(['member'], { birthDate: '2010-12-02' }) // 16 tomorrow
  const sixteenToday = await tenant.user(['member'], { birthDate: '2010-12-01' })
  const adult = await tenant.user(['member'], { birthDate: '1990-05-05' })
  const meeting = await live(host.token)

  const ids: Record<string, string> = {}
  for (const [name, user] of Object.entries({ flagged, fifteen, sixteenToday, adult })) {
    const res = await join(meeting.id, user.token)
    t.equal(res.status, 201)
    ids[name] = res.body.participantId
  }
  const byId = new Map((await list(meeting.id, host.token)).map((item) => [item.id, item]))
  t.equal(byId.get(ids.flagged!)?.isMinor, true, 'the verified minor flag')
  t.equal(byId.get(ids.fifteen!)?.isMinor, true, '15 under a threshold of 16')
  t.equal(byId.get(ids.sixteenToday!)?.isMinor, false, '16 today is not under 16')
  t.equal(byId.get(ids.adult!)?.isMinor, false)

  // The age is taken at the join instant: the next day the same user joins another meeting as an adult.
  clock.set('2026-12-02T12:00:00.000Z')
  const tomorrow = await live(host.token)
  const res = await join(tomorrow.id, fifteen.token)
  t.equal(res.status, 201)
  t.equal((await list(tomorrow.id, host.token))[0]?.isMinor, false, 'turned 16')

  // The threshold is the account's: the same birth date is not a minor under 13.
  const lenient = await createTenant(api, { minorAgeThreshold: 13 })
  const teen = await lenient.user(['member'], { birthDate: '2010-12-02' })
  const create = await api.request({
    method: 'POST',
    url: '/v1/meetings',
    token: lenient.admin,
    body: { topic: 'Lenient', scheduledStart: '2026-12-02T12:00:00Z', durationMinutes: 30, timeZone: 'UTC' },
  })
  await api.request({ method: 'POST', url: `/v1/meetings/${create.body.id}/start`, token: lenient.admin })
  t.equal((await join(create.body.id, teen.token, { passcode: create.body.passcode })).status, 201)
  const lenientList = await api.request({ method: 'GET', url: `/v1/meetings/${create.body.id}/participants`, token: lenient.admin })
  t.equal(lenientList.body.items[0]?.isMinor, false, '15 is not under a threshold of 13')
})

t.test('P-MIN-1: a user marked a minor after a first stay rejoins as a minor', async (t) => {
  const { tenant, patch, join, leave, list, live } = await setup(t)
  const host = await tenant.user(['member'])
  const kim = await tenant.user(['member'])
  const meeting = await live(host.token)
  const first = await join(meeting.id, kim.token)
  t.equal(first.status, 201)
  t.equal((await list(meeting.id, host.token))[0]?.isMinor, false)
  t.equal((await leave(meeting.id, first.body.participantId, kim.token)).status, 204)

  const marked = await patch(`/v1/accounts/${tenant.accountId}/users/${kim.id}`, tenant.admin, { isMinor: true })
  t.equal(marked.status, 200)
  t.equal(marked.body.isMinor, true)
  const again = await join(meeting.id, kim.token)
  t.equal(again.status, 201)
  t.equal(again.body.participantId, first.body.participantId)
  t.equal((await list(meeting.id, host.token))[0]?.isMinor, true, 'what the account knows now applies from the rejoin on')
})

// ---------------------------------------------------------------------------------------------
// 3. Passcode

t.test('P-SET-1: passcode: wrong or missing is 403 passcode_invalid and writes nothing; the right one, the host and admins get in', async (t) => {
  const { tenant, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token, { passcode: 'letmein-42' })

  for (const [label, body] of [
    ['missing', {}],
    ['wrong', { passcode: 'letmein-43' }],
    ['case differs', { passcode: 'LETMEIN-42' }],
    ['empty', { passcode: '' }],
    ['a guest without it', { guest: { displayName: 'Visitor' } }],
    ['a guest with a wrong one', { guest: { displayName: 'Visitor' }, passcode: 'nope' }],
  ] as [string, Body][]) {
    problem(t, await join(meeting.id, ada.token, body), 403, 'passcode_invalid', label)
  }
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 0, 'no participant row')
  t.equal((await stayRows(tenant.accountId, meeting.id)).length, 0, 'no stay')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 0, 'no join audited')

  const right = await join(meeting.id, ada.token, { passcode: 'letmein-42' })
  t.equal(right.status, 201)
  const hostJoin = await join(meeting.id, host.token)
  t.equal(hostJoin.status, 201, 'the host joins without it')
  t.equal(hostJoin.body.role, 'host')
  t.equal((await join(meeting.id, tenant.admin)).status, 201, 'an admin joins without it')
  t.equal((await join(meeting.id, host.token, { guest: { displayName: 'Host\'s guest' } })).status, 201, 'the host joins a guest without it')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 4)
})

t.test('P-SET-1: meeting.passcode_required false at the meeting or account layer lets members in without the passcode', async (t) => {
  const { tenant, patch, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const bo = await tenant.user(['member'])

  // Meeting layer.
  const byMeeting = await live(host.token, { passcode: 'meeting-code' })
  problem(t, await join(byMeeting.id, ada.token), 403, 'passcode_invalid', 'required by default')
  t.equal((await patch(`/v1/meetings/${byMeeting.id}/settings`, host.token, { values: { 'meeting.passcode_required': false } })).status, 200)
  t.equal((await join(byMeeting.id, ada.token)).status, 201, 'no passcode needed')
  t.equal((await join(byMeeting.id, bo.token, { passcode: 'anything-at-all' })).status, 201, 'a wrong one is ignored')

  // None given while required: the server generated one (the helper joins with it).
  const generatedOne = await live(host.token)
  t.equal(generatedOne.hasPasscode, true)
  problem(t, await join(generatedOne.id, ada.token, { passcode: 'not-the-one' }), 403, 'passcode_invalid', 'a generated passcode is checked like a chosen one')
  t.equal((await join(generatedOne.id, ada.token)).status, 201)

  // Account layer.
  const byAccount = await live(host.token, { passcode: 'account-code' })
  problem(t, await join(byAccount.id, ada.token), 403, 'passcode_invalid', 'before the account change')
  t.equal((await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'meeting.passcode_required': false } })).status, 200)
  t.equal((await join(byAccount.id, ada.token)).status, 201, 'the account layer turned it off')

  // A fixed account lock keeps the passcode required; the meeting cannot turn it off.
  const locked = await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, {
    values: { 'meeting.passcode_required': true },
    locks: { 'meeting.passcode_required': 'fixed' },
  })
  t.equal(locked.status, 200)
  const strict = await live(host.token, { passcode: 'strict-code' })
  const refused = await patch(`/v1/meetings/${strict.id}/settings`, host.token, { values: { 'meeting.passcode_required': false } })
  problem(t, refused, 409, 'setting_locked')
  t.equal(refused.body.errors?.[0]?.lockLayer, 'account')
  problem(t, await join(strict.id, bo.token), 403, 'passcode_invalid', 'still required')
  const cathy = await tenant.user(['member'])
  problem(t, await join(byMeeting.id, cathy.token), 403, 'passcode_invalid', 'the lock overrides the earlier meeting value')
})

// ---------------------------------------------------------------------------------------------
// 4. The join answer

t.test('P-SET-1, P-ATT-1: the join answer carries the effective meeting settings; attention tracking only when the account allows and the meeting enables it', async (t) => {
  const { tenant, patch, join, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const settingsUrl = `/v1/meetings/${meeting.id}/settings`
  const accountUrl = `/v1/accounts/${tenant.accountId}/settings`
  const guestJoin = async (label: string) => {
    const res = await join(meeting.id, host.token, { guest: { displayName: label } })
    t.equal(res.status, 201, label, { body: res.body })
    return res.body.settings
  }

  t.same(await guestJoin('defaults'), DEFAULT_JOIN_SETTINGS, 'private defaults')

  t.equal((await patch(settingsUrl, host.token, {
    values: {
      'meeting.join_video_off': false,
      'meeting.join_muted': false,
      'meeting.waiting_room': false,
      'meeting.screen_share': 'all',
      'recording.cloud.enabled': true,
      'recording.local.enabled': true,
      'recording.consent_mode': 'acknowledge',
      'transcript.enabled': true,
      'attention_tracking.enabled': true,
    },
  })).status, 200)
  t.same(await guestJoin('meeting values'), {
    joinVideoOff: false,
    joinMuted: false,
    waitingRoom: false,
    screenShare: 'all',
    recordingCloud: true,
    recordingLocal: true,
    recordingConsentMode: 'acknowledge',
    transcript: true,
    attentionTracking: false,
    recordingDenialAction: 'read_only',
  }, 'every meeting value; attention tracking stays off: the account does not allow it')

  t.equal((await patch(accountUrl, tenant.admin, { values: { 'attention_tracking.allowed': true } })).status, 200)
  t.equal((await guestJoin('allowed and enabled')).attentionTracking, true, 'allowed by the account and enabled by the meeting')

  t.equal((await patch(settingsUrl, host.token, { values: { 'attention_tracking.enabled': false } })).status, 200)
  t.equal((await guestJoin('allowed, not enabled')).attentionTracking, false, 'allowed but not enabled')
  t.equal((await patch(settingsUrl, host.token, { values: { 'attention_tracking.enabled': null } })).status, 200)
  t.equal((await guestJoin('allowed, default')).attentionTracking, false, 'allowed, enabled left at its default')

  // Enabled at the account layer (for every meeting) and allowed: on; the account withdraws: off.
  t.equal((await patch(accountUrl, tenant.admin, { values: { 'attention_tracking.enabled': true } })).status, 200)
  t.equal((await guestJoin('account-enabled')).attentionTracking, true)
  t.equal((await patch(accountUrl, tenant.admin, { values: { 'attention_tracking.allowed': false }, locks: { 'attention_tracking.allowed': 'fixed' } })).status, 200)
  t.equal((await guestJoin('prohibited')).attentionTracking, false, 'prohibited by the account')

  // Account values reach the answer; a fixed lock beats the meeting value.
  t.equal((await patch(accountUrl, tenant.admin, { values: { 'meeting.join_muted': true }, locks: { 'meeting.join_muted': 'fixed' } })).status, 200)
  const answer = await guestJoin('locked muted')
  t.equal(answer.joinMuted, true, 'the account lock wins over the meeting value')
  t.equal(answer.joinVideoOff, false, 'unlocked meeting values stay')
})

// ---------------------------------------------------------------------------------------------
// 5. Roles

t.test('who lists participants: host, cohosts, admins, the recorder; attendees 403, strangers 404; cohost only by the host or an admin', async (t) => {
  const { api, tenant, get, patch, join, leave, list, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const meeting = await live(host.token)
  const url = `/v1/meetings/${meeting.id}/participants`

  // A member cannot make themself (or a guest) a cohost.
  problem(t, await join(meeting.id, ada.token, { role: 'cohost' }), 403, 'forbidden', 'member asks cohost for themself')
  problem(t, await join(meeting.id, ada.token, { role: 'cohost', guest: { displayName: 'Friend' } }), 403, 'forbidden', 'member asks cohost for a guest')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 0, 'nothing written')
  const adaJoin = await join(meeting.id, ada.token, { role: 'attendee' })
  t.equal(adaJoin.status, 201)
  t.equal(adaJoin.body.role, 'attendee')

  problem(t, await get(url, ada.token), 403, 'forbidden', 'an attendee lists participants')
  problem(t, await get(url, stranger.token), 404, 'not_found', 'a member who is not in the meeting')
  problem(t, await leave(meeting.id, adaJoin.body.participantId, stranger.token), 403, 'forbidden', 'a stranger makes ada leave')
  t.equal((await get(url, host.token)).status, 200, 'the host')
  t.equal((await get(url, tenant.admin)).status, 200, 'an admin')
  t.equal((await get(url, recorder.token)).status, 200, 'the recorder')
  problem(t, await join(meeting.id, recorder.token, { guest: { displayName: 'Bot' } }), 403, 'forbidden', 'the recorder does not join')

  // The host makes a guest a cohost; the host's own role stays host whatever is asked.
  const cohostGuest = await join(meeting.id, host.token, { role: 'cohost', guest: { displayName: 'Interpreter' } })
  t.equal(cohostGuest.status, 201)
  t.equal(cohostGuest.body.role, 'cohost')
  const hostJoin = await join(meeting.id, host.token, { role: 'attendee' })
  t.equal(hostJoin.body.role, 'host')

  // An admin joins as cohost; demoted to member later, they keep the cohost's right to list.
  const deputy = await tenant.user(['admin', 'member'])
  const deputyJoin = await join(meeting.id, deputy.token, { role: 'cohost' })
  t.equal(deputyJoin.status, 201)
  t.equal(deputyJoin.body.role, 'cohost')
  const demoted = await patch(`/v1/accounts/${tenant.accountId}/users/${deputy.id}`, tenant.admin, { roles: ['member'] })
  t.equal(demoted.status, 200)
  const memberToken = tokenFor(api.config, { sub: deputy.id, acc: tenant.accountId, roles: ['member'] })
  const asCohost = await get(url, memberToken)
  t.equal(asCohost.status, 200, 'a cohost lists participants')
  t.equal(asCohost.body.items.length, 4)
  problem(t, await patch(`/v1/meetings/${meeting.id}`, memberToken, { topic: 'x' }), 403, 'forbidden', 'a cohost does not change the meeting')
  problem(t, await patch(`/v1/meetings/${meeting.id}/settings`, memberToken, { values: { 'meeting.join_muted': false } }), 403, 'forbidden', 'nor its settings')

  const roles = new Map((await list(meeting.id, host.token)).map((item) => [item.id, item.role]))
  t.same(
    [roles.get(adaJoin.body.participantId), roles.get(cohostGuest.body.participantId), roles.get(hostJoin.body.participantId), roles.get(deputyJoin.body.participantId)],
    ['attendee', 'cohost', 'host', 'cohost'],
  )
  t.equal((await leave(meeting.id, adaJoin.body.participantId, host.token)).status, 204, 'the host makes an attendee leave')
})

t.test('participants list pages with a cursor; a bad cursor is 400', async (t) => {
  const { tenant, get, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const made: string[] = []
  for (let i = 0; i < 7; i++) made.push((await join(meeting.id, host.token, { guest: { displayName: `Guest ${i}` } })).body.participantId)
  const seen: string[] = []
  const sizes: number[] = []
  let cursor: string | null = null
  for (let guard = 0; guard < 10; guard++) {
    const res: Res = await get(`/v1/meetings/${meeting.id}/participants?limit=3${cursor ? `&cursor=${cursor}` : ''}`, host.token)
    t.equal(res.status, 200)
    seen.push(...res.body.items.map((item: { id: string }) => item.id))
    sizes.push(res.body.items.length)
    for (const item of res.body.items) t.equal(item.intervals.length, 1, 'each item carries its own stays')
    cursor = res.body.nextCursor
    if (cursor === null) break
  }
  t.same(sizes, [3, 3, 1])
  t.equal(new Set(seen).size, 7, 'no duplicates')
  t.same([...seen].sort(), [...made].sort(), 'no gaps')
  problem(t, await get(`/v1/meetings/${meeting.id}/participants?cursor=bm9wZQ`, host.token), 400, 'validation_failed', 'bad cursor')
  problem(t, await get(`/v1/meetings/${meeting.id}/participants?limit=0`, host.token), 400, 'validation_failed', 'limit 0')
})

// ---------------------------------------------------------------------------------------------
// 6. Races and retries

t.test('concurrent joins of one user make one participant and one open stay; a double leave closes it once', async (t) => {
  const { tenant, join, leave, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)

  const answers = await Promise.all([join(meeting.id, ada.token), join(meeting.id, ada.token), join(meeting.id, ada.token)])
  t.same(answers.map((res) => res.status).sort(), [201, 409, 409], 'one join wins')
  for (const res of answers.filter((res) => res.status === 409)) t.equal(res.body.code, 'already_present')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 1, 'one participant')
  t.equal((await stayRows(tenant.accountId, meeting.id)).length, 1, 'one stay')

  const participantId = answers.find((res) => res.status === 201)!.body.participantId
  const leaves = await Promise.all([leave(meeting.id, participantId, ada.token), leave(meeting.id, participantId, ada.token)])
  t.same(leaves.map((res) => res.status).sort(), [204, 409])
  t.equal((await auditRows(tenant.accountId, 'participant.left')).length, 1)
})

t.test('a retried guest join with the same Idempotency-Key makes one participant', async (t) => {
  const { api, tenant, live } = await setup(t)
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const send = () =>
    api.request({
      method: 'POST',
      url: `/v1/meetings/${meeting.id}/participants`,
      token: host.token,
      body: { guest: { displayName: 'Retrying client' } },
      headers: { 'idempotency-key': 'join-guest-1' },
    })
  const first = await send()
  const retry = await send()
  t.equal(first.status, 201)
  t.equal(retry.status, 201)
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.same(retry.body, first.body, 'the same answer')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 1, 'one guest, not two')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 1)
})

// The next two tests order two requests deterministically: a service method the first request
// calls after it has checked the meeting's status is wrapped to wait at a gate while the meeting
// ends. The requests themselves still go through api.request.

/** Wraps `service[method]` so that its next call waits at a gate, before or after running. */
/** Whether a join's statement waits for a row lock another transaction holds (on PostgreSQL), polled for up to 10 s. */
async function joinWaitsForLock(): Promise<boolean> {
  const { db } = await testDatabase()
  const waiting = async () =>
    rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%insert into participants%'`))[0]!.n > 0
  for (let tries = 0; tries < 500; tries++) {
    if (await waiting()) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

function gate<S extends object>(t: Test, service: S, method: keyof S & string, when: 'before' | 'after') {
  const target = service as Record<string, (...args: unknown[]) => Promise<unknown>>
  const original = target[method]!
  let release!: () => void
  let reached!: () => void
  const opened = new Promise<void>((resolve) => (release = resolve))
  const atGate = new Promise<void>((resolve) => (reached = resolve))
  let armed = true
  const wait = async () => {
    if (!armed) return
    armed = false
    reached()
    await opened
  }
  target[method] = async (...args: unknown[]) => {
    if (when === 'before') await wait()
    const result = await original.apply(service, args)
    if (when === 'after') await wait()
    return result
  }
  t.teardown(() => {
    target[method] = original
  })
  return { atGate, release }
}

t.test('P-REC-7: a join that read the meeting as live cannot leave an open stay in a meeting that ended meanwhile', async (t) => {
  const { api, tenant, clock, post, join, list, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)

  // The join checks the status, then reads the effective settings: it waits there while the meeting ends.
  const { atGate, release } = gate(t, api.app.services.settings, 'forJoin', 'after')
  clock.set('2026-12-01T09:20:00.000Z')
  const joining = join(meeting.id, ada.token)
  await atGate
  t.equal((await post(`/v1/meetings/${meeting.id}/end`, host.token)).status, 200, 'the meeting ends')
  clock.set('2026-12-01T09:20:05.000Z')
  release()
  const joined = await joining

  const open = (await stayRows(tenant.accountId, meeting.id)).filter((stay) => stay.leftAt === null)
  t.equal(open.length, 0, 'no open stay in an ended meeting', { joinStatus: joined.status })
  t.equal(joined.status, 409, 'the late join is refused', { body: joined.body })
  t.equal(joined.body?.code, 'meeting_not_live')
  const items = await list(meeting.id, host.token)
  t.ok(items.every((item) => item.present === false), 'nobody is present in an ended meeting')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 0, 'no join audited after the end')
})

t.test('a guest join writes the participant, the stay and the audit event in one statement, and reads each thing once', async (t) => {
  const { tenant, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const client = await tenant.user(['member'])
  const meeting = await live(host.token)

  const { result, queries } = await countQueries(() => join(meeting.id, client.token, { guest: { displayName: 'Counted guest' } }))
  t.equal(result.status, 201)
  const writes = queries.filter((q) => /insert into participants/i.test(q))
  t.equal(writes.length, 1, 'one statement writes the join', { queries })
  t.match(writes[0], /for share/i, 'it share-locks the live meeting')
  t.match(writes[0], /insert into presence_intervals/i, 'opens the stay')
  t.match(writes[0], /insert into audit_pending/i, 'and records the audit event')
  // A transaction's BEGIN and COMMIT never reach the query log; separate statements would.
  t.equal(queries.filter((q) => /for share|presence_intervals|audit_pending"? \(/i.test(q)).length, 1, 'no other statement locks, opens a stay or records the event', { queries })
  t.equal(queries.filter((q) => /setting_values/.test(q)).length, 1, 'the meeting settings are resolved once')
  t.notOk(queries.some((q) => /from "consent_records"/.test(q)), 'a new guest has no answers to read')
  const [stay] = await stayRows(tenant.accountId, meeting.id)
  t.equal(stay?.participantId, result.body.participantId)
  t.equal(stay?.joinedAt.toISOString(), T0, 'on the server clock')
  const [entry] = await auditRows(tenant.accountId, 'participant.joined')
  t.same(entry?.details, { participantId: result.body.participantId, role: 'attendee', guest: true, waiting: false }, 'its audit event is in the trail')
})

t.test('a join does not wait for the audit chain: a service that stops finishes the run the join started, leaving nothing pending', async (t) => {
  const { api, tenant, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const client = await tenant.user(['member'])
  const meeting = await live(host.token)
  const res = await join(meeting.id, client.token, { guest: { displayName: 'Last guest' } })
  t.equal(res.status, 201)
  const own = await join(meeting.id, client.token, {})
  t.equal(own.status, 201, "and a user's join")
  await api.app.close()
  const { db } = await testDatabase()
  const pending = await db.select().from(auditPending).where(eq(auditPending.accountId, tenant.accountId))
  t.same(pending, [], 'nothing of the account is left pending')
  const trail = await db.select().from(auditEntries).where(eq(auditEntries.accountId, tenant.accountId))
  for (const joined of [res, own]) {
    t.ok(trail.some((entry) => entry.action === 'participant.joined' && (entry.details as { participantId?: string }).participantId === joined.body.participantId), 'each join is in the trail')
  }
})

t.test("a user's join writes the participant, the stay or the wait, and the audit event in one statement", async (t) => {
  const { tenant, clock, join, leave, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)

  const { result, queries } = await countQueries(() => join(meeting.id, ada.token))
  t.equal(result.status, 201)
  const writes = queries.filter((q) => /insert into participants/i.test(q))
  t.equal(writes.length, 1, 'one statement writes the join', { queries })
  t.match(writes[0], /for share/i, 'it share-locks the live meeting')
  t.match(writes[0], /insert into presence_intervals/i, 'opens the stay')
  t.match(writes[0], /insert into audit_pending/i, 'and records the audit event')
  t.equal(queries.filter((q) => /for share|presence_intervals|audit_pending"? \(|update "participants"/i.test(q)).length, 1, 'no other statement locks, opens a stay, waits or records the event', { queries })
  const [entry] = await auditRows(tenant.accountId, 'participant.joined')
  t.same(entry?.details, { participantId: result.body.participantId, role: 'attendee', guest: false }, 'the audit event is chained before the answer')

  // A rejoin reuses the row and opens a second stay; a join while present writes nothing.
  clock.set(plus(T0, 30))
  t.equal((await leave(meeting.id, result.body.participantId, ada.token)).status, 204)
  clock.set(plus(T0, 60))
  const again = await join(meeting.id, ada.token)
  t.equal(again.body.participantId, result.body.participantId, 'the same participant')
  problem(t, await join(meeting.id, ada.token), 409, 'already_present', 'present already')
  t.same((await stayRows(tenant.accountId, meeting.id)).map((stay) => stay.leftAt === null), [false, true], 'two stays, the second open')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 2, 'the refused join is not audited')
})

t.test('P-SET-1: a cohost rejoins past the waiting room; a waiting user whose meeting turned the waiting room off enters on joining again', async (t) => {
  const { tenant, patch, join, leave, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const deputy = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)

  const deputyJoin = await join(meeting.id, deputy.token)
  t.equal(deputyJoin.body.waiting, true, 'an attendee waits')
  t.equal((await patch(`/v1/meetings/${meeting.id}/participants/${deputyJoin.body.participantId}`, host.token, { role: 'cohost' })).status, 200)
  t.equal((await leave(meeting.id, deputyJoin.body.participantId, deputy.token)).status, 204, 'leaves the waiting room')
  const back = await join(meeting.id, deputy.token)
  t.same([back.body.participantId, back.body.role, back.body.waiting], [deputyJoin.body.participantId, 'cohost', false], 'the cohost enters at once')

  const adaJoin = await join(meeting.id, ada.token)
  t.equal(adaJoin.body.waiting, true)
  t.equal((await patch(`/v1/meetings/${meeting.id}/settings`, host.token, { values: { 'meeting.waiting_room': false } })).status, 200)
  const inNow = await join(meeting.id, ada.token)
  t.same([inNow.status, inNow.body.participantId, inNow.body.waiting], [201, adaJoin.body.participantId, false], 'straight in from the waiting room')
  const open = (await stayRows(tenant.accountId, meeting.id)).filter((stay) => stay.participantId === adaJoin.body.participantId)
  t.equal(open.length, 1, 'with one stay')
  t.equal(open[0]!.leftAt, null)
})

t.test('P-SET-1: a waiting user who joins again while the host admits them is present, never left waiting beside an open stay', async (t) => {
  const { api, tenant, clock, post, join, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)
  const waiting = await join(meeting.id, ada.token)
  t.equal(waiting.body.waiting, true)
  clock.set(plus(T0, 30))
  const database = await testDatabase()
  if (database.kind === 'postgres') {
    // The admission holds the participant row (its wait cleared, its stay opened) until released;
    // the join's statement starts meanwhile, waits for the row, and checks the stays after.
    const { atGate, release } = gate(t, api.app.services.repositories.meetings, 'openStay', 'after')
    const admitting = post(`/v1/meetings/${meeting.id}/participants/${waiting.body.participantId}/admit`, host.token)
    await atGate
    const joining = join(meeting.id, ada.token)
    t.ok(await joinWaitsForLock(), 'the join waits for the admission')
    release()
    t.equal((await admitting).status, 200, 'admitted')
    problem(t, await joining, 409, 'already_present', 'the join sees the stay the admission opened')
  } else {
    // One connection runs one transaction at a time: the join follows the admission.
    t.equal((await post(`/v1/meetings/${meeting.id}/participants/${waiting.body.participantId}/admit`, host.token)).status, 200, 'admitted')
    problem(t, await join(meeting.id, ada.token), 409, 'already_present', 'present already')
  }
  const [row] = await participantRows(tenant.accountId, meeting.id)
  t.equal(row?.waitingSince, null, 'not waiting')
  t.same((await stayRows(tenant.accountId, meeting.id)).map((stay) => [stay.joinedAt.toISOString(), stay.leftAt]), [[plus(T0, 30), null]], 'one open stay, from the admission')
  t.equal((await auditRows(tenant.accountId, 'participant.waiting')).length, 1, 'the second join is not audited as a wait')
})

t.test('P-REC-7: a user who joins again while their leave is still being written enters once it is, with a stay of their own', async (t) => {
  const { api, tenant, clock, join, leave, live } = await setup(t)
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await live(host.token)
  const first = await join(meeting.id, ada.token)
  t.equal(first.status, 201)
  clock.set(plus(T0, 30))
  const database = await testDatabase()
  if (database.kind === 'postgres') {
    // The leave holds the stay it closed until released; the join's statement waits for it.
    const { atGate, release } = gate(t, api.app.services.repositories.meetings, 'closeStay', 'after')
    const leaving = leave(meeting.id, first.body.participantId, ada.token)
    await atGate
    clock.set(plus(T0, 31))
    const joining = join(meeting.id, ada.token)
    t.ok(await joinWaitsForLock(), 'the join waits for the leave')
    release()
    t.equal((await leaving).status, 204, 'left')
    const again = await joining
    t.equal(again.status, 201, 'the join enters once the leave is written', { body: again.body })
  } else {
    // One connection runs one transaction at a time: the join follows the leave.
    t.equal((await leave(meeting.id, first.body.participantId, ada.token)).status, 204, 'left')
    clock.set(plus(T0, 31))
    t.equal((await join(meeting.id, ada.token)).status, 201, 'joins again')
  }
  t.same(
    (await stayRows(tenant.accountId, meeting.id)).map((stay) => [stay.joinedAt.toISOString(), stay.leftAt?.toISOString() ?? null]),
    [
      [T0, plus(T0, 30)],
      [plus(T0, 31), null],
    ],
    'the first stay closed, the second open',
  )
})

t.test('P-REC-7: a guest join that read the meeting as live writes nothing when the meeting ended meanwhile', async (t) => {
  const { api, tenant, clock, post, join, live } = await setup(t)
  const host = await tenant.user(['member'])
  const client = await tenant.user(['member'])
  const meeting = await live(host.token)

  // The guest's one-statement write locks the meeting only while it is live: here it ended between.
  const { atGate, release } = gate(t, api.app.services.settings, 'forJoin', 'after')
  clock.set('2026-12-01T09:20:00.000Z')
  const joining = join(meeting.id, client.token, { guest: { displayName: 'Late guest' } })
  await atGate
  t.equal((await post(`/v1/meetings/${meeting.id}/end`, host.token)).status, 200, 'the meeting ends')
  release()
  const joined = await joining

  t.equal(joined.status, 409, 'the late join is refused', { body: joined.body })
  t.equal(joined.body?.code, 'meeting_not_live')
  t.match(joined.body?.detail, /ended/, 'the answer says what the meeting is now')
  t.same(await stayRows(tenant.accountId, meeting.id), [], 'no stay was written')
  t.same((await participantRows(tenant.accountId, meeting.id)).filter((row) => row.guestDisplayName === 'Late guest'), [], 'no participant was written')
  t.equal((await auditRows(tenant.accountId, 'participant.joined')).length, 0, 'no join audited')
})

t.test('a meeting-settings change that raced the meeting\'s end is refused (meeting_closed)', async (t) => {
  const { api, tenant, get, post, patch, live } = await setup(t)
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)

  // patchSettings checks the status, then hands over to the settings engine: it waits there.
  const { atGate, release } = gate(t, api.app.services.settings, 'patchMeetingLayer', 'before')
  const patching = patch(`/v1/meetings/${meeting.id}/settings`, host.token, { values: { 'meeting.join_muted': false } })
  await atGate
  t.equal((await post(`/v1/meetings/${meeting.id}/end`, host.token)).status, 200, 'the meeting ends')
  release()
  const patched = await patching

  t.equal(patched.status, 409, 'refused', { body: patched.body })
  t.equal(patched.body?.code, 'meeting_closed')
  const layer = await get(`/v1/meetings/${meeting.id}/settings`, host.token)
  t.same(layer.body.values, {}, 'an ended meeting\'s settings did not change')
})

// ---------------------------------------------------------------------------------------------
// The waiting room and roles (issue 12)

t.test('P-SET-1: the waiting room (on by default) holds joiners without presence until the host, a cohost or an admin admits them', async (t) => {
  const { tenant, clock, post, patch, join, leave, list, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const bo = await tenant.user(['member'])
  const deputy = await tenant.user(['member'])
  const kiosk = await tenant.user(['member'])
  const meeting = await live(host.token)

  clock.set('2026-12-01T09:00:10.000Z')
  const adaJoin = await join(meeting.id, ada.token)
  t.equal(adaJoin.status, 201)
  t.equal(adaJoin.body.waiting, true, 'the join answer says waiting')
  t.equal(adaJoin.body.settings.waitingRoom, true)
  const walkIn = await join(meeting.id, kiosk.token, { guest: { displayName: 'Walk-in' } })
  t.equal(walkIn.body.waiting, true, "a guest joined by a member's client waits too")
  t.same(await stayRows(tenant.accountId, meeting.id), [], 'no presence interval: nothing can capture them')
  problem(t, await join(meeting.id, ada.token), 409, 'already_present', 'waiting already')

  // Who enters at once: the host, an admin, a guest the host's client joins, a cohost.
  const hostJoin = await join(meeting.id, host.token)
  t.equal(hostJoin.body.waiting, false, 'the host')
  t.equal((await join(meeting.id, tenant.admin)).body.waiting, false, 'an admin')
  t.equal((await join(meeting.id, host.token, { guest: { displayName: 'Room system' } })).body.waiting, false, "a guest the host's client joins")
  const deputyJoin = await join(meeting.id, deputy.token)
  t.equal(deputyJoin.body.waiting, true)

  // The gate does not count a waiting participant as present.
  const waitingNow = (await list(meeting.id, host.token)).filter((item) => item.waiting).map((item) => item.id).sort()
  t.same(waitingNow, [adaJoin.body.participantId, walkIn.body.participantId, deputyJoin.body.participantId].sort(), 'the list shows who waits')

  // Only the host, a cohost or an admin admits.
  problem(t, await post(`/v1/meetings/${meeting.id}/participants/${adaJoin.body.participantId}/admit`, bo.token), 404, 'not_found', 'a member outside the meeting')
  problem(t, await post(`/v1/meetings/${meeting.id}/participants/${adaJoin.body.participantId}/admit`, deputy.token), 403, 'forbidden', 'a waiting attendee')
  const promoted = await patch(`/v1/meetings/${meeting.id}/participants/${deputyJoin.body.participantId}`, host.token, { role: 'cohost' })
  t.equal(promoted.status, 200)
  clock.set('2026-12-01T09:00:30.000Z')
  const admitted = await post(`/v1/meetings/${meeting.id}/participants/${adaJoin.body.participantId}/admit`, deputy.token)
  t.equal(admitted.status, 200, 'a cohost admits', { body: admitted.body })
  t.same(admitted.body, { participantId: adaJoin.body.participantId, admittedAt: '2026-12-01T09:00:30.000Z' })
  problem(t, await post(`/v1/meetings/${meeting.id}/participants/${adaJoin.body.participantId}/admit`, host.token), 409, 'not_waiting', 'admitted already')
  problem(t, await post(`/v1/meetings/${meeting.id}/participants/${hostJoin.body.participantId}/admit`, host.token), 409, 'not_waiting', 'the host never waited')
  problem(t, await post(`/v1/meetings/${meeting.id}/participants/00000000-0000-4000-8000-000000000000/admit`, host.token), 404, 'not_found', 'unknown participant')
  const adaStays = (await stayRows(tenant.accountId, meeting.id)).filter((stay) => stay.participantId === adaJoin.body.participantId)
  t.same(adaStays.map((stay) => stay.joinedAt.toISOString()), ['2026-12-01T09:00:30.000Z'], 'presence counts from admission, not from the join')
  t.equal((await auditRows(tenant.accountId, 'participant.admitted')).length, 1)
  t.equal((await auditRows(tenant.accountId, 'participant.waiting')).length, 2, "the users' waits are audited (the guest's join event says waiting)")

  // The preview of a window that covers the wait does not see the waiting guest.
  await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'recording.cloud.enabled': true } })
  const decision = await post(`/v1/meetings/${meeting.id}/recording-decisions`, host.token, { scope: 'recording', startedAt: '2026-12-01T09:00:05.000Z', endedAt: '2026-12-01T09:00:20.000Z' })
  t.equal(decision.status, 200)
  t.notOk(decision.body.capturedParticipantIds.includes(walkIn.body.participantId), 'a waiting participant is never captured')
  t.notOk(decision.body.capturedParticipantIds.includes(adaJoin.body.participantId), 'nor one admitted after the window')

  // Leaving the waiting room, and the meeting's end, empty it.
  t.equal((await leave(meeting.id, walkIn.body.participantId, kiosk.token)).status, 204, 'a waiting guest leaves')
  problem(t, await leave(meeting.id, walkIn.body.participantId, kiosk.token), 409, 'not_present', 'gone already')
  const late = await join(meeting.id, bo.token)
  t.equal(late.body.waiting, true)
  t.equal((await post(`/v1/meetings/${meeting.id}/end`, host.token)).status, 200)
  const after = await list(meeting.id, host.token)
  t.ok(after.every((item) => item.waiting === false && item.present === false), 'the end empties the waiting room too')
})

t.test('P-SET-1: a meeting turns its waiting room off where the locks allow; a fixed lock keeps it on', async (t) => {
  const { tenant, patch, join, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const open = await live(host.token)
  t.equal((await patch(`/v1/meetings/${open.id}/settings`, host.token, { values: { 'meeting.waiting_room': false } })).status, 200)
  t.equal((await join(open.id, ada.token)).body.waiting, false, 'off for this meeting: straight in')

  const locked = await patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'meeting.waiting_room': true }, locks: { 'meeting.waiting_room': 'fixed' } })
  t.equal(locked.status, 200)
  const strict = await live(host.token)
  problem(t, await patch(`/v1/meetings/${strict.id}/settings`, host.token, { values: { 'meeting.waiting_room': false } }), 409, 'setting_locked')
  t.equal((await join(strict.id, ada.token)).body.waiting, true, 'the lock binds')
})

t.test('roles follow the meeting: the host or an admin makes a cohost, who admits and lists; the host stays host', async (t) => {
  const { api, tenant, get, patch, join, live } = await setup(t, { defaults: true })
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const bo = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const meeting = await live(host.token)
  const hostP = (await join(meeting.id, host.token)).body.participantId
  const adaP = (await join(meeting.id, ada.token)).body.participantId
  const boP = (await join(meeting.id, bo.token)).body.participantId
  const guestP = (await join(meeting.id, host.token, { guest: { displayName: 'Visitor' } })).body.participantId
  const url = (id: string) => `/v1/meetings/${meeting.id}/participants/${id}`

  problem(t, await get(`/v1/meetings/${meeting.id}/participants`, ada.token), 403, 'forbidden', 'an attendee does not list')
  problem(t, await patch(url(boP), ada.token, { role: 'cohost' }), 403, 'forbidden', 'an attendee does not promote')
  problem(t, await patch(url(boP), stranger.token, { role: 'cohost' }), 404, 'not_found', 'a stranger')
  const other = await createTenant(api)
  problem(t, await patch(url(boP), other.admin, { role: 'cohost' }), 404, 'not_found', "another account's admin")
  problem(t, await patch(url(hostP), tenant.admin, { role: 'attendee' }), 409, 'host_role_fixed')
  problem(t, await patch(url(guestP), host.token, { role: 'cohost' }), 409, 'cohost_needs_user')
  problem(t, await patch(url(adaP), host.token, { role: 'host' }), 400, 'validation_failed', 'nobody is made host')

  const promoted = await patch(url(adaP), host.token, { role: 'cohost' })
  t.equal(promoted.status, 200)
  t.match(promoted.body, { id: adaP, role: 'cohost', waiting: true, present: false })
  t.equal((await get(`/v1/meetings/${meeting.id}/participants`, ada.token)).status, 200, 'a cohost lists participants')
  t.equal((await api.request({ method: 'POST', url: `${url(boP)}/admit`, token: ada.token })).status, 200, 'and admits')
  const again = await patch(url(adaP), tenant.admin, { role: 'attendee' })
  t.equal(again.body.role, 'attendee', 'an admin demotes')
  problem(t, await get(`/v1/meetings/${meeting.id}/participants`, ada.token), 403, 'forbidden', 'the power went with the role')
  const changes = await auditRows(tenant.accountId, 'participant.role_changed')
  t.same(changes.map((row) => row.details), [{ participantId: adaP, from: 'attendee', to: 'cohost' }, { participantId: adaP, from: 'cohost', to: 'attendee' }])
  t.equal((await patch(url(adaP), tenant.admin, { role: 'attendee' })).status, 200, 'the same role again changes nothing')
  t.equal((await auditRows(tenant.accountId, 'participant.role_changed')).length, 2)
})

t.test("a guest's join carries its Idempotency-Key: a retry is answered from the participant, even after the end; no stored answer is written", async (t) => {
  const { api, tenant, post, live } = await setup(t)
  const host = await tenant.user(['member'])
  const client = await tenant.user(['member'])
  const meeting = await live(host.token, { passcode: 'guest-code' })
  const send = (body: Body, key = 'guest-join-7') =>
    api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/participants`, token: client.token, body: { ...body, passcode: 'guest-code' }, headers: { 'idempotency-key': key } })
  const { result: first, queries } = await countQueries(() => send({ guest: { displayName: 'Keyed guest' } }))
  t.equal(first.status, 201)
  t.notOk(queries.some((q) => /idempotency_keys/.test(q)), 'the row carries the key: no claim, no stored answer')
  t.equal((await post(`/v1/meetings/${meeting.id}/end`, host.token)).status, 200)
  const retry = await send({ guest: { displayName: 'Keyed guest' } })
  t.equal(retry.status, 201, 'answered after the end')
  t.equal(retry.headers['idempotent-replayed'], 'true')
  t.equal(retry.body.participantId, first.body.participantId, 'the same guest')
  problem(t, await send({ guest: { displayName: 'Someone else' } }), 422, 'idempotency_key_reused', 'the same key for another guest')
  problem(t, await send({ guest: { displayName: 'Fresh' } }, 'another-key'), 409, 'meeting_not_live', 'a new key in an ended meeting')
  t.equal((await participantRows(tenant.accountId, meeting.id)).length, 1)
  // Another client's identical key is its own.
  const other = await tenant.user(['member'])
  const theirs = await api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/participants`, token: other.token, body: { guest: { displayName: 'Keyed guest' }, passcode: 'guest-code' }, headers: { 'idempotency-key': 'guest-join-7' } })
  problem(t, theirs, 409, 'meeting_not_live', "another client's key of the same name is not this one")
})
