import { createHash, createPublicKey, generateKeyPairSync, type JsonWebKey, verify } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { auditEntries, auditPending, consentClientDetails, consentRecords, idempotencyKeys } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { newId } from '../../src/lib/ids.js'
import { buildTestApp, countQueries, createTenant, type Tenant, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { checkResponse } from '../helpers/openapi.js'
import { auditRows } from '../helpers/audit.js'

// Consent records (issue 5 item 2; P-DSR-7, P-MIN-1, P-GOV-3): who may answer for a participant,
// what an answer must name, the signed receipt (verified here with node:crypto alone, against the
// published JWKS), Idempotency-Key retries, the append-only history and its asOf view, the
// current status, what the join answer says, the audit of every record, and the coarse network.
// Every request goes through api.request, which checks the answer against openapi/openapi.json.

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>
type Res = { status: number; body: any; headers: Record<string, unknown> }

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
    return instant
  }
  /** Moves forward and returns the new instant as the API writes it. */
  tick(seconds = 1) {
    this.at += seconds * 1000
    return new Date(this.at).toISOString()
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const plus = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1000).toISOString()
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')
const UNKNOWN_ID = '0190a6f0-0000-7000-8000-000000000000'

const RECORDING_TEXT = 'This meeting is recorded. You may withdraw your consent at any time.'
const TRANSCRIPT_TEXT = 'This meeting is transcribed.'

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  host: { id: string; token: string }
  meetingId: string
  /** Version 1 of the account's recording and transcript notices (en). */
  rec: any
  tr: any
  get: (url: string, token: string) => Promise<Res>
  post: (url: string, token: string, body?: unknown, headers?: Record<string, string>) => Promise<Res>
  patch: (url: string, token: string, body: Body) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** Joins the meeting (must succeed) and returns the join answer. */
  join: (token: string, body?: Body, meetingId?: string) => Promise<any>
  leave: (participantId: string, token: string) => Promise<Res>
  /** POST …/consents; the clock moves one second first so records are ordered. */
  consent: (token: string, body: Body, headers?: Record<string, string>, meetingId?: string) => Promise<Res>
  publish: (noticeId: string, text: string, extra?: Body) => Promise<any>
  notice: (kind: string, locale: string, text: string) => Promise<any>
  /** A started meeting hosted by `token` (must succeed); returns its id. */
  live: (token: string) => Promise<string>
}

async function setup(t: Test): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const patch = (url: string, token: string, body: Body) => api.request({ method: 'PATCH', url, token, body })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  await must(
    patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, {
      values: { 'recording.cloud.enabled': true, 'transcript.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false },
    }),
    200,
    'settings',
  )
  const notice = (kind: string, locale: string, text: string) => {
    clock.tick(1)
    return must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale, title: `${kind} ${locale}`, text }), 201, `notice ${kind}`)
  }
  const publish = (noticeId: string, text: string, extra: Body = {}) => {
    clock.tick(1)
    return must(post(`/v1/accounts/${tenant.accountId}/notices/${noticeId}/versions`, tenant.admin, { text, ...extra }), 201, 'publish')
  }
  const rec = await notice('recording', 'en', RECORDING_TEXT)
  const tr = await notice('transcript', 'en', TRANSCRIPT_TEXT)
  const live = async (token: string) => {
    const meeting = await must(
      post('/v1/meetings', token, { topic: 'Consents', scheduledStart: '2026-12-01T10:00:00Z', durationMinutes: 60, timeZone: 'UTC' }),
      201,
      'create meeting',
    )
    await must(post(`/v1/meetings/${meeting.id}/start`, token), 200, 'start meeting')
    return meeting.id as string
  }
  const host = await tenant.user(['member'])
  const meetingId = await live(host.token)
  const join = (token: string, body: Body = {}, meeting = meetingId) => {
    clock.tick(1)
    return must(post(`/v1/meetings/${meeting}/participants`, token, body), 201, 'join')
  }
  const leave = (participantId: string, token: string) => {
    clock.tick(1)
    return post(`/v1/meetings/${meetingId}/participants/${participantId}/leave`, token)
  }
  const consent = (token: string, body: Body, headers?: Record<string, string>, meeting = meetingId) => {
    clock.tick(1)
    return post(`/v1/meetings/${meeting}/consents`, token, body, headers)
  }
  return { api, clock, tenant, host, meetingId, rec, tr, get, post, patch, must, join, leave, consent, publish, notice, live }
}

function problem(t: Test, res: Res, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

/** The pointers a validation problem names. */
const pointers = (res: Res) => ((res.body?.errors ?? []) as { pointer?: string }[]).map((e) => e.pointer)

/** A meeting's consent records, each with the client details kept beside it (consent_client_details). */
async function consentRows(accountId: string, meetingId?: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select({ record: consentRecords, client: consentClientDetails })
    .from(consentRecords)
    .leftJoin(consentClientDetails, and(eq(consentClientDetails.accountId, consentRecords.accountId), eq(consentClientDetails.recordId, consentRecords.id)))
    .where(and(eq(consentRecords.accountId, accountId), meetingId ? eq(consentRecords.meetingId, meetingId) : undefined))
  return rows
    .map(({ record, client }) => ({ ...record, userAgent: client?.userAgent ?? null, clientNetwork: client?.clientNetwork ?? null }))
    .sort((x, y) => x.at.getTime() - y.at.getTime() || (x.id < y.id ? -1 : 1))
}


/** The SQLSTATE of a database error and its messages, through drizzle's wrappers; undefined when it succeeded. */
async function failure(work: Promise<unknown>): Promise<{ state: string | undefined; messages: string } | undefined> {
  try {
    await work
    return undefined
  } catch (error) {
    let state: string | undefined
    const messages: string[] = []
    for (let e: any = error, depth = 0; e && depth < 5; e = e.cause, depth++) {
      if (typeof e.message === 'string') messages.push(e.message)
      if (!state && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) state = e.code
    }
    return { state, messages: messages.join(' | ') }
  }
}

const grant = (participantId: string, versionId: string, extra: Body = {}) => ({
  participantId,
  scope: 'recording',
  decision: 'granted',
  noticeVersionId: versionId,
  method: 'click_continue',
  ...extra,
})

// Receipts, verified with node:crypto only: no code of the service is used.

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
const unb64 = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))

function verifyJws(receipt: string, jwk: JsonWebKey): boolean {
  const parts = receipt.split('.')
  if (parts.length !== 3) return false
  const [header, payload, signature] = parts as [string, string, string]
  const key = createPublicKey({ key: jwk, format: 'jwk' })
  return verify(null, Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))
}

/** Another value of the same type: the tampering an attacker would try for that claim. */
function tamper(name: string, value: unknown): unknown {
  if (name === 'decision') return value === 'granted' ? 'withdrawn' : 'granted'
  if (name === 'scope') return value === 'recording' ? 'transcript' : 'recording'
  if (typeof value === 'number') return value + 1
  if (value === null) return 'f'.repeat(64)
  if (typeof value === 'string') {
    if (/^\d{4}-\d\d-\d\dT/.test(value)) return new Date(Date.parse(value) - 60_000).toISOString()
    const last = value.at(-1)
    return value.slice(0, -1) + (last === '0' ? '1' : '0')
  }
  return 'tampered'
}

async function publishedKey(api: TestApp): Promise<JsonWebKey & { kid: string }> {
  const jwks = await api.request({ method: 'GET', url: '/.well-known/jwks.json' })
  if (jwks.status !== 200) throw new Error(`jwks: ${jwks.status}`)
  return jwks.body.keys[0]
}

// ---------------------------------------------------------------------------------------------
// 1. Who may answer

