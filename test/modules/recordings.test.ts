import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { consentGrants, recordings } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, platformToken, type Tenant, type TestApp, testDatabase, tokenFor } from '../helpers/app.js'
import { checkResponse } from '../helpers/openapi.js'
import { chainedTrail, auditRows } from '../helpers/audit.js'

// Recordings (issue 5, item 4): who registers one, the cloud and local switches (P-REC-5), the
// grant every row carries (P-REC-1), the content upload into the blob store with its size limit
// and the gate's second decision at commit, who reads the bytes and that every read is audited
// (P-REC-6, P-GOV-2), listing, deletion, and the audit chain after all of it. The server clock
// is a TestClock moved by hand; every request goes through the OpenAPI-checked helpers.

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
/** The instant `seconds` after T0, as the API writes it. */
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
const DAY_MS = 86_400_000
/** The window most tests record: host and alice are present and granted all through it. */
const START = at(10)
const END = at(100)

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const sorted = (ids: string[]) => [...ids].sort()

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  meetingId: string
  host: { id: string; token: string }
  alice: { id: string; token: string }
  recorder: { id: string; token: string }
  stranger: { id: string; token: string }
  hostP: string
  aliceP: string
  noticeVersionId: string
  get: (url: string, token: string) => Promise<Res>
  post: (url: string, token: string, body?: Body, headers?: Record<string, string>) => Promise<Res>
  del: (url: string, token: string) => Promise<Res>
  put: (url: string, token: string, bytes: Buffer) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** POST …/recordings (must succeed). */
  record: (token: string, body?: Body) => Promise<any>
  /** Makes a cohost: an admin joins as cohost and is demoted to member; returns the member token. */
  cohost: () => Promise<string>
  url: (suffix?: string) => string
  /** Files this test left in blobs/.incoming (those of earlier tests of the file are not its concern). */
  leftovers: () => string[]
}

async function setup(t: Test, options: { env?: Record<string, string>; values?: Body } = {}): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock, ...(options.env ? { env: options.env } : {}) })
  const tenant = await createTenant(api, { dataRegion: 'sg' })
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: Body, headers?: Record<string, string>) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
  const del = (url: string, token: string) => api.request({ method: 'DELETE', url, token })
  const put = (url: string, token: string, bytes: Buffer) =>
    api.request({ method: 'PUT', url, token, payload: bytes, headers: { 'content-type': 'application/octet-stream' } })
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
      body: {
        values: {
          'recording.cloud.enabled': true,
          'recording.local.enabled': true,
          'recording.auto_delete_days': 7,
          'meeting.passcode_required': false, 'meeting.waiting_room': false,
          ...options.values,
        },
      },
    }),
    200,
    'settings',
  )
  const notice = await must(
    post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' }),
    201,
    'notice',
  )
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const stranger = await tenant.user(['member'])
  const meeting = await must(
    post('/v1/meetings', host.token, { topic: 'Recorded', scheduledStart: '2026-12-01T09:00:00Z', durationMinutes: 60, timeZone: 'UTC' }),
    201,
    'meeting',
  )
  await must(post(`/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const hostP = (await must(post(`/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId as string
  const aliceP = (await must(post(`/v1/meetings/${meeting.id}/participants`, alice.token, {}), 201, 'alice joins')).participantId as string
  clock.set(at(1))
  for (const [participantId, token] of [
    [hostP, host.token],
    [aliceP, alice.token],
  ] as const) {
    await must(
      post(`/v1/meetings/${meeting.id}/consents`, token, {
        participantId,
        scope: 'recording',
        decision: 'granted',
        noticeVersionId: notice.currentVersion.id,
        method: 'click_continue',
      }),
      201,
      'grant',
    )
  }
  clock.set(at(120))

  const url = (suffix = '') => `/v1/meetings/${meeting.id}/recordings${suffix}`
  const record = (token: string, body: Body = {}) => must(post(url(), token, { kind: 'cloud', startedAt: START, endedAt: END, ...body }), 201, 'record')
  const cohost = async () => {
    const deputy = await tenant.user(['admin', 'member'])
    await must(post(`/v1/meetings/${meeting.id}/participants`, deputy.token, { role: 'cohost' }), 201, 'cohost joins')
    await must(api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/users/${deputy.id}`, token: tenant.admin, body: { roles: ['member'] } }), 200, 'demote')
    return tokenFor(api.config, { sub: deputy.id, acc: tenant.accountId, roles: ['member'] })
  }
  const before = new Set(incoming(api))
  const leftovers = () => incoming(api).filter((name) => !before.has(name))
  return {
    leftovers,
    api,
    clock,
    tenant,
    meetingId: meeting.id,
    host,
    alice,
    recorder,
    stranger,
    hostP,
    aliceP,
    noticeVersionId: notice.currentVersion.id,
    get,
    post,
    del,
    put,
    must,
    record,
    cohost,
    url,
  }
}

/** GET …/content through inject, keeping the raw bytes; the answer is checked against the OpenAPI document too. */
async function download(api: TestApp, url: string, token: string) {
  const response = await api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
  const contentType = response.headers['content-type'] as string | undefined
  const body = /json/.test(contentType ?? '') ? response.json() : response.body
  const problems = checkResponse({ method: 'GET', url, status: response.statusCode, contentType, body })
  if (problems.length > 0) throw new Error(`response does not match openapi/openapi.json:\n${problems.join('\n')}`)
  return { status: response.statusCode, headers: response.headers, bytes: response.rawPayload, body }
}

async function recordingRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  const rows = await db.select().from(recordings).where(and(eq(recordings.accountId, accountId), eq(recordings.meetingId, meetingId)))
  return rows.sort((x, y) => (x.id < y.id ? -1 : 1))
}

async function recordingRow(accountId: string, id: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(recordings).where(and(eq(recordings.accountId, accountId), eq(recordings.id, id)))
  return row
}

async function grantRows(accountId: string, meetingId: string) {
  const { db } = await testDatabase()
  return db.select().from(consentGrants).where(and(eq(consentGrants.accountId, accountId), eq(consentGrants.meetingId, meetingId)))
}


const blobRoot = (api: TestApp) => path.join(api.config.dataDir, 'blobs')
const blobPath = (api: TestApp, accountId: string, recordingId: string) => path.join(blobRoot(api), accountId, recordingId)
/** Files left in the blob store's upload folder (none once every upload has finished). */
const incoming = (api: TestApp) => (existsSync(path.join(blobRoot(api), '.incoming')) ? readdirSync(path.join(blobRoot(api), '.incoming')) : [])
const accountBlobs = (api: TestApp, accountId: string) =>
  existsSync(path.join(blobRoot(api), accountId)) ? readdirSync(path.join(blobRoot(api), accountId)) : []

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

// ---------------------------------------------------------------------------------------------
// 1. Registering a recording

t.test('P-REC-1: recorder, host and admin register a recording (201, each with its own grant); attendee 403; stranger and another account 404', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, host, alice, recorder, stranger, hostP, aliceP, post, url, record } = ctx

  const made = []
  for (const [who, token, subject] of [
    ['recorder', recorder.token, recorder.id],
    ['host', host.token, host.id],
    ['admin', tenant.admin, tenant.adminId],
  ] as const) {
    const body = await record(token)
    made.push(body)
    t.match(
      body,
      {
        meetingId,
        kind: 'cloud',
        status: 'pending',
        startedAt: START,
        endedAt: END,
        excludedParticipantIds: [],
        sizeBytes: null,
        sha256: null,
        region: 'sg',
        expiresAt: new Date(Date.parse(END) + 7 * DAY_MS).toISOString(),
        createdAt: at(120),
        storedAt: null,
        deletedAt: null,
      },
      `${who}: a pending cloud recording`,
    )
    t.same(sorted(body.capturedParticipantIds), sorted([hostP, aliceP]), `${who}: no list captures everyone present (rule 1)`)
    const row = await recordingRow(tenant.accountId, body.id)
    t.match(row, { createdBy: subject, status: 'pending', storageKey: null, grantId: body.grantId, region: 'sg' }, `${who}: the row`)
  }
  t.equal(new Set(made.map((m) => m.grantId)).size, 3, 'each recording has its own grant')

  const grants = await grantRows(tenant.accountId, meetingId)
  t.equal(grants.length, 3)
  for (const body of made) {
    const grant = grants.find((g) => g.id === body.grantId)
    t.ok(grant, 'the grant exists in consent_grants')
    t.match(grant, { scope: 'recording', mode: 'explicit', windowStart: new Date(START), windowEnd: new Date(END) })
    t.same(sorted(grant!.capturedParticipantIds), sorted([hostP, aliceP]))
    t.equal(grant!.consentRecordIds.length, 2, 'the grant keeps the two consent records it rests on')
  }
  const created = await auditRows(tenant.accountId, 'recording.created')
  t.same(created.map((row) => row.targetId), made.map((m) => m.id), 'each registration is audited')
  t.same(created.map((row) => row.actorId), [recorder.id, host.id, tenant.adminId])

  // Refusals write nothing.
  problem(t, await post(url(), alice.token, { kind: 'cloud', startedAt: START, endedAt: END }), 403, 'forbidden', 'an attendee')
  problem(t, await post(url(), stranger.token, { kind: 'cloud', startedAt: START, endedAt: END }), 404, 'not_found', 'a member not in the meeting')
  const other = await createTenant(api)
  problem(t, await post(url(), other.admin, { kind: 'cloud', startedAt: START, endedAt: END }), 404, 'not_found', "another account's admin")
  problem(t, await post(url(), platformToken(api.config), { kind: 'cloud', startedAt: START, endedAt: END }), 403, 'forbidden', 'the operator')
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 3, 'no row from the refusals')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 3, 'no grant from the refusals')
  t.equal((await auditRows(tenant.accountId, 'recording.rejected')).length, 0)
})

t.test('P-REC-1, rule 6: a registration the gate refuses is 409 consent_missing naming the participant; no row, no grant, one recording.rejected', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, post, url, record, must } = ctx
  // Bob joins at 200 s and never answers; a window over his presence is refused.
  ctx.clock.set(at(200))
  const bob = await tenant.user(['member'])
  const bobP = (await must(post(`/v1/meetings/${meetingId}/participants`, bob.token, {}), 201, 'bob joins')).participantId
  ctx.clock.set(at(400))
  const refused = await post(url(), recorder.token, { kind: 'cloud', startedAt: at(150), endedAt: at(300) })
  problem(t, refused, 409, 'consent_missing')
  t.same(
    refused.body.errors.map((e: any) => [e.participantId, e.rule, e.at]),
    [[bobP, 'consent_missing', at(200)]],
    'only bob, from the instant he joined',
  )
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 0, 'no recording row')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 0, 'no grant')
  const rejected = await auditRows(tenant.accountId, 'recording.rejected')
  t.equal(rejected.length, 1)
  t.match(rejected[0], { actorId: recorder.id, targetType: 'meeting', targetId: meetingId, at: new Date(at(400)) })
  t.match(rejected[0]!.details, { kind: 'cloud', violations: [{ participantId: bobP, rule: 'consent_missing' }] })
  t.equal(accountBlobs(ctx.api, tenant.accountId).length, 0, 'no file')

  // The edge: the same window with bob excluded is allowed (rule 5), and the window before he came needs nothing from him.
  const excluded = await record(recorder.token, { startedAt: at(150), endedAt: at(300), excludedParticipantIds: [bobP] })
  t.same(excluded.excludedParticipantIds, [bobP])
  t.notOk(excluded.capturedParticipantIds.includes(bobP))
  const before = await record(recorder.token, { startedAt: at(150), endedAt: at(200) })
  t.notOk(before.capturedParticipantIds.includes(bobP), 'bob was not present before 200 s')
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 2)
  await auditVerifies(t, ctx)
})

t.test('POST …/recordings validation: unknown kind, empty or reversed window, a window ending more than 5 s ahead, unknown property or participant: 400, nothing written', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, post, url, record } = ctx
  const bad = async (body: Body, pointer: string, label: string) => {
    const res = await post(url(), recorder.token, body)
    problem(t, res, 400, 'validation_failed', label)
    t.ok(
      (res.body.errors ?? []).some((e: any) => e.pointer === pointer),
      `${label}: pointer ${pointer}`,
      { errors: res.body.errors },
    )
  }
  await bad({ kind: 'vhs', startedAt: START, endedAt: END }, '/body/kind', 'unknown kind')
  await bad({ startedAt: START, endedAt: END }, '/body/kind', 'no kind')
  await bad({ kind: 'cloud', startedAt: END, endedAt: START }, '/body/endedAt', 'endedAt before startedAt')
  await bad({ kind: 'cloud', startedAt: START, endedAt: START }, '/body/endedAt', 'an empty window')
  await bad({ kind: 'cloud', startedAt: 'yesterday', endedAt: END }, '/body/startedAt', 'not an instant')
  // The clock is at 120 s: an end at 126 s is more than 5 s ahead.
  await bad({ kind: 'cloud', startedAt: START, endedAt: at(126) }, '/body/endedAt', 'a window ending 6 s in the future')
  await bad({ kind: 'local', startedAt: START, endedAt: new Date(Date.parse(at(125)) + 1).toISOString() }, '/body/endedAt', 'a local window ending 5.001 s in the future')
  await bad({ kind: 'cloud', startedAt: START, endedAt: END, storage: 's3' }, '/body/storage', 'an unknown property')
  await bad({ kind: 'cloud', startedAt: START, endedAt: END, capturedParticipantIds: ['0190a000-0000-7000-8000-000000000000'] }, '/body/capturedParticipantIds/0', 'a captured id that is no participant')
  await bad({ kind: 'cloud', startedAt: START, endedAt: END, excludedParticipantIds: ['0190a000-0000-7000-8000-000000000000'] }, '/body/excludedParticipantIds/0', 'an excluded id that is no participant')
  await bad({ kind: 'cloud', startedAt: START, endedAt: END, capturedParticipantIds: [ctx.aliceP], excludedParticipantIds: [ctx.aliceP] }, '/body/excludedParticipantIds', 'captured and excluded at once')
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 0, 'no row')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 0, 'no grant')
  t.equal((await auditRows(tenant.accountId, 'recording.rejected')).length, 0, 'a malformed request is no refusal of the gate')

  // The edge: exactly 5 s ahead is within the allowed skew.
  const edge = await record(recorder.token, { startedAt: at(110), endedAt: at(125) })
  t.equal(edge.endedAt, at(125))
  t.same(sorted(edge.capturedParticipantIds), sorted([ctx.hostP, ctx.aliceP]))
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 1)
})

t.test('Idempotency-Key: a retried registration returns the first answer and writes one row and one grant', async (t) => {
  const ctx = await setup(t)
  const { tenant, meetingId, recorder, post, url } = ctx
  const body = { kind: 'cloud', startedAt: START, endedAt: END }
  const first = await post(url(), recorder.token, body, { 'idempotency-key': 'rec-1' })
  t.equal(first.status, 201)
  ctx.clock.set(at(130))
  const again = await post(url(), recorder.token, body, { 'idempotency-key': 'rec-1' })
  t.equal(again.status, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.same(again.body, first.body, 'the same answer')
  problem(t, await post(url(), recorder.token, { ...body, kind: 'local' }, { 'idempotency-key': 'rec-1' }), 422, 'idempotency_key_reused')
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 1, 'one row')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 1, 'one grant')
  t.equal((await auditRows(tenant.accountId, 'recording.created')).length, 1, 'one audit entry')
})

// ---------------------------------------------------------------------------------------------
// 2. Cloud and local (P-REC-5)

t.test('P-REC-5: cloud and local recording are separate settings; local registers metadata only; cloud expiry follows recording.auto_delete_days', async (t) => {
  const ctx = await setup(t, { values: { 'recording.cloud.enabled': false, 'recording.local.enabled': true } })
  const { api, tenant, meetingId, recorder, post, put, url, record, must } = ctx

  // Cloud off, local on.
  problem(t, await post(url(), recorder.token, { kind: 'cloud', startedAt: START, endedAt: END }), 409, 'recording_disabled', 'cloud while off')
  t.equal((await recordingRows(tenant.accountId, meetingId)).length, 0, 'nothing written')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 0, 'no grant')
  const local = await record(recorder.token, { kind: 'local' })
  t.match(local, { kind: 'local', status: 'stored', storedAt: at(120), expiresAt: null, sizeBytes: null, sha256: null, region: 'sg' }, 'local: metadata only, stored at once')
  const localRow = await recordingRow(tenant.accountId, local.id)
  t.match(localRow, { status: 'stored', storageKey: null, expiresAt: null, sizeBytes: null })
  t.ok((await grantRows(tenant.accountId, meetingId)).some((g) => g.id === local.grantId), 'a local recording has its grant too')
  problem(t, await put(url(`/${local.id}/content`), recorder.token, Buffer.from('local bytes')), 409, 'not_cloud', 'content for a local recording')
  t.equal(existsSync(blobPath(api, tenant.accountId, local.id)), false, 'no file for a local recording')
  t.same(ctx.leftovers(), [], 'nothing left in .incoming')
  problem(t, await download(api, url(`/${local.id}/content`), ctx.host.token), 404, 'not_found', 'a local recording has no content to read')

  // Cloud on, local off; expiry follows the setting at registration.
  await must(
    api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'recording.cloud.enabled': true, 'recording.local.enabled': false } } }),
    200,
    'switch',
  )
  problem(t, await post(url(), recorder.token, { kind: 'local', startedAt: START, endedAt: END }), 409, 'recording_disabled', 'local while off')
  const cloud = await record(recorder.token, { kind: 'cloud' })
  t.match(cloud, { kind: 'cloud', status: 'pending', storedAt: null, region: 'sg' })
  t.equal(cloud.expiresAt, new Date(Date.parse(END) + 7 * DAY_MS).toISOString(), 'expires 7 days after it ended')
  t.equal((await recordingRow(tenant.accountId, cloud.id))!.expiresAt?.toISOString(), cloud.expiresAt)
  const grant = (await grantRows(tenant.accountId, meetingId)).find((g) => g.id === cloud.grantId)
  t.ok(grant, 'the cloud recording grant exists')

  await must(
    api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'recording.auto_delete_days': 3 } } }),
    200,
    'days',
  )
  const shorter = await record(recorder.token, { kind: 'cloud', startedAt: at(20), endedAt: at(90) })
  t.equal(shorter.expiresAt, new Date(Date.parse(at(90)) + 3 * DAY_MS).toISOString(), 'a changed setting applies to the next recording')
  t.equal((await recordingRow(tenant.accountId, cloud.id))!.expiresAt?.toISOString(), cloud.expiresAt, 'an earlier expiry stays')
  t.same(
    (await recordingRows(tenant.accountId, meetingId)).map((r) => `${r.kind}:${r.status}`).sort(),
    ['cloud:pending', 'cloud:pending', 'local:stored'],
    'only the allowed registrations exist',
  )
})

// ---------------------------------------------------------------------------------------------
// 3. Content

t.test('PUT …/content stores the bytes once: size and sha-256 recorded, the file under blobs/<account>/<recording>, a second PUT 409 content_exists', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, recorder, alice, put, get, url, record } = ctx
  const rec = await record(recorder.token)
  const bytes = randomBytes(50_000)
  ctx.clock.set(at(130))

  problem(t, await put(url(`/${rec.id}/content`), alice.token, bytes), 403, 'forbidden', 'an attendee uploads')
  problem(t, await put(url('/0190a000-0000-7000-8000-000000000000/content'), recorder.token, bytes), 404, 'not_found', 'an unknown recording')
  const up = await put(url(`/${rec.id}/content`), recorder.token, bytes)
  t.equal(up.status, 200, 'stored', { body: up.body })
  t.match(up.body, { id: rec.id, status: 'stored', sizeBytes: bytes.length, sha256: sha256(bytes), storedAt: at(130), expiresAt: rec.expiresAt })
  t.not(up.body.grantId, rec.grantId, 'the decision at commit is its own grant')

  const file = blobPath(api, tenant.accountId, rec.id)
  t.ok(existsSync(file), 'the file exists')
  t.ok(readFileSync(file).equals(bytes), 'with exactly the bytes sent')
  t.same(ctx.leftovers(), [], 'nothing left in .incoming')

  const row = await recordingRow(tenant.accountId, rec.id)
  t.match(row, { status: 'stored', storageKey: `${tenant.accountId}/${rec.id}`, sizeBytes: bytes.length, sha256: sha256(bytes), grantId: up.body.grantId })
  t.equal(row!.storedAt?.toISOString(), at(130))
  const grant = (await grantRows(tenant.accountId, ctx.meetingId)).find((g) => g.id === up.body.grantId)
  t.ok(grant, 'the commit grant is in consent_grants')
  t.match(grant, { scope: 'recording', windowStart: new Date(START), windowEnd: new Date(END), decidedBy: recorder.id })
  const stored = await auditRows(tenant.accountId, 'recording.stored')
  t.equal(stored.length, 1)
  t.match(stored[0], { actorId: recorder.id, targetType: 'recording', targetId: rec.id })
  t.match(stored[0]!.details, { sizeBytes: bytes.length, sha256: sha256(bytes), grantId: up.body.grantId })

  const again = await put(url(`/${rec.id}/content`), recorder.token, Buffer.from('other bytes'))
  problem(t, again, 409, 'content_exists', 'a second upload')
  t.ok(readFileSync(file).equals(bytes), 'the first bytes stay')
  t.same(ctx.leftovers(), [], 'the refused second upload left nothing in .incoming')
  t.equal((await auditRows(tenant.accountId, 'recording.stored')).length, 1)
  const one = await get(url(`/${rec.id}`), ctx.host.token)
  t.match(one.body, { status: 'stored', sizeBytes: bytes.length, sha256: sha256(bytes) })
  await auditVerifies(t, ctx)
})

t.test('UPLOAD_LIMIT: a body over the limit is 413 upload_too_large, the recording stays pending, nothing stays in the blob store; exactly the limit is accepted', async (t) => {
  const ctx = await setup(t, { env: { UPLOAD_LIMIT: '2048' } })
  const { api, tenant, recorder, put, url, record } = ctx
  t.equal(api.config.uploadLimit, 2048)
  const rec = await record(recorder.token)

  const over = await put(url(`/${rec.id}/content`), recorder.token, randomBytes(2049))
  problem(t, over, 413, 'upload_too_large', 'one byte over')
  const big = await put(url(`/${rec.id}/content`), recorder.token, randomBytes(300_000))
  problem(t, big, 413, 'upload_too_large', 'far over')
  const row = await recordingRow(tenant.accountId, rec.id)
  t.match(row, { status: 'pending', storageKey: null, sizeBytes: null, sha256: null, storedAt: null }, 'the recording stays pending')
  t.equal(existsSync(blobPath(api, tenant.accountId, rec.id)), false, 'no file')
  t.same(accountBlobs(api, tenant.accountId), [], "nothing in the account's blob folder")
  t.same(ctx.leftovers(), [], 'nothing in .incoming')
  t.equal((await auditRows(tenant.accountId, 'recording.stored')).length, 0)
  t.equal((await auditRows(tenant.accountId, 'recording.rejected')).length, 0)

  const exact = randomBytes(2048)
  const up = await put(url(`/${rec.id}/content`), recorder.token, exact)
  t.equal(up.status, 200, 'exactly the limit, after refused attempts', { body: up.body })
  t.match(up.body, { status: 'stored', sizeBytes: 2048, sha256: sha256(exact) })
  t.ok(readFileSync(blobPath(api, tenant.accountId, rec.id)).equals(exact))
  t.same(ctx.leftovers(), [])
})

t.test('PUT …/content takes application/octet-stream only: another content type is 415 and leaves the recording pending with no file', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, recorder, url, record } = ctx
  const rec = await record(recorder.token)
  const contentUrl = url(`/${rec.id}/content`)
  const send = (contentType: string, payload: string) =>
    api.request({ method: 'PUT', url: contentUrl, token: recorder.token, payload, headers: { 'content-type': contentType } })

  problem(t, await send('text/plain', 'some text'), 415, 'unsupported_media_type', 'text/plain')
  // A JSON body must not reach the blob store either (the route lifts the JSON body limit for
  // its upload, so a JSON parser here would also buffer any size in memory).
  problem(t, await send('application/json', '{"bytes":"not really"}'), 415, 'unsupported_media_type', 'application/json')
  t.match(await recordingRow(tenant.accountId, rec.id), { status: 'pending', storageKey: null, sizeBytes: null })
  t.equal(existsSync(blobPath(api, tenant.accountId, rec.id)), false, 'no file')
  t.same(ctx.leftovers(), [], 'nothing in .incoming')
  const up = await ctx.put(contentUrl, recorder.token, Buffer.from('the real bytes'))
  t.equal(up.status, 200, 'the octet-stream upload still works', { body: up.body })

  // A JSON string is iterable: it would be parsed in memory and then stored as the "bytes".
  const other = await record(recorder.token)
  const otherUrl = url(`/${other.id}/content`)
  problem(t, await api.request({ method: 'PUT', url: otherUrl, token: recorder.token, payload: '"parsed, not streamed"', headers: { 'content-type': 'application/json' } }), 415, 'unsupported_media_type', 'a JSON string')
  t.match(await recordingRow(tenant.accountId, other.id), { status: 'pending', storageKey: null }, 'the other recording stays pending')
  t.equal(existsSync(blobPath(api, tenant.accountId, other.id)), false, 'no file for it')
})

t.test('a large body (8 MiB, streamed in chunks) is stored under the default limit, hashed and sized right', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, recorder, url, record } = ctx
  t.ok(api.config.uploadLimit > 8 * 1024 * 1024, 'the default limit is above the body')
  t.ok(api.config.bodyLimit < 8 * 1024 * 1024, 'and the JSON body limit below it: the upload route has its own')
  const rec = await record(recorder.token)

  const chunk = 64 * 1024
  const chunks = 128
  const hash = createHash('sha256')
  const parts: Buffer[] = []
  for (let i = 0; i < chunks; i++) {
    const part = createHash('sha256').update(`part ${i}`).digest()
    const block = Buffer.alloc(chunk, part)
    hash.update(block)
    parts.push(block)
  }
  const digest = hash.digest('hex')
  const response = await api.app.inject({
    method: 'PUT',
    url: url(`/${rec.id}/content`),
    headers: { authorization: `Bearer ${recorder.token}`, 'content-type': 'application/octet-stream' },
    payload: Readable.from(parts),
  })
  const body = response.json()
  t.same(checkResponse({ method: 'PUT', url: url(`/${rec.id}/content`), status: response.statusCode, contentType: response.headers['content-type'] as string, body }), [])
  t.equal(response.statusCode, 200, 'stored', { body })
  t.match(body, { status: 'stored', sizeBytes: chunk * chunks, sha256: digest })
  const file = readFileSync(blobPath(api, tenant.accountId, rec.id))
  t.equal(file.length, chunk * chunks)
  t.equal(sha256(file), digest, 'the file holds the streamed bytes')
  t.same(ctx.leftovers(), [])
})

t.test('rule 8, P-REC-4: a withdrawal inside the window that committed before the upload wins at commit: 409 consent_missing, status rejected, no file, recording.rejected', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, recorder, alice, aliceP, post, put, url, record, must, get } = ctx
  // Registered at 120 s for [10 s, 100 s] while alice was granted.
  const rec = await record(recorder.token)
  t.equal(rec.status, 'pending')
  // Alice's withdrawal lands at 50 s, inside the window (the test clock goes back to stamp it there).
  ctx.clock.set(at(50))
  const withdrawal = await must(
    post(`/v1/meetings/${meetingId}/consents`, alice.token, { participantId: aliceP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' }),
    201,
    'withdraw',
  )
  t.equal(withdrawal.at, at(50))
  ctx.clock.set(at(140))
  const bytes = randomBytes(10_000)
  const refused = await put(url(`/${rec.id}/content`), recorder.token, bytes)
  problem(t, refused, 409, 'consent_missing', 'the upload')
  t.same(
    refused.body.errors.map((e: any) => [e.participantId, e.rule, e.at]),
    [[aliceP, 'withdrawn', at(50)]],
    'alice, the withdrawal rule and its instant',
  )

  const row = await recordingRow(tenant.accountId, rec.id)
  t.match(row, { status: 'rejected', storageKey: null, sizeBytes: null, sha256: null, storedAt: null, grantId: rec.grantId }, 'the row is rejected, its first grant kept')
  t.equal(existsSync(blobPath(api, tenant.accountId, rec.id)), false, 'no file')
  t.same(accountBlobs(api, tenant.accountId), [], "nothing in the account's blob folder")
  t.same(ctx.leftovers(), [], 'nothing in .incoming')
  t.equal((await grantRows(tenant.accountId, meetingId)).length, 1, 'no grant for the refused commit')
  const rejected = await auditRows(tenant.accountId, 'recording.rejected')
  t.equal(rejected.length, 1)
  t.match(rejected[0], { actorId: recorder.id, targetType: 'recording', targetId: rec.id, at: new Date(at(140)) })
  t.match(rejected[0]!.details, { meetingId, atCommit: true, violations: [{ participantId: aliceP, rule: 'withdrawn', at: at(50) }] })
  t.equal((await auditRows(tenant.accountId, 'recording.stored')).length, 0)

  t.equal((await get(url(`/${rec.id}`), ctx.host.token)).body.status, 'rejected')
  problem(t, await put(url(`/${rec.id}/content`), recorder.token, bytes), 409, 'content_exists', 'a rejected recording takes no content')
  problem(t, await download(api, url(`/${rec.id}/content`), ctx.host.token), 404, 'not_found', 'a rejected recording has no content')
  t.same(ctx.leftovers(), [])

  // The part before the withdrawal stays lawful (P-REC-4): [10 s, 50 s] registers and stores.
  const before = await record(recorder.token, { startedAt: START, endedAt: at(50) })
  const stored = await put(url(`/${before.id}/content`), recorder.token, bytes)
  t.equal(stored.status, 200, 'capture before the withdrawal is stored', { body: stored.body })
  t.ok(readFileSync(blobPath(api, tenant.accountId, before.id)).equals(bytes))
  await auditVerifies(t, ctx)
})

t.test('P-REC-6, P-GOV-2: host and admin read the bytes (repr-digest), each read audited; recorder, cohost, attendee, operator refused without an audit entry; pending is 404', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, host, alice, recorder, stranger, put, url, record } = ctx
  const rec = await record(recorder.token)
  const bytes = randomBytes(20_000)
  ctx.clock.set(at(130))
  t.equal((await put(url(`/${rec.id}/content`), recorder.token, bytes)).status, 200)
  const cohost = await ctx.cohost()
  const contentUrl = url(`/${rec.id}/content`)
  const digest = `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`

  ctx.clock.set(at(140))
  const byHost = await download(api, contentUrl, host.token)
  t.equal(byHost.status, 200)
  t.match(byHost.headers['content-type'], /^application\/octet-stream/)
  t.equal(byHost.headers['repr-digest'], digest, 'repr-digest carries the sha-256')
  t.equal(Number(byHost.headers['content-length']), bytes.length)
  t.ok(byHost.bytes.equals(bytes), 'the host reads exactly the stored bytes')
  ctx.clock.set(at(150))
  const byAdmin = await download(api, contentUrl, tenant.admin)
  t.equal(byAdmin.status, 200)
  t.ok(byAdmin.bytes.equals(bytes), 'an admin reads them too')

  const reads = await auditRows(tenant.accountId, 'recording.content_read')
  t.same(
    reads.map((row) => [row.actorId, row.targetType, row.targetId, row.at.toISOString()]),
    [
      [host.id, 'recording', rec.id, at(140)],
      [tenant.adminId, 'recording', rec.id, at(150)],
    ],
    'each read is an audit entry',
  )
  t.match(reads[0]!.details, { meetingId, sizeBytes: bytes.length })

  problem(t, await download(api, contentUrl, recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await download(api, contentUrl, cohost), 403, 'forbidden', 'a cohost')
  problem(t, await download(api, contentUrl, alice.token), 403, 'forbidden', 'an attendee')
  problem(t, await download(api, contentUrl, stranger.token), 404, 'not_found', 'a member not in the meeting')
  problem(t, await download(api, contentUrl, platformToken(api.config)), 404, 'not_found', 'the operator')
  problem(
    t,
    await download(api, contentUrl, tokenFor(api.config, { sub: 'platform-operator', acc: tenant.accountId, roles: ['platform'] })),
    404,
    'not_found',
    "the operator with a token naming the customer's account",
  )
  const other = await createTenant(api)
  problem(t, await download(api, contentUrl, other.admin), 404, 'not_found', "another account's admin")

  const pending = await record(recorder.token)
  problem(t, await download(api, url(`/${pending.id}/content`), host.token), 404, 'not_found', 'a pending recording')
  problem(t, await download(api, url('/0190a000-0000-7000-8000-000000000000/content'), host.token), 404, 'not_found', 'an unknown recording')
  t.equal((await auditRows(tenant.accountId, 'recording.content_read')).length, 2, 'refused reads write no audit entry')
  await auditVerifies(t, ctx)
})

// ---------------------------------------------------------------------------------------------
// 4. Listing and reading metadata

t.test('GET list and one: recorder, host, cohost, admin; attendee 403; stranger and another account 404; pages with a cursor', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, host, alice, recorder, stranger, get, url, record } = ctx
  const made: string[] = []
  // One second apart: ids are UUIDv7 of the server clock, so creation order is id order.
  for (let i = 0; i < 5; i++) {
    ctx.clock.set(at(120 + i))
    made.push((await record(recorder.token, { startedAt: at(10 + i), endedAt: at(90 + i) })).id)
  }
  const cohost = await ctx.cohost()
  const other = await createTenant(api)

  for (const [who, token] of [
    ['recorder', recorder.token],
    ['host', host.token],
    ['cohost', cohost],
    ['admin', tenant.admin],
  ] as const) {
    const list = await get(url('?limit=100'), token)
    t.equal(list.status, 200, `${who} lists`)
    t.same(list.body.items.map((item: any) => item.id), made, `${who} sees every recording, oldest first`)
    t.equal(list.body.nextCursor, null)
    const one = await get(url(`/${made[2]}`), token)
    t.equal(one.status, 200, `${who} reads one`)
    t.match(one.body, { id: made[2], startedAt: at(12), endedAt: at(92), status: 'pending', kind: 'cloud' })
  }
  for (const [who, token, status, code] of [
    ['an attendee', alice.token, 403, 'forbidden'],
    ['a member not in the meeting', stranger.token, 404, 'not_found'],
    ["another account's admin", other.admin, 404, 'not_found'],
    ['the operator', platformToken(api.config), 404, 'not_found'],
  ] as const) {
    problem(t, await get(url(), token), status, code, `${who} lists`)
    problem(t, await get(url(`/${made[0]}`), token), status, code, `${who} reads one`)
  }
  problem(t, await get(url('/0190a000-0000-7000-8000-000000000000'), host.token), 404, 'not_found', 'an unknown recording')

  const seen: string[] = []
  const sizes: number[] = []
  let cursor: string | null = null
  for (let guard = 0; guard < 10; guard++) {
    const page: Res = await get(url(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`), host.token)
    t.equal(page.status, 200)
    seen.push(...page.body.items.map((item: any) => item.id))
    sizes.push(page.body.items.length)
    cursor = page.body.nextCursor
    if (!cursor) break
  }
  t.same(sizes, [2, 2, 1], 'pages of two')
  t.same(seen, made, 'every recording once, in order')
  problem(t, await get(url('?cursor=bm90IGFuIGlk'), host.token), 400, 'validation_failed', 'a bad cursor')
  problem(t, await get(url('?limit=101'), host.token), 400, 'validation_failed', 'a limit over 100')
})