t.test('P-MIN-1: who may answer: own user, the client that joined a guest; guardian and verbal answers only by the host or an admin', async (t) => {
  const { api, tenant, host, meetingId, rec, join, consent, get } = await setup(t)
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const kiosk = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const hostP = (await join(host.token)).participantId
  const adaP = (await join(ada.token)).participantId
  const bobP = (await join(bob.token)).participantId
  const guestP = (await join(kiosk.token, { guest: { displayName: 'Walk-in visitor' } })).participantId
  const minorP = (await join(kiosk.token, { guest: { displayName: 'Young visitor', isMinor: true } })).participantId
  const v = rec.currentVersion.id

  const own = await consent(ada.token, grant(adaP, v))
  t.equal(own.status, 201, 'the participant answers for themself', { body: own.body })
  t.equal(own.body.participantId, adaP)
  problem(t, await consent(bob.token, grant(adaP, v)), 403, 'forbidden', 'another attendee answers for ada')
  problem(t, await consent(host.token, grant(adaP, v)), 403, 'forbidden', 'the host clicks continue for ada')
  problem(t, await consent(tenant.admin, grant(adaP, v)), 403, 'forbidden', 'an admin clicks continue for ada')
  problem(t, await consent(ada.token, grant(guestP, v)), 403, 'forbidden', 'an attendee answers for a guest they did not join')
  const forGuest = await consent(kiosk.token, grant(guestP, v))
  t.equal(forGuest.status, 201, 'the client that joined a guest answers for the guest', { body: forGuest.body })
  problem(t, await consent(recorder.token, grant(adaP, v)), 403, 'forbidden', 'the recorder')
  const other = await createTenant(api)
  problem(t, await consent(other.admin, grant(adaP, v)), 404, 'not_found', "another account's admin")
  const strangerAnswer = await consent(stranger.token, grant(adaP, v))
  t.ok([403, 404].includes(strangerAnswer.status), 'a member outside the meeting is refused', { body: strangerAnswer.body })

  // Someone else's word (guardian, verbal): only the host or an admin records it (P-MIN-1).
  const guardian = { participantId: minorP, scope: 'recording', decision: 'granted', noticeVersionId: v, method: 'guardian' }
  problem(t, await consent(kiosk.token, { ...guardian, guardianName: 'Parent' }), 403, 'forbidden', 'the kiosk records a guardian answer')
  problem(t, await consent(ada.token, grant(adaP, v, { method: 'verbal_recorded' })), 403, 'forbidden', 'an attendee records a verbal answer for themself')
  problem(t, await consent(ada.token, grant(adaP, v, { method: 'guardian', guardianName: 'Mum' })), 403, 'forbidden', 'an attendee records a guardian answer')
  const noName = await consent(host.token, guardian)
  problem(t, noName, 400, 'validation_failed', 'guardian without guardianName')
  t.same(pointers(noName), ['/body/guardianName'])
  const nameWithoutGuardian = await consent(ada.token, grant(adaP, v, { guardianName: 'Mum' }))
  problem(t, nameWithoutGuardian, 400, 'validation_failed', 'guardianName with method click_continue')
  t.same(pointers(nameWithoutGuardian), ['/body/guardianName'])
  const verbalWithName = await consent(host.token, grant(bobP, v, { method: 'verbal_recorded', guardianName: 'Someone' }))
  problem(t, verbalWithName, 400, 'validation_failed', 'guardianName with method verbal_recorded')
  const byGuardian = await consent(host.token, { ...guardian, guardianName: 'Pat Parent' })
  t.equal(byGuardian.status, 201, "the host records the guardian's consent for a minor guest", { body: byGuardian.body })
  t.equal(byGuardian.body.method, 'guardian')
  const verbal = await consent(tenant.admin, grant(bobP, v, { method: 'verbal_recorded' }))
  t.equal(verbal.status, 201, "an admin records bob's verbal consent")
  const hostVerbal = await consent(host.token, grant(hostP, v, { method: 'verbal_recorded' }))
  t.equal(hostVerbal.status, 201, 'the host records a verbal answer for themself')

  // Unknown participants: 404 for anyone who may see the meeting, and outside it too.
  problem(t, await consent(ada.token, grant(UNKNOWN_ID, v)), 404, 'not_found', 'unknown participant (a participant asks)')
  problem(t, await consent(host.token, grant(UNKNOWN_ID, v)), 404, 'not_found', 'unknown participant (the host asks)')
  problem(t, await consent(stranger.token, grant(UNKNOWN_ID, v)), 404, 'not_found', 'unknown participant (a stranger asks)')
  problem(t, await consent(host.token, grant(adaP, v), undefined, UNKNOWN_ID), 404, 'not_found', 'unknown meeting')
  const rows = await consentRows(tenant.accountId, meetingId)
  t.same(
    rows.map((row) => [row.participantId, row.method, row.recordedBy, row.guardianName, row.userId]),
    [
      [adaP, 'click_continue', ada.id, null, ada.id],
      [guestP, 'click_continue', kiosk.id, null, null],
      [minorP, 'guardian', host.id, 'Pat Parent', null],
      [bobP, 'verbal_recorded', tenant.adminId, null, bob.id],
      [hostP, 'verbal_recorded', host.id, null, host.id],
    ],
    'exactly the allowed answers were written, each naming who recorded it',
  )
  t.equal((await consentRows(other.accountId)).length, 0, 'nothing in the other account')

  // The guardian's consent shows on the minor's status.
  const status = await get(`/v1/meetings/${meetingId}/consent-status`, host.token)
  const minor = status.body.items.find((item: any) => item.participantId === minorP)
  t.match(minor, { isMinor: true, scopes: { recording: { decision: 'granted', method: 'guardian', recordId: byGuardian.body.id } } })
})

t.test('a participant of another meeting is unknown here (404); a participant who left or whose meeting ended still withdraws (P-DSR-7)', async (t) => {
  const { tenant, host, meetingId, rec, join, leave, consent, live, post, must } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const elsewhere = await live(host.token)
  const adaElsewhere = (await join(ada.token, {}, elsewhere)).participantId
  problem(t, await consent(ada.token, grant(adaElsewhere, rec.currentVersion.id)), 404, 'not_found', "another meeting's participant")
  problem(t, await consent(ada.token, grant(adaP, rec.currentVersion.id), undefined, elsewhere), 404, 'not_found', "this meeting's participant on the other meeting")

  t.equal((await consent(ada.token, grant(adaP, rec.currentVersion.id))).status, 201)
  t.equal((await leave(adaP, ada.token)).status, 204)
  const afterLeaving = await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  t.equal(afterLeaving.status, 201, 'a participant who left withdraws')
  await must(post(`/v1/meetings/${meetingId}/end`, host.token), 200, 'end')
  const afterEnd = await consent(ada.token, { participantId: adaP, scope: 'transcript', decision: 'withdrawn', method: 'explicit_toggle' })
  t.equal(afterEnd.status, 201, 'and after the meeting ended')
  t.same((await consentRows(tenant.accountId, meetingId)).map((row) => row.decision), ['granted', 'withdrawn', 'withdrawn'])
  t.equal((await consentRows(tenant.accountId, elsewhere)).length, 0)
})

// ---------------------------------------------------------------------------------------------
// 2. What an answer must name