// ---------------------------------------------------------------------------------------------
// 5. Deletion

t.test('DELETE: host and admin 204, the bytes go, the row stays deleted, one recording.deleted each; a repeat is 204 without a new entry; recorder, cohost 403', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, host, alice, recorder, stranger, put, get, del, url, record } = ctx
  const rec = await record(recorder.token)
  const bytes = randomBytes(5_000)
  const up = await put(url(`/${rec.id}/content`), recorder.token, bytes)
  t.equal(up.status, 200)
  const file = blobPath(api, tenant.accountId, rec.id)
  t.ok(existsSync(file))
  const cohost = await ctx.cohost()

  problem(t, await del(url(`/${rec.id}`), recorder.token), 403, 'forbidden', 'the recorder')
  problem(t, await del(url(`/${rec.id}`), cohost), 403, 'forbidden', 'a cohost')
  problem(t, await del(url(`/${rec.id}`), alice.token), 403, 'forbidden', 'an attendee')
  problem(t, await del(url(`/${rec.id}`), stranger.token), 404, 'not_found', 'a member not in the meeting')
  problem(t, await del(url('/0190a000-0000-7000-8000-000000000000'), host.token), 404, 'not_found', 'an unknown recording')
  t.ok(existsSync(file), 'refused deletes leave the bytes')
  t.equal((await recordingRow(tenant.accountId, rec.id))!.status, 'stored')

  ctx.clock.set(at(200))
  const gone = await del(url(`/${rec.id}`), host.token)
  t.equal(gone.status, 204)
  t.equal(gone.body, undefined)
  t.equal(existsSync(file), false, 'the file is gone')
  const row = await recordingRow(tenant.accountId, rec.id)
  t.match(row, { status: 'deleted', storageKey: null, grantId: up.body.grantId, sha256: sha256(bytes) }, 'a tombstone with its grant')
  t.equal(row!.deletedAt?.toISOString(), at(200))
  t.match((await get(url(`/${rec.id}`), host.token)).body, { status: 'deleted', deletedAt: at(200) })
  problem(t, await download(api, url(`/${rec.id}/content`), host.token), 404, 'not_found', 'no content after delete')

  ctx.clock.set(at(210))
  t.equal((await del(url(`/${rec.id}`), host.token)).status, 204, 'a repeat')
  t.equal((await del(url(`/${rec.id}`), tenant.admin)).status, 204, 'a repeat by an admin')
  const deleted = await auditRows(tenant.accountId, 'recording.deleted')
  t.equal(deleted.length, 1, 'one audit entry')
  t.match(deleted[0], { actorId: host.id, targetType: 'recording', targetId: rec.id, at: new Date(at(200)) })
  t.match(deleted[0]!.details, { meetingId, hadContent: true })
  t.equal((await recordingRow(tenant.accountId, rec.id))!.deletedAt?.toISOString(), at(200), 'a repeat changes nothing')

  // An admin deletes a pending recording (no bytes yet).
  const pending = await record(recorder.token)
  t.equal((await del(url(`/${pending.id}`), tenant.admin)).status, 204)
  t.match(await recordingRow(tenant.accountId, pending.id), { status: 'deleted' })
  problem(t, await put(url(`/${pending.id}/content`), recorder.token, bytes), 409, 'content_exists', 'a deleted recording takes no content')
  t.same(accountBlobs(api, tenant.accountId), [], 'no bytes of the account remain')
  t.same(ctx.leftovers(), [])
  const after = await auditRows(tenant.accountId, 'recording.deleted')
  t.same(after.map((row) => [row.actorId, row.targetId, (row.details as any).hadContent]), [
    [host.id, rec.id, true],
    [tenant.adminId, pending.id, false],
  ])
})