t.test('P-GOV-3: an answer names the current notice version of its kind; validation refusals write nothing', async (t) => {
  const { api, tenant, meetingId, rec, tr, join, consent, publish } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const base = { participantId: adaP, scope: 'recording', method: 'click_continue' }

  for (const decision of ['granted', 'notified']) {
    const missing = await consent(ada.token, { ...base, decision })
    problem(t, missing, 400, 'validation_failed', `${decision} without noticeVersionId`)
    t.same(pointers(missing), ['/body/noticeVersionId'], `${decision}: names /body/noticeVersionId`)
  }
  const unknown = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: UNKNOWN_ID })
  problem(t, unknown, 400, 'validation_failed', 'unknown version')
  t.same(pointers(unknown), ['/body/noticeVersionId'])
  const other = await createTenant(api)
  const theirs = await api.request({
    method: 'POST',
    url: `/v1/accounts/${other.accountId}/notices`,
    token: other.admin,
    body: { kind: 'recording', locale: 'en', title: 'R', text: RECORDING_TEXT },
  })
  t.equal(theirs.status, 201)
  problem(t, await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: theirs.body.currentVersion.id }), 400, 'validation_failed', "another account's version")
  const wrongKind = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: tr.currentVersion.id })
  problem(t, wrongKind, 400, 'validation_failed', 'a transcript notice answering recording')
  t.same(pointers(wrongKind), ['/body/noticeVersionId'])
  problem(t, await consent(ada.token, { ...base, scope: 'transcript', decision: 'granted', noticeVersionId: rec.currentVersion.id }), 400, 'validation_failed', 'a recording notice answering transcript')

  const extra = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: rec.currentVersion.id, at: '2020-01-01T00:00:00Z' })
  problem(t, extra, 400, 'validation_failed', 'unknown property (the client cannot set the time)')
  t.ok(pointers(extra).includes('/body/at'))
  const badDecision = await consent(ada.token, { ...base, decision: 'maybe', noticeVersionId: rec.currentVersion.id })
  problem(t, badDecision, 400, 'validation_failed', 'bad decision')
  t.ok(pointers(badDecision).includes('/body/decision'))
  problem(t, await consent(ada.token, { ...base, scope: 'media_monitoring', decision: 'declined' }), 400, 'validation_failed', 'media_monitoring is not a meeting scope')
  problem(t, await consent(ada.token, { ...base, method: 'gpc_signal', decision: 'declined' }), 400, 'validation_failed', 'unknown method')
  problem(t, await consent(ada.token, { ...base, participantId: 'ada', decision: 'declined' }), 400, 'validation_failed', 'malformed participant id')
  problem(t, await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: 'v1' }), 400, 'validation_failed', 'malformed version id')
  problem(t, await consent(ada.token, { scope: 'recording', decision: 'declined', method: 'click_continue' }), 400, 'validation_failed', 'no participant')
  t.equal((await consentRows(tenant.accountId, meetingId)).length, 0, 'no refusal wrote a record')
  t.equal((await auditRows(tenant.accountId, 'consent.recorded')).length, 0, 'nor an audit entry')

  // Withdrawn and declined need no version; declined may name one.
  const withdrawn = await consent(ada.token, { ...base, decision: 'withdrawn' })
  t.equal(withdrawn.status, 201, 'withdrawn without a version')
  t.equal(withdrawn.body.noticeVersionId, null)
  t.equal(withdrawn.body.noticeSha256, null)
  const declined = await consent(ada.token, { ...base, scope: 'transcript', decision: 'declined' })
  t.equal(declined.status, 201, 'declined without a version')
  const declinedNamed = await consent(ada.token, { ...base, scope: 'transcript', decision: 'declined', noticeVersionId: tr.currentVersion.id })
  t.equal(declinedNamed.status, 201, 'declined naming the version')
  t.equal(declinedNamed.body.noticeSha256, sha256(TRANSCRIPT_TEXT))
  const notified = await consent(ada.token, { ...base, decision: 'notified', noticeVersionId: rec.currentVersion.id, method: 'policy_notice' })
  t.equal(notified.status, 201, 'notified naming the version')

  // A superseded version is refused with the id of the current one, which then works.
  const v2 = await publish(rec.id, `${RECORDING_TEXT} Version 2.`)
  const outdated = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: rec.currentVersion.id })
  problem(t, outdated, 409, 'notice_outdated', 'version 1 after version 2 is published')
  t.equal(outdated.body.currentVersionId, v2.currentVersion.id, 'the problem names the current version')
  const v3 = await publish(rec.id, `${RECORDING_TEXT} Version 3.`, { requiresReconsent: false })
  const stillOutdated = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: v2.currentVersion.id })
  problem(t, stillOutdated, 409, 'notice_outdated', 'version 2 after version 3')
  t.equal(stillOutdated.body.currentVersionId, v3.currentVersion.id)
  const current = await consent(ada.token, { ...base, decision: 'granted', noticeVersionId: v3.currentVersion.id })
  t.equal(current.status, 201, 'the current version is accepted')
  t.equal(current.body.noticeSha256, sha256(`${RECORDING_TEXT} Version 3.`))

  t.same(
    (await consentRows(tenant.accountId, meetingId)).map((row) => [row.scope, row.decision, row.noticeVersionId]),
    [
      ['recording', 'withdrawn', null],
      ['transcript', 'declined', null],
      ['transcript', 'declined', tr.currentVersion.id],
      ['recording', 'notified', rec.currentVersion.id],
      ['recording', 'granted', v3.currentVersion.id],
    ],
    'only the accepted answers are stored, each with the version it named',
  )
})

t.test('P-DSR-7: a withdrawal naming the version it was granted to is accepted after a newer version is published', async (t) => {
  // Withdrawing must be as easy as granting: a client that withdraws the consent it gave (to the
  // version it was shown) must not be sent back with notice_outdated.
  const { tenant, meetingId, rec, join, consent, publish, get } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  t.equal((await consent(ada.token, grant(adaP, rec.currentVersion.id))).status, 201)
  await publish(rec.id, `${RECORDING_TEXT} Version 2.`)
  const withdrawal = await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', noticeVersionId: rec.currentVersion.id, method: 'explicit_toggle' })
  t.equal(withdrawal.status, 201, 'the withdrawal is recorded', { body: withdrawal.body })
  const status = await get(`/v1/meetings/${meetingId}/consent-status`, ada.token)
  t.equal(status.body.items[0]?.scopes.recording?.decision, 'withdrawn', 'ada has withdrawn')
  t.same((await consentRows(tenant.accountId, meetingId)).map((row) => row.decision), ['granted', 'withdrawn'])
})

// ---------------------------------------------------------------------------------------------
// 3. The answer and its receipt

t.test('the answer: id, server time, notice hash, and a receipt that verifies offline against /.well-known/jwks.json', async (t) => {
  const { api, clock, tenant, meetingId, rec, join, post } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const at = clock.set('2026-12-01T09:30:15.123Z')
  const answer = await post(`/v1/meetings/${meetingId}/consents`, ada.token, grant(adaP, rec.currentVersion.id))
  t.equal(answer.status, 201, '', { body: answer.body })
  const [row] = await consentRows(tenant.accountId, meetingId)
  t.same(answer.body, {
    id: row!.id,
    meetingId,
    participantId: adaP,
    scope: 'recording',
    decision: 'granted',
    method: 'click_continue',
    noticeVersionId: rec.currentVersion.id,
    at,
    noticeSha256: sha256(RECORDING_TEXT),
    receipt: answer.body.receipt,
  })
  t.equal(row!.at.toISOString(), at, 'stamped by the server clock')

  // The published key, fetched without a token.
  const jwks = await api.request({ method: 'GET', url: '/.well-known/jwks.json' })
  t.equal(jwks.status, 200, 'the JWKS needs no token')
  t.equal(jwks.body.keys.length, 1)
  const jwk = jwks.body.keys[0]
  t.match(jwk, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', x: /^[\w-]{43}$/, kid: String })
  t.notOk('d' in jwk, 'no private part is published')
  const thumbprint = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x: jwk.x })).digest('base64url')
  t.equal(jwk.kid, thumbprint, 'the kid is the RFC 7638 thumbprint of the key')

  const receipt: string = answer.body.receipt
  const [header, payload, signature] = receipt.split('.') as [string, string, string]
  t.match(receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a compact JWS')
  t.same(unb64(header), { alg: 'EdDSA', typ: 'consent-receipt+jwt', kid: jwk.kid }, 'the header names EdDSA and the published kid')
  const claims = unb64(payload)
  t.same(
    claims,
    {
      jti: row!.id,
      sub: adaP,
      acc: tenant.accountId,
      mtg: meetingId,
      scope: 'recording',
      decision: 'granted',
      method: 'click_continue',
      nv: rec.currentVersion.id,
      nh: sha256(RECORDING_TEXT),
      iat: Math.floor(Date.parse(at) / 1000),
      at,
    },
    'the claims: record id, participant, scope, decision, notice version and its text hash, time',
  )
  t.equal(verifyJws(receipt, jwk), true, 'the receipt verifies with the published key')

  // Any one changed claim breaks the signature.
  for (const name of Object.keys(claims)) {
    const changed = { ...claims, [name]: tamper(name, claims[name]) }
    t.not(JSON.stringify(changed), JSON.stringify(claims), `${name} really changed`)
    t.equal(verifyJws(`${header}.${b64json(changed)}.${signature}`, jwk), false, `a changed ${name} fails verification`)
  }
  t.equal(verifyJws(`${header}.${b64json({ ...claims, extra: true })}.${signature}`, jwk), false, 'an added claim fails')
  const { nh: _nh, ...withoutHash } = claims
  t.equal(verifyJws(`${header}.${b64json(withoutHash)}.${signature}`, jwk), false, 'a removed claim fails')
  t.equal(verifyJws(`${b64json({ ...unb64(header), kid: 'other' })}.${payload}.${signature}`, jwk), false, 'a changed header fails')
  // The signature itself altered: one bit flipped, or cut short.
  const bytes = Buffer.from(signature, 'base64url')
  for (const index of [0, 31, 63]) {
    const flipped = Buffer.from(bytes)
    flipped[index] = flipped[index]! ^ 0x01
    t.equal(verifyJws(`${header}.${payload}.${flipped.toString('base64url')}`, jwk), false, `signature byte ${index} flipped fails`)
  }
  t.equal(verifyJws(`${header}.${payload}.${bytes.subarray(0, 63).toString('base64url')}`, jwk), false, 'a truncated signature fails')
  // Another key does not verify it either (the check is real).
  const foreign = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  t.equal(verifyJws(receipt, foreign), false, 'another key does not verify it')

  // A withdrawal without a version: nv and nh are null, and it verifies too.
  const withdrawnAt = clock.set('2026-12-01T09:45:00.000Z')
  const withdrawal = await post(`/v1/meetings/${meetingId}/consents`, ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  t.equal(withdrawal.status, 201)
  const withdrawnClaims = unb64(withdrawal.body.receipt.split('.')[1])
  t.match(withdrawnClaims, { jti: withdrawal.body.id, sub: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle', nv: null, nh: null, at: withdrawnAt })
  t.equal(verifyJws(withdrawal.body.receipt, jwk), true, 'the withdrawal receipt verifies')
  t.equal(verifyJws(`${withdrawal.body.receipt.split('.')[0]}.${payload}.${withdrawal.body.receipt.split('.')[2]}`, jwk), false, "one receipt's signature does not cover another's claims")

  // Every app of the deployment signs with the same published key.
  const second = await buildTestApp(t, { clock })
  t.same((await publishedKey(second)).kid, jwk.kid, 'a second process publishes the same key')
})

// ---------------------------------------------------------------------------------------------
// 4. Idempotency

t.test('Idempotency-Key: a retried consent POST returns the first answer and writes exactly one record', async (t) => {
  const { clock, tenant, host, meetingId, rec, join, consent, publish, live } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const body = grant(adaP, rec.currentVersion.id)
  const key = { 'idempotency-key': 'consent-ada-1' }

  const first = await consent(ada.token, body, key)
  t.equal(first.status, 201)
  t.notOk(first.headers['idempotent-replayed'], 'the first answer is not a replay')
  clock.tick(30)
  const retry = await consent(ada.token, body, key)
  t.equal(retry.status, 201, 'the retry answers 201 too')
  t.equal(retry.headers['idempotent-replayed'], 'true', 'marked as a replay')
  t.same(retry.body, first.body, 'the same answer: same id, same time, same receipt')
  t.equal(retry.body.receipt, first.body.receipt)
  let rows = await consentRows(tenant.accountId, meetingId)
  t.equal(rows.length, 1, 'one consent_records row')
  t.equal(rows[0]!.id, first.body.id)
  t.equal(rows[0]!.requestKey, `${ada.id}:consent-ada-1`, 'the row carries the request key')
  t.equal((await auditRows(tenant.accountId, 'consent.recorded')).length, 1, 'one audit entry')

  const reused = await consent(ada.token, { ...body, method: 'explicit_toggle' }, key)
  problem(t, reused, 422, 'idempotency_key_reused', 'the same key with another body')
  const elsewhere = await live(host.token)
  problem(t, await consent(ada.token, body, key, elsewhere), 422, 'idempotency_key_reused', 'the same key and body for another meeting')
  t.equal((await consentRows(tenant.accountId, meetingId)).length, 1, 'the 422 wrote nothing')

  // Another key is another request; without a key every POST is a new record.
  t.equal((await consent(ada.token, body, { 'idempotency-key': 'consent-ada-2' })).status, 201)
  t.equal((await consent(ada.token, body)).status, 201)
  t.equal((await consent(ada.token, body)).status, 201)
  rows = await consentRows(tenant.accountId, meetingId)
  t.equal(rows.length, 4, 'two keyed records and two unkeyed ones')
  t.same(rows.map((row) => row.requestKey), [`${ada.id}:consent-ada-1`, `${ada.id}:consent-ada-2`, null, null])

  // The record is the answer store: no idempotency_keys row is written for a consent POST, so
  // nothing between the commit and the answer can be lost.
  const { db } = await testDatabase()
  t.same(await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.accountId, tenant.accountId)), [], 'no separate stored answer')

  // What was true at the first run need not be now: a retry after a new notice version still
  // answers the first record, and a new request is checked against the new version.
  await publish(rec.id, `${RECORDING_TEXT} Revised.`, { requiresReconsent: true })
  clock.tick(60)
  const late = await consent(ada.token, body, key)
  t.equal(late.status, 201, 'a retry after the notice changed answers 201')
  t.equal(late.headers['idempotent-replayed'], 'true')
  t.same(late.body, first.body, 'with the first record and receipt')
  problem(t, await consent(ada.token, body, { 'idempotency-key': 'consent-ada-3' }), 409, 'notice_outdated', 'a new request answers the old version')
  t.equal((await consentRows(tenant.accountId, meetingId)).length, 4, 'and writes nothing')
  t.equal((await auditRows(tenant.accountId, 'consent.recorded')).length, 4, 'one audit entry per record')
})

t.test('Idempotency-Key: ten concurrent identical POSTs create exactly one record, and all ten get its answer', async (t) => {
  const { tenant, meetingId, rec, join, post } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const body = grant(adaP, rec.currentVersion.id)
  for (let round = 0; round < 3; round++) {
    const headers = { 'idempotency-key': `race-${round}` }
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(`/v1/meetings/${meetingId}/consents`, ada.token, body, headers)))
    const created = answers.filter((res) => res.status === 201)
    t.comment(`round ${round}: ${answers.map((res) => (res.headers['idempotent-replayed'] ? 'replay' : res.status)).join(' ')}`)
    t.equal(created.length, 10, `round ${round}: every one answers 201: an overlapping retry waits for the first, never 409`)
    t.equal(answers.filter((res) => res.headers['idempotent-replayed'] !== 'true').length, 1, `round ${round}: one wrote, nine are replays`)
    t.equal(new Set(created.map((res) => res.body.id)).size, 1, `round ${round}: every 201 is the same record`)
    t.equal(new Set(created.map((res) => res.body.receipt)).size, 1, `round ${round}: with the same receipt`)
    const rows = (await consentRows(tenant.accountId, meetingId)).filter((row) => row.requestKey === `${ada.id}:race-${round}`)
    t.equal(rows.length, 1, `round ${round}: exactly one row`)
    t.equal(rows[0]!.id, created[0]!.body.id)
  }
  t.equal((await consentRows(tenant.accountId, meetingId)).length, 3, 'three rounds, three records')
  t.equal((await auditRows(tenant.accountId, 'consent.recorded')).length, 3, 'three audit entries')
})

// ---------------------------------------------------------------------------------------------
// 5. Append-only history

t.test('a consent POST does not wait for the audit chain: a service that stops finishes the run the POST started, leaving nothing pending', async (t) => {
  const { api, tenant, rec, join, consent } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const granted = await consent(ada.token, grant(adaP, rec.currentVersion.id))
  t.equal(granted.status, 201)
  await api.app.close()
  const { db } = await testDatabase()
  t.same(await db.select().from(auditPending).where(eq(auditPending.accountId, tenant.accountId)), [], 'nothing of the account is left pending')
  const trail = await db.select().from(auditEntries).where(eq(auditEntries.accountId, tenant.accountId))
  t.ok(trail.some((entry) => entry.action === 'consent.recorded' && (entry.details as { recordId?: string }).recordId === granted.body.id), 'the consent is in the trail')
})