// ---------------------------------------------------------------------------------------------
// 6. The audit chain after a whole life cycle

t.test('P-GOV-2: after registering, storing, refusing, reading and deleting, the audit chain verifies', async (t) => {
  const ctx = await setup(t)
  const { api, tenant, meetingId, host, alice, aliceP, recorder, post, put, del, url, record, must } = ctx
  const kept = await record(recorder.token)
  const refusedAtCommit = await record(recorder.token, { startedAt: at(60), endedAt: at(100) })
  t.equal((await put(url(`/${kept.id}/content`), recorder.token, randomBytes(3000))).status, 200)
  t.equal((await download(api, url(`/${kept.id}/content`), host.token)).status, 200)
  ctx.clock.set(at(80))
  await must(post(`/v1/meetings/${meetingId}/consents`, alice.token, { participantId: aliceP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' }), 201, 'withdraw')
  ctx.clock.set(at(150))
  problem(t, await put(url(`/${refusedAtCommit.id}/content`), recorder.token, randomBytes(3000)), 409, 'consent_missing')
  problem(t, await post(url(), recorder.token, { kind: 'cloud', startedAt: START, endedAt: at(140) }), 409, 'consent_missing')
  t.equal((await del(url(`/${kept.id}`), tenant.admin)).status, 204)

  const { db } = await testDatabase()
  const trail = await chainedTrail(db, tenant.accountId)
  const actions = trail.map((row) => row.action)
  for (const action of ['recording.created', 'recording.stored', 'recording.content_read', 'consent.recorded', 'recording.rejected', 'recording.deleted']) {
    t.ok(actions.includes(action), `the trail has ${action}`)
  }
  t.equal(actions.filter((a) => a === 'recording.rejected').length, 2, 'the refusal at commit and the refused registration')
  const verify = await ctx.get(`/v1/accounts/${tenant.accountId}/audit/verify`, tenant.admin)
  t.equal(verify.status, 200)
  t.same(verify.body, { valid: true, entriesChecked: trail.length, firstInvalidSeq: null, headSeq: trail[trail.length - 1]!.seq, checkpointSeq: null })
  t.same(ctx.leftovers(), [])
})

// ---------------------------------------------------------------------------------------------
// Support access (issue 12, P-REC-6)

t.test('P-REC-6: the operator reads recordings and transcripts only while a support grant runs; each read is audited with the grant', async (t) => {
  const ctx = await setup(t, { values: { 'transcript.enabled': true } })
  const { api, clock, tenant, host, recorder, get, post, del, put, must, record, url, hostP, aliceP } = ctx
  const operator = tokenFor(api.config, { sub: 'platform-operator', acc: tenant.accountId, roles: ['platform'] })
  const stored = await record(recorder.token)
  const bytes = randomBytes(2048)
  await must(put(url(`/${stored.id}/content`), recorder.token, bytes), 200, 'upload')
  clock.set(at(1))
  const transcriptNotice = await must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'transcript', locale: 'en', title: 'Transcript', text: 'This meeting is transcribed.' }), 201, 'transcript notice')
  clock.set(at(2))
  await must(post(`/v1/meetings/${ctx.meetingId}/consents`, host.token, { participantId: hostP, scope: 'transcript', decision: 'granted', noticeVersionId: transcriptNotice.currentVersion.id, method: 'click_continue' }), 201, 'grant transcript')
  clock.set(at(120))
  const transcript = await must(
    post(`/v1/meetings/${ctx.meetingId}/transcripts`, recorder.token, { startedAt: START, endedAt: END, redact: true, segments: [{ speakerParticipantId: hostP, startMs: 1000, endMs: 2000, text: 'Hello' }, { speakerParticipantId: aliceP, startMs: 3000, endMs: 4000, text: 'Hi' }] }),
    201,
    'transcript',
  )
  const reads = [
    url(),
    url(`/${stored.id}`),
    url(`/${stored.id}/content`),
    `/v1/meetings/${ctx.meetingId}/transcripts`,
    `/v1/meetings/${ctx.meetingId}/transcripts/${transcript.id}`,
  ]
  const statuses = async () => Promise.all(reads.map(async (path) => (path.endsWith('/content') ? (await download(api, path, operator)).status : (await get(path, operator)).status)))

  t.same(await statuses(), [404, 404, 404, 404, 404], 'without a grant the operator finds nothing')

  // Who grants: an admin of the account only.
  const grants = `/v1/accounts/${tenant.accountId}/support-grants`
  const until = (hours: number) => new Date(Date.parse(at(120)) + hours * 3600_000).toISOString()
  t.equal((await post(grants, host.token, { reason: 'Ticket 42', until: until(2) })).status, 403, 'a member')
  t.equal((await post(grants, operator, { reason: 'Ticket 42', until: until(2) })).status, 403, 'the operator cannot grant itself')
  const other = await createTenant(api)
  t.equal((await post(grants, other.admin, { reason: 'Ticket 42', until: until(2) })).status, 404, "another account's admin")
  const past = await post(grants, tenant.admin, { reason: 'Ticket 42', until: at(100) })
  t.equal(past.status, 400, 'an end in the past')
  t.equal((await post(grants, tenant.admin, { reason: 'Ticket 42', until: until(31 * 24) })).status, 400, 'more than 30 days')
  t.equal((await post(grants, tenant.admin, { reason: '   ', until: until(2) })).status, 400, 'no reason')

  const grant = await must(post(grants, tenant.admin, { reason: 'Ticket 42: playback fails', until: until(2) }), 201, 'grant')
  t.match(grant, { accountId: tenant.accountId, reason: 'Ticket 42: playback fails', endsAt: until(2), revokedAt: null, active: true, grantedBy: tenant.adminId })
  t.same(await statuses(), [200, 200, 200, 200, 200], 'while it runs the operator reads')
  const content = await download(api, url(`/${stored.id}/content`), operator)
  t.ok(Buffer.compare(content.bytes, bytes) === 0, 'the bytes themselves')
  t.equal((await del(url(`/${stored.id}`), operator)).status, 403, 'reading only: the operator deletes nothing')
  const listed = await must(get(grants, operator), 200, 'the operator sees its grants')
  t.equal(listed.items.length, 1)

  const { db } = await testDatabase()
  const trail = await chainedTrail(db, tenant.accountId)
  const withGrant = trail.filter((row) => (row.details as { grantId?: string }).grantId === grant.id)
  t.same(
    withGrant.map((row) => row.action).sort(),
    ['recording.content_read', 'recording.content_read', 'support_grant.read', 'support_grant.read', 'support_grant.read', 'transcript.read'],
    'every read names the grant: two lists and a recording, two downloads, a transcript text',
  )
  t.ok(withGrant.every((row) => row.actorType === 'platform'), 'by the operator')
  t.ok(trail.some((row) => row.action === 'support_grant.created' && row.targetId === grant.id))

  // The grant ends: by time, or revoked by an admin.
  clock.set(until(2))
  t.same(await statuses(), [404, 404, 404, 404, 404], 'at its end, access ends')
  const second = await must(post(grants, tenant.admin, { reason: 'Ticket 43', until: until(3) }), 201, 'second grant')
  t.equal((await get(url(), operator)).status, 200)
  const revoked = await must(api.request({ method: 'DELETE', url: `${grants}/${second.id}`, token: tenant.admin }), 200, 'revoke')
  t.match(revoked, { active: false, revokedBy: tenant.adminId })
  t.equal((await get(url(), operator)).status, 404, 'revoked: no access')
  t.equal((await api.request({ method: 'DELETE', url: `${grants}/${second.id}`, token: tenant.admin })).status, 200, 'revoking again changes nothing')
  t.equal((await api.request({ method: 'DELETE', url: `${grants}/00000000-0000-4000-8000-000000000000`, token: tenant.admin })).status, 404)
  // A grant of one account opens nothing of another.
  const elsewhere = tokenFor(api.config, { sub: 'platform-operator', acc: other.accountId, roles: ['platform'] })
  await must(post(grants, tenant.admin, { reason: 'Ticket 44', until: until(3) }), 201, 'third grant')
  t.equal((await get(url(), elsewhere)).status, 404, "the grant is the account's own")
})