t.test('P-DSR-7: withdrawing is one POST like granting; a new row, the grant unchanged; consent_records refuses UPDATE and DELETE', async (t) => {
  const { clock, tenant, meetingId, rec, join, consent, get } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const granted = await consent(ada.token, grant(adaP, rec.currentVersion.id))
  t.equal(granted.status, 201)
  const [grantRow] = await consentRows(tenant.accountId, meetingId)
  const withdrawnAt = clock.tick(120)
  const withdrawn = await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'click_continue' })
  t.equal(withdrawn.status, 201, 'the same request shape, the same method, no extra step')
  t.equal(withdrawn.body.at, plus(withdrawnAt, 1))
  t.not(withdrawn.body.id, granted.body.id, 'a new record')

  const rows = await consentRows(tenant.accountId, meetingId)
  t.equal(rows.length, 2, 'the withdrawal is a new row')
  t.same(rows[0], grantRow, 'the grant row is exactly as written')
  const history = await get(`/v1/meetings/${meetingId}/consents`, ada.token)
  t.same(history.body.items.map((item: any) => [item.id, item.decision]), [
    [granted.body.id, 'granted'],
    [withdrawn.body.id, 'withdrawn'],
  ], 'the history keeps the grant before the withdrawal')

  const { db } = await testDatabase()
  const theGrant = and(eq(consentRecords.accountId, tenant.accountId), eq(consentRecords.id, granted.body.id))
  const update = await failure(db.update(consentRecords).set({ decision: 'withdrawn' }).where(theGrant))
  t.equal(update?.state, '42501', 'UPDATE is refused by the trigger')
  t.match(update?.messages, /consent_records is append-only/)
  const backdate = await failure(db.update(consentRecords).set({ at: new Date('2026-01-01T00:00:00Z') }).where(eq(consentRecords.meetingId, meetingId)))
  t.equal(backdate?.state, '42501', 'moving the time is refused')
  const remove = await failure(db.delete(consentRecords).where(theGrant))
  t.equal(remove?.state, '42501', 'DELETE is refused')
  const removeAll = await failure(db.delete(consentRecords).where(eq(consentRecords.accountId, tenant.accountId)))
  t.equal(removeAll?.state, '42501', 'DELETE of the whole history is refused')
  t.same(await consentRows(tenant.accountId, meetingId), rows, 'the history is unchanged')
})

t.test('consent_records holds only method words: the gate writes them into its facts unescaped', async (t) => {
  const { tenant, meetingId, rec, join } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const { db } = await testDatabase()
  const row = (method: string) => ({
    accountId: tenant.accountId,
    id: newId(),
    meetingId,
    participantId: adaP,
    scope: 'recording',
    decision: 'granted' as const,
    method,
    noticeVersionId: rec.currentVersion.id,
    at: new Date(),
  })
  for (const method of ['click_continue","x', 'a\\b', 'Click', '', 'x'.repeat(41)]) {
    const refused = await failure(db.insert(consentRecords).values(row(method)))
    t.equal(refused?.state, '23514', `${JSON.stringify(method)} is refused by consent_records_method_check`)
  }
  t.same(await consentRows(tenant.accountId, meetingId), [], 'nothing was written')
})

// ---------------------------------------------------------------------------------------------
// 6. Reading the history

t.test('GET consents: the history pages by cursor, filters by participant and scope; asOf gives the state at an instant', async (t) => {
  const { clock, tenant, meetingId, rec, tr, join, consent, get, post } = await setup(t)
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const bobP = (await join(bob.token)).participantId
  const url = `/v1/meetings/${meetingId}/consents`

  const t1 = clock.set('2026-12-01T10:00:00.000Z')
  const adaGrant = await post(url, ada.token, grant(adaP, rec.currentVersion.id))
  clock.set(plus(t1, 10))
  const adaTr = await post(url, ada.token, { participantId: adaP, scope: 'transcript', decision: 'granted', noticeVersionId: tr.currentVersion.id, method: 'click_continue' })
  clock.set(plus(t1, 20))
  const bobGrant = await post(url, bob.token, grant(bobP, rec.currentVersion.id))
  const t2 = clock.set(plus(t1, 60))
  const adaWithdraw = await post(url, ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  clock.set(plus(t1, 90))
  const bobDecline = await post(url, bob.token, { participantId: bobP, scope: 'transcript', decision: 'declined', method: 'click_continue' })
  for (const res of [adaGrant, adaTr, bobGrant, adaWithdraw, bobDecline]) t.equal(res.status, 201)
  const all = [adaGrant, adaTr, bobGrant, adaWithdraw, bobDecline].map((res) => res.body.id)

  const history = await get(url, tenant.admin)
  t.equal(history.status, 200)
  t.same(history.body.items.map((item: any) => item.id), all, 'every record, oldest first')
  t.equal(history.body.nextCursor, null)
  const { noticeSha256: _h, receipt: _r, ...record } = adaGrant.body
  t.same(history.body.items[0], record, 'a history item is the record without the receipt')

  // Pages of two follow the cursor to the end.
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: Res = await get(`${url}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, tenant.admin)
    t.equal(page.status, 200)
    seen.push(...page.body.items.map((item: any) => item.id))
    cursor = page.body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3)
  t.same(seen, all, 'the pages list every record once, in order')
  problem(t, await get(`${url}?cursor=nonsense`, tenant.admin), 400, 'validation_failed', 'a bad cursor')

  const ids = async (query: string) => {
    const res = await get(`${url}?${query}`, tenant.admin)
    t.equal(res.status, 200, query, { body: res.body })
    return res.body.items.map((item: any) => item.id)
  }
  t.same(await ids(`participantId=${adaP}`), [all[0], all[1], all[3]], "ada's records")
  t.same(await ids('scope=transcript'), [all[1], all[4]], 'transcript records')
  t.same(await ids(`participantId=${bobP}&scope=recording`), [all[2]], "bob's recording records")
  t.same(await ids(`participantId=${UNKNOWN_ID}`), [], 'an unknown participant has none')
  problem(t, await get(`${url}?scope=privacy`, tenant.admin), 400, 'validation_failed', 'an unknown scope')

  // asOf: for each participant and scope, the record that was latest at that instant.
  const asOf = (instant: string, extra = '') => ids(`asOf=${encodeURIComponent(instant)}${extra}`)
  t.same(await asOf(plus(t1, -1)), [], 'before the first record: nothing')
  t.same(await asOf(t1), [all[0]], 'at t1 exactly: the grant')
  t.same(await asOf(plus(t1, 30)), [all[0], all[1], all[2]], 'between grant and withdrawal: granted')
  t.same(await asOf(plus(t2, -0.001)), [all[0], all[1], all[2]], 'a millisecond before the withdrawal: still granted')
  t.same(await asOf(t2), [all[1], all[2], all[3]], 'at the withdrawal: withdrawn replaces the grant')
  t.same(await asOf(plus(t1, 3600)), [all[1], all[2], all[3], all[4]], 'after everything: the latest per participant and scope')
  t.same(await asOf('2026-12-01T11:00:30+01:00'), [all[0], all[1], all[2]], 'an instant with an offset (10:00:30Z)')
  t.same(await asOf(plus(t1, 30), `&participantId=${adaP}&scope=recording`), [all[0]], 'asOf with filters: ada granted then')
  t.same(await asOf(plus(t2, 1), `&participantId=${adaP}&scope=recording`), [all[3]], 'and withdrawn after t2')
  const items = (await get(`${url}?asOf=${encodeURIComponent(plus(t1, 30))}&participantId=${adaP}&scope=recording`, tenant.admin)).body.items
  t.equal(items[0].decision, 'granted')
  const asOfPage = await get(`${url}?asOf=${encodeURIComponent(plus(t1, 3600))}&limit=3`, tenant.admin)
  t.same(asOfPage.body.items.map((item: any) => item.id), [all[1], all[2], all[3]], 'asOf pages too')
  const asOfNext = await get(`${url}?asOf=${encodeURIComponent(plus(t1, 3600))}&limit=3&cursor=${asOfPage.body.nextCursor}`, tenant.admin)
  t.same(asOfNext.body.items.map((item: any) => item.id), [all[4]])
  problem(t, await get(`${url}?asOf=yesterday`, tenant.admin), 400, 'validation_failed', 'a malformed asOf')
})

t.test('GET consents: an attendee reads only their own; host, cohost, admin, recorder read all; others 404', async (t) => {
  const { api, tenant, host, meetingId, rec, join, consent, get, patch, must } = await setup(t)
  const ada = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const deputy = await tenant.user(['admin', 'member'])
  const adaP = (await join(ada.token)).participantId
  const bobP = (await join(bob.token)).participantId
  const deputyJoin = await join(deputy.token, { role: 'cohost' })
  t.equal(deputyJoin.role, 'cohost')
  const a = await consent(ada.token, grant(adaP, rec.currentVersion.id))
  const b = await consent(bob.token, grant(bobP, rec.currentVersion.id))
  t.equal(a.status, 201)
  t.equal(b.status, 201)
  const url = `/v1/meetings/${meetingId}/consents`
  const ids = (res: Res) => res.body.items.map((item: any) => item.id)

  const own = await get(url, ada.token)
  t.equal(own.status, 200)
  t.same(ids(own), [a.body.id], 'an attendee sees only their own records')
  t.same(ids(await get(`${url}?participantId=${adaP}`, ada.token)), [a.body.id], 'naming themself is fine')
  problem(t, await get(`${url}?participantId=${bobP}`, ada.token), 403, 'forbidden', "an attendee asks for bob's")
  t.same(ids(await get(`${url}?asOf=${encodeURIComponent('2027-01-01T00:00:00Z')}`, ada.token)), [a.body.id], 'asOf keeps the restriction')

  for (const [who, token] of [
    ['the host', host.token],
    ['an admin', tenant.admin],
    ['the recorder', recorder.token],
  ] as const) {
    const res = await get(url, token)
    t.equal(res.status, 200, who)
    t.same(ids(res), [a.body.id, b.body.id], `${who} sees every record`)
  }
  // A cohost who is no longer an admin still reads all of them.
  await must(patch(`/v1/accounts/${tenant.accountId}/users/${deputy.id}`, tenant.admin, { roles: ['member'] }), 200, 'demote')
  const cohost = tokenFor(api.config, { sub: deputy.id, acc: tenant.accountId, roles: ['member'] })
  t.same(ids(await get(url, cohost)), [a.body.id, b.body.id], 'a cohost sees every record')
  t.same(ids(await get(`${url}?participantId=${bobP}`, cohost)), [b.body.id], "and may ask for bob's")

  problem(t, await get(url, stranger.token), 404, 'not_found', 'a member who is not a participant')
  const other = await createTenant(api)
  problem(t, await get(url, other.admin), 404, 'not_found', "another account's admin")
  problem(t, await get(`/v1/meetings/${UNKNOWN_ID}/consents`, host.token), 404, 'not_found', 'an unknown meeting')
})

// ---------------------------------------------------------------------------------------------
// 7. Current status

t.test('P-MIN-1: consent-status: each participant by name and role, per scope (null when never answered), isMinor shown; an attendee sees only themself', async (t) => {
  const { api, tenant, host, meetingId, rec, tr, join, consent, get, notice } = await setup(t)
  const attention = await notice('attention_tracking', 'en', 'Attention is tracked while the host shares a screen.')
  const ada = await tenant.user(['member'], { displayName: 'Ada Lovelace' })
  const bob = await tenant.user(['member'], { isMinor: true, displayName: 'Bob' })
  const kiosk = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const hostP = (await join(host.token)).participantId
  const adaP = (await join(ada.token)).participantId
  const bobP = (await join(bob.token)).participantId
  const minorP = (await join(kiosk.token, { guest: { displayName: 'Kid', isMinor: true } })).participantId

  const adaRec = await consent(ada.token, grant(adaP, rec.currentVersion.id))
  const adaTr = await consent(ada.token, { participantId: adaP, scope: 'transcript', decision: 'declined', noticeVersionId: tr.currentVersion.id, method: 'explicit_toggle' })
  const adaAtt = await consent(ada.token, { participantId: adaP, scope: 'attention_tracking', decision: 'notified', noticeVersionId: attention.currentVersion.id, method: 'policy_notice' })
  const minorRec = await consent(host.token, { participantId: minorP, scope: 'recording', decision: 'granted', noticeVersionId: rec.currentVersion.id, method: 'guardian', guardianName: 'Parent' })
  const adaWithdraw = await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  for (const res of [adaRec, adaTr, adaAtt, minorRec, adaWithdraw]) t.equal(res.status, 201, '', { body: res.body })
  const state = (res: Res) => ({ decision: res.body.decision, at: res.body.at, noticeVersionId: res.body.noticeVersionId, method: res.body.method, recordId: res.body.id })

  const url = `/v1/meetings/${meetingId}/consent-status`
  const status = await get(url, host.token)
  t.equal(status.status, 200)
  const byId = new Map(status.body.items.map((item: any) => [item.participantId, item]))
  t.equal(status.body.items.length, 4, 'every participant')
  t.same(byId.get(hostP), { participantId: hostP, displayName: 'Test User', role: 'host', isMinor: false, scopes: { recording: null, transcript: null, attentionTracking: null } }, 'the host never answered')
  t.same(byId.get(adaP), {
    participantId: adaP,
    displayName: 'Ada Lovelace',
    role: 'attendee',
    isMinor: false,
    scopes: { recording: state(adaWithdraw), transcript: state(adaTr), attentionTracking: state(adaAtt) },
  }, "ada: the latest per scope (the withdrawal after the grant)")
  t.same(byId.get(bobP), { participantId: bobP, displayName: 'Bob', role: 'attendee', isMinor: true, scopes: { recording: null, transcript: null, attentionTracking: null } }, 'bob, a minor user, never answered')
  t.same(byId.get(minorP), { participantId: minorP, displayName: 'Kid', role: 'attendee', isMinor: true, scopes: { recording: state(minorRec), transcript: null, attentionTracking: null } }, 'the minor, with the guardian grant')

  const own = await get(url, ada.token)
  t.equal(own.status, 200)
  t.same(own.body.items, [byId.get(adaP)], 'an attendee sees only themself')
  const bobsOwn = await get(url, bob.token)
  t.same(bobsOwn.body.items.map((item: any) => item.participantId), [bobP])
  t.same((await get(url, tenant.admin)).body, status.body, 'an admin sees all')
  t.same((await get(url, recorder.token)).body, status.body, 'the recorder sees all')
  problem(t, await get(url, stranger.token), 404, 'not_found', 'a non-participant member')
  problem(t, await get(url, kiosk.token), 404, 'not_found', "the client that joined a guest is not a participant itself")
  const other = await createTenant(api)
  problem(t, await get(url, other.admin), 404, 'not_found', "another account's admin")
})

// ---------------------------------------------------------------------------------------------
// 8. The join answer

t.test('P-GOV-3: the join answer lists the notices not answered in their current version, and the consent state', async (t) => {
  const { tenant, rec, tr, join, leave, consent, publish } = await setup(t)
  const ada = await tenant.user(['member'])
  const rejoin = async (participantId: string) => {
    t.equal((await leave(participantId, ada.token)).status, 204)
    return join(ada.token)
  }
  const kinds = (answer: any) => answer.notices.map((n: any) => [n.kind, n.versionId])

  const first = await join(ada.token)
  const adaP = first.participantId
  t.same(kinds(first), [['recording', rec.currentVersion.id], ['transcript', tr.currentVersion.id]], 'both notices to answer')
  t.same(first.consent, { recording: 'none', transcript: 'none', attentionTracking: 'none' })
  t.match(first.notices[0], { noticeId: rec.id, text: RECORDING_TEXT, sha256: sha256(RECORDING_TEXT), version: 1 })

  t.equal((await consent(ada.token, grant(adaP, rec.currentVersion.id))).status, 201)
  const second = await rejoin(adaP)
  t.equal(second.participantId, adaP)
  t.same(kinds(second), [['transcript', tr.currentVersion.id]], 'the answered recording notice is no longer listed')
  t.same(second.consent, { recording: 'granted', transcript: 'none', attentionTracking: 'none' })

  // A new version is listed again, though the last decision stays granted (to version 1).
  const v2 = await publish(rec.id, `${RECORDING_TEXT} Now kept for 90 days.`, { requiresReconsent: true })
  const third = await rejoin(adaP)
  t.same(kinds(third), [['recording', v2.currentVersion.id], ['transcript', tr.currentVersion.id]], 'the new version is listed again')
  t.equal(third.notices[0].version, 2)
  t.equal(third.notices[0].requiresReconsent, true)
  t.equal(third.consent.recording, 'granted', 'the latest decision')

  t.equal((await consent(ada.token, grant(adaP, v2.currentVersion.id))).status, 201)
  t.equal((await consent(ada.token, { participantId: adaP, scope: 'transcript', decision: 'declined', noticeVersionId: tr.currentVersion.id, method: 'click_continue' })).status, 201)
  const fourth = await rejoin(adaP)
  t.same(kinds(fourth), [], 'both answered in their current version (a decline is an answer)')
  t.same(fourth.consent, { recording: 'granted', transcript: 'declined', attentionTracking: 'none' })

  // A withdrawal names no version: the notice is shown again at the next join.
  t.equal((await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })).status, 201)
  const fifth = await rejoin(adaP)
  t.same(kinds(fifth), [['recording', v2.currentVersion.id]])
  t.same(fifth.consent, { recording: 'withdrawn', transcript: 'declined', attentionTracking: 'none' })

  // Another participant's answers do not count for ada, nor ada's for them.
  const bob = await tenant.user(['member'])
  const bobJoin = await join(bob.token)
  t.same(kinds(bobJoin), [['recording', v2.currentVersion.id], ['transcript', tr.currentVersion.id]])
  t.same(bobJoin.consent, { recording: 'none', transcript: 'none', attentionTracking: 'none' })
})

// ---------------------------------------------------------------------------------------------
// 9. Audit and what is kept about the client

t.test('every consent writes a consent.recorded entry in the account chain', async (t) => {
  const { api, tenant, host, meetingId, rec, join, consent } = await setup(t)
  const ada = await tenant.user(['member'])
  const kiosk = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const guestP = (await join(kiosk.token, { guest: { displayName: 'Guest', isMinor: true } })).participantId
  const made = [
    await consent(ada.token, grant(adaP, rec.currentVersion.id)),
    await consent(host.token, grant(guestP, rec.currentVersion.id, { method: 'guardian', guardianName: 'Guardian Name' })),
    await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' }),
  ]
  for (const res of made) t.equal(res.status, 201)
  problem(t, await consent(ada.token, grant(guestP, rec.currentVersion.id)), 403, 'forbidden', 'a refusal')

  const rows = await auditRows(tenant.accountId, 'consent.recorded')
  t.equal(rows.length, 3, 'one entry per record, none for the refusal')
  t.same(
    rows.map((row) => [row.actorType, row.actorId, row.targetType, row.targetId, row.at.toISOString()]),
    [
      ['user', ada.id, 'participant', adaP, made[0]!.body.at],
      ['user', host.id, 'participant', guestP, made[1]!.body.at],
      ['user', ada.id, 'participant', adaP, made[2]!.body.at],
    ],
  )
  t.same(rows[1]!.details, {
    meetingId,
    recordId: made[1]!.body.id,
    scope: 'recording',
    decision: 'granted',
    method: 'guardian',
    noticeVersionId: rec.currentVersion.id,
  })
  t.notMatch(JSON.stringify(rows.map((row) => row.details)), /Guardian Name/, "the guardian's name stays out of the audit details")
  t.same(rows[2]!.details, { meetingId, recordId: made[2]!.body.id, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle', noticeVersionId: null })

  const trail = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit?limit=100`, token: tenant.admin })
  t.same(
    trail.body.items.filter((entry: any) => entry.action === 'consent.recorded').map((entry: any) => entry.details.recordId),
    made.map((res) => res.body.id),
    'listed in the account trail',
  )
  const verified = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit/verify`, token: tenant.admin })
  t.equal(verified.body.valid, true, 'the chain verifies')
})

t.test('the record keeps the client network coarsely (/24, /48), never the address', async (t) => {
  const { api, clock, tenant, meetingId, rec, join, consent } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const url = `/v1/meetings/${meetingId}/consents`
  const from = async (remoteAddress: string, userAgent: string) => {
    clock.tick(1)
    const response = await api.app.inject({
      method: 'POST',
      url,
      remoteAddress,
      headers: { authorization: `Bearer ${ada.token}`, 'content-type': 'application/json', 'user-agent': userAgent },
      payload: JSON.stringify({ participantId: adaP, scope: 'recording', decision: 'declined', method: 'click_continue' }),
    })
    const problems = checkResponse({ method: 'POST', url, status: response.statusCode, contentType: response.headers['content-type'] as string, body: response.json() })
    t.same(problems, [], 'the answer matches the OpenAPI document')
    t.equal(response.statusCode, 201)
    const rows = await consentRows(tenant.accountId, meetingId)
    return rows.find((row) => row.id === response.json().id)!
  }

  const v4 = await from('203.0.113.77', 'Consentry-Test/1.0')
  t.equal(v4.clientNetwork, '203.0.113.0/24', 'IPv4 to its /24')
  t.equal(v4.userAgent, 'Consentry-Test/1.0')
  const mapped = await from('::ffff:198.51.100.9', 'x')
  t.equal(mapped.clientNetwork, '198.51.100.0/24', 'an IPv4-mapped IPv6 address to its IPv4 /24')
  const v6 = await from('2001:db8:abcd:12:1:2:3:4', 'x')
  t.equal(v6.clientNetwork, '2001:db8:abcd::/48', 'IPv6 to its /48')
  const longUa = await from('192.0.2.1', 'U'.repeat(1000))
  t.equal(longUa.userAgent?.length, 300, 'the user agent is cut to 300 characters')

  const viaHelper = await consent(ada.token, { participantId: adaP, scope: 'transcript', decision: 'declined', method: 'click_continue' })
  t.equal(viaHelper.status, 201)
  const rows = await consentRows(tenant.accountId, meetingId)
  t.equal(rows.find((row) => row.id === viaHelper.body.id)!.clientNetwork, '127.0.0.0/24', 'the default inject address, coarsened')
  for (const row of rows) {
    t.notMatch(row.clientNetwork ?? '', /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/, `${row.clientNetwork}: never a full IPv4 address`)
    t.notOk(['203.0.113.77', '198.51.100.9', '192.0.2.1', '127.0.0.1'].some((address) => (row.clientNetwork ?? '').includes(address)), 'no full address inside')
  }
  t.notMatch(JSON.stringify(await auditRows(tenant.accountId, 'consent.recorded')), /203\.0\.113\.77|198\.51\.100\.9/, 'nor in the audit trail')
})

t.test('a consent POST writes its record and audit event in one statement, stamped by the database clock after the meeting lock (rule 8)', async (t) => {
  // No injected clock: the app's instants come from the database's clock.
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const post = (url: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const notice = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: RECORDING_TEXT })
  t.equal(notice.status, 201)
  const meeting = await post('/v1/meetings', host.token, { topic: 'One statement', scheduledStart: new Date().toISOString(), durationMinutes: 30, timeZone: 'UTC' })
  t.equal((await post(`/v1/meetings/${meeting.body.id}/start`, host.token)).status, 200)
  const joined = await post(`/v1/meetings/${meeting.body.id}/participants`, host.token, {})
  const body = { participantId: joined.body.participantId, scope: 'recording', decision: 'granted', noticeVersionId: notice.body.currentVersion.id, method: 'click_continue' }

  const before = Date.now()
  const { result, queries } = await countQueries(() => post(`/v1/meetings/${meeting.body.id}/consents`, host.token, body, { 'idempotency-key': 'one-statement' }))
  t.equal(result.status, 201)
  const writes = queries.filter((q) => /insert into consent_records/i.test(q))
  t.equal(writes.length, 1, 'one statement writes the record', { queries })
  t.match(writes[0], /for key share/i, 'it locks the meeting row')
  t.match(writes[0], /insert into audit_pending/i, 'and inserts the audit event')
  t.match(writes[0], /clock_timestamp\(\)/, 'and takes the instant on the database clock')
  const reads = queries.filter((q) => !/audit_(heads|pending|entries)|from "users"|insert into consent_records/i.test(q))
  t.equal(reads.length, 1, 'one read checks meeting, participant, notice version and an earlier run of the key', { reads })
  t.notOk(queries.some((q) => /idempotency_keys/.test(q)), 'the record carries the key: no claim, no stored answer')
  const outsideChaining = queries.filter((q) => !/audit_heads|from "audit_pending"|"audit_entries"/i.test(q))
  t.equal(outsideChaining.length, 2, "the read and the write (the token's user is in memory); the rest is audit chaining that concurrent POSTs share", { outsideChaining })

  const at = Date.parse(result.body.at)
  t.ok(at >= before - 1000 && at <= Date.now() + 1000, 'the instant is now, on the database clock')
  const { db } = await testDatabase()
  const [stored] = await db.select().from(consentRecords).where(and(eq(consentRecords.accountId, tenant.accountId), eq(consentRecords.id, result.body.id)))
  t.equal(stored!.at.toISOString(), result.body.at, 'the answer is what was stored')
  const entries = (await auditRows(tenant.accountId, 'consent.recorded')).filter((row) => row.targetId === body.participantId)
  t.equal(entries.length, 1, 'the audit event is chained before the answer')
  t.equal(entries[0]!.at.toISOString(), result.body.at, 'at the record\'s instant')
  t.same(entries[0]!.details, { meetingId: meeting.body.id, recordId: result.body.id, scope: 'recording', decision: 'granted', method: 'click_continue', noticeVersionId: body.noticeVersionId })

  const retry = await countQueries(() => post(`/v1/meetings/${meeting.body.id}/consents`, host.token, body, { 'idempotency-key': 'one-statement' }))
  t.equal(retry.result.status, 201)
  t.equal(retry.result.body.id, result.body.id, 'a retry answers the same record')
  t.equal(retry.queries.length, 1, 'a retry takes the one read', { queries: retry.queries })
  t.equal((await db.select().from(consentRecords).where(eq(consentRecords.meetingId, meeting.body.id))).length, 1, 'and writes nothing')
})

// ---------------------------------------------------------------------------------------------
// Rules that bind (issue 12)

t.test("P-REC-1: no proxy overrides an adult's own answer; guardian is for minors only", async (t) => {
  const { tenant, host, meetingId, rec, join, consent } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const dialIn = (await join(host.token, { guest: { displayName: 'Dial-in caller' } })).participantId
  const minor = (await join(host.token, { guest: { displayName: 'Young caller', isMinor: true } })).participantId
  const v = rec.currentVersion.id

  // Ada declines for herself; the host then tries to record her as granting.
  const declined = await consent(ada.token, { participantId: adaP, scope: 'recording', decision: 'declined', method: 'explicit_toggle' })
  t.equal(declined.status, 201)
  const asGuardian = await consent(host.token, grant(adaP, v, { method: 'guardian', guardianName: 'Someone' }))
  problem(t, asGuardian, 400, 'validation_failed', 'guardian for an adult')
  t.same(pointers(asGuardian), ['/body/method'])
  problem(t, await consent(host.token, grant(adaP, v, { method: 'verbal_recorded' })), 409, 'proxy_not_allowed', "the host's word over ada's own decline")
  problem(t, await consent(tenant.admin, grant(adaP, v, { method: 'verbal_recorded' })), 409, 'proxy_not_allowed', "an admin's word neither")
  // Her own answer binds only its scope; her own later answer changes it.
  t.equal((await consent(host.token, { participantId: adaP, scope: 'transcript', decision: 'declined', method: 'verbal_recorded' })).status, 201, 'a scope she has not answered herself')
  t.equal((await consent(ada.token, grant(adaP, v))).status, 201, 'only she changes her own decision')

  // A recording capturing her while she had declined is still refused: the latest record is hers.
  const rows = await consentRows(tenant.accountId, meetingId)
  t.same(rows.filter((row) => row.participantId === adaP && row.scope === 'recording').map((row) => [row.decision, row.method]), [['declined', 'explicit_toggle'], ['granted', 'click_continue']], 'no proxy record was written')

  // A dial-in caller has no client of their own: the host's note of their verbal answer stands,
  // and may be corrected by the host as long as they never answered themselves.
  t.equal((await consent(host.token, grant(dialIn, v, { method: 'verbal_recorded' }))).status, 201)
  t.equal((await consent(host.token, { participantId: dialIn, scope: 'recording', decision: 'withdrawn', method: 'verbal_recorded' })).status, 201)
  // Once the caller answers through the client that joined them, their own answer binds.
  t.equal((await consent(host.token, grant(dialIn, v))).status, 201, 'their own answer (click_continue through the joining client)')
  problem(t, await consent(host.token, { participantId: dialIn, scope: 'recording', decision: 'withdrawn', method: 'verbal_recorded' }), 409, 'proxy_not_allowed', 'then a proxy cannot override it')

  // A minor: the guardian's word is what counts, even after the minor's own click.
  t.equal((await consent(host.token, { participantId: minor, scope: 'recording', decision: 'declined', method: 'click_continue' })).status, 201)
  t.equal((await consent(host.token, grant(minor, v, { method: 'guardian', guardianName: 'Pat Parent' }))).status, 201, "a guardian answers for a minor over the minor's own")
})

t.test('receipt keys rotate: a replay returns the receipt first returned; the JWKS keeps every key', async (t) => {
  const { api, clock, tenant, meetingId, rec, join } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const oldKey = api.config.receiptSigningKey!
  const send = (app: TestApp, key: string, body: Body) => {
    clock.tick(1)
    return app.request({ method: 'POST', url: `/v1/meetings/${meetingId}/consents`, token: ada.token, body, headers: { 'idempotency-key': key } })
  }
  const first = await send(api, 'rotate-1', grant(adaP, rec.currentVersion.id))
  t.equal(first.status, 201)
  const oldKid = JSON.parse(Buffer.from(first.body.receipt.split('.')[0], 'base64url').toString()).kid

  // The deployment rotates: a new current key, the old one retired.
  const newKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const rotated = await buildTestApp(t, { clock, env: { RECEIPT_SIGNING_KEY: newKey, RECEIPT_RETIRED_KEYS: oldKey } })
  const jwks = (await rotated.request({ method: 'GET', url: '/.well-known/jwks.json' })).body.keys
  t.equal(jwks.length, 2, 'the current key and the retired one are published')
  const newKid = jwks[0].kid
  t.not(newKid, oldKid)
  t.ok(jwks.some((key: { kid: string }) => key.kid === oldKid), 'the retired key still verifies old receipts')

  const replay = await send(rotated, 'rotate-1', grant(adaP, rec.currentVersion.id))
  t.equal(replay.status, 201)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(replay.body.receipt, first.body.receipt, 'the replay is the receipt first returned, not a re-signed one')
  const fresh = await send(rotated, 'rotate-2', { participantId: adaP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  t.equal(JSON.parse(Buffer.from(fresh.body.receipt.split('.')[0], 'base64url').toString()).kid, newKid, 'a new record is signed with the current key')
  const rows = await consentRows(tenant.accountId, meetingId)
  t.same(rows.map((row) => row.receiptKid), [oldKid, newKid], 'each record keeps the id of the key that signed its receipt')

  // A process that no longer holds the old key cannot answer the replay with a re-signed receipt.
  const forgetful = await buildTestApp(t, { clock, env: { RECEIPT_SIGNING_KEY: newKey } })
  problem(t, await send(forgetful, 'rotate-1', grant(adaP, rec.currentVersion.id)), 409, 'receipt_key_unavailable', 'the retired key is missing')
})

t.test('TRUST_PROXY: behind a load balancer the stored network is the client\'s, not the balancer\'s', async (t) => {
  const { tenant, clock, meetingId, rec, join } = await setup(t)
  const ada = await tenant.user(['member'])
  const adaP = (await join(ada.token)).participantId
  const through = async (app: TestApp) => {
    clock.tick(1)
    const res = await app.request({
      method: 'POST',
      url: `/v1/meetings/${meetingId}/consents`,
      token: ada.token,
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': '203.0.113.77' },
      body: grant(adaP, rec.currentVersion.id),
    })
    t.equal(res.status, 201)
    return (await consentRows(tenant.accountId, meetingId)).find((row) => row.id === res.body.id)!.clientNetwork
  }
  t.equal(await through(await buildTestApp(t, { clock })), '10.0.0.0/24', 'off by default: the socket is the client (a forged header is ignored)')
  t.equal(await through(await buildTestApp(t, { clock, env: { TRUST_PROXY: '10.0.0.0/8' } })), '203.0.113.0/24', 'a trusted balancer forwards the client')
  t.equal(await through(await buildTestApp(t, { clock, env: { TRUST_PROXY: '192.168.0.1' } })), '10.0.0.0/24', 'an untrusted hop is not believed')
})
