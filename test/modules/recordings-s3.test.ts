import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { recordings } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { newId } from '../../src/lib/ids.js'
import { PART_SIZE } from '../../src/lib/s3-blob-store.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { checkResponse } from '../helpers/openapi.js'
import { BUCKETS, type S3Fixture, startS3 } from '../helpers/s3-server.js'

// The S3 blob driver (issue 18, items 1-3) against a real S3 protocol server (s3rver, started
// here on a loopback port) behind a fault-injecting proxy, with one bucket for eu and one for sg.
// An account's bytes go only to its region's bucket (P-RES-1); a region without one is refused
// with 409 region_storage_unavailable and nothing is stored anywhere. Uploads are complete before
// the gate decides; a refused, oversized, cut or store-refused upload leaves no object behind.

type Res = { status: number; headers: Record<string, unknown>; body: any }

class TestClock implements Clock {
  constructor(private at: number) {}
  now() {
    return new Date(this.at)
  }
  set(instant: string) {
    this.at = Date.parse(instant)
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

let s3: S3Fixture
t.before(async () => {
  s3 = await startS3()
})
t.teardown(() => s3.close())

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  meetingId: string
  recorder: { id: string; token: string }
  host: { id: string; token: string }
  alice: { id: string; token: string }
  aliceP: string
  url: (suffix?: string) => string
  put: (url: string, bytes: Buffer) => Promise<Res>
  record: (body?: Record<string, unknown>) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
}

async function setup(t: Test, region: string, env: Record<string, string> = s3.env): Promise<Ctx> {
  const clock = new TestClock(Date.parse(T0))
  const api = await buildTestApp(t, { clock, env })
  const tenant = await createTenant(api, { dataRegion: region })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  const post = (url: string, token: string, body?: unknown) => api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  await must(
    api.request({
      method: 'PATCH',
      url: `/v1/accounts/${tenant.accountId}/settings`,
      token: tenant.admin,
      body: { values: { 'recording.cloud.enabled': true, 'recording.local.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false } },
    }),
    200,
    'settings',
  )
  const notice = await must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' }), 201, 'notice')
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const meeting = await must(post('/v1/meetings', host.token, { topic: 'Recorded', scheduledStart: T0, durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(post(`/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const hostP = (await must(post(`/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId as string
  const aliceP = (await must(post(`/v1/meetings/${meeting.id}/participants`, alice.token, {}), 201, 'alice joins')).participantId as string
  clock.set(at(1))
  for (const [participantId, token] of [[hostP, host.token], [aliceP, alice.token]] as const) {
    await must(post(`/v1/meetings/${meeting.id}/consents`, token, { participantId, scope: 'recording', decision: 'granted', noticeVersionId: notice.currentVersion.id, method: 'click_continue' }), 201, 'grant')
  }
  clock.set(at(120))
  const url = (suffix = '') => `/v1/meetings/${meeting.id}/recordings${suffix}`
  return {
    api,
    clock,
    tenant,
    meetingId: meeting.id,
    recorder,
    host,
    alice,
    aliceP,
    url,
    must,
    put: (target, bytes) => api.request({ method: 'PUT', url: target, token: recorder.token, payload: bytes, headers: { 'content-type': 'application/octet-stream' } }),
    record: (body = {}) => post(url(), recorder.token, { kind: 'cloud', startedAt: at(10), endedAt: at(100), ...body }),
  }
}

async function download(api: TestApp, url: string, token: string) {
  const response = await api.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })
  const contentType = response.headers['content-type'] as string | undefined
  const body = /json/.test(contentType ?? '') ? response.json() : response.body
  const problems = checkResponse({ method: 'GET', url, status: response.statusCode, contentType, body })
  if (problems.length > 0) throw new Error(`response does not match openapi/openapi.json:\n${problems.join('\n')}`)
  return { status: response.statusCode, headers: response.headers, bytes: response.rawPayload, body }
}

async function recordingRow(accountId: string, id: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(recordings).where(and(eq(recordings.accountId, accountId), eq(recordings.id, id)))
  return row!
}

function problem(t: Test, res: Res, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

/** Every object of the account, in either bucket. */
const objectsOf = async (accountId: string) => ({ eu: await s3.keys(BUCKETS.eu, `${accountId}/`), sg: await s3.keys(BUCKETS.sg, `${accountId}/`) })

t.test("P-RES-1: an account's bytes go to its region's bucket only; the row says where; the download streams them back", async (t) => {
  for (const region of ['eu', 'sg'] as const) {
    const ctx = await setup(t, region)
    const rec = await ctx.must(ctx.record(), 201, 'record')
    const bytes = randomBytes(70_000)
    const up = await ctx.put(ctx.url(`/${rec.id}/content`), bytes)
    t.equal(up.status, 200, `${region}: stored`, { body: up.body })
    t.match(up.body, { status: 'stored', sizeBytes: bytes.length, sha256: sha256(bytes), region })

    const row = await recordingRow(ctx.tenant.accountId, rec.id)
    const prefix = `s3://${BUCKETS[region]}/${ctx.tenant.accountId}/${rec.id}/`
    t.ok(row.storageKey?.startsWith(prefix), `${region}: the row names the bucket (${row.storageKey})`)
    const objects = await objectsOf(ctx.tenant.accountId)
    const other = region === 'eu' ? 'sg' : 'eu'
    t.same(objects[region], [row.storageKey!.slice(`s3://${BUCKETS[region]}/`.length)], `${region}: one object in its own bucket`)
    t.same(objects[other], [], `${region}: nothing in the ${other} bucket`)

    const read = await download(ctx.api, ctx.url(`/${rec.id}/content`), ctx.host.token)
    t.equal(read.status, 200)
    t.ok(read.bytes.equals(bytes), `${region}: the same bytes come back`)
    t.equal(read.headers['repr-digest'], `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`)

    t.ok(await ctx.api.app.services.blobs.exists(row.storageKey!), 'the store sees it')
    await ctx.must(ctx.api.request({ method: 'DELETE', url: ctx.url(`/${rec.id}`), token: ctx.host.token }), 204, 'delete')
    t.same(await objectsOf(ctx.tenant.accountId), { eu: [], sg: [] }, `${region}: deleting the recording removes the object`)
    t.notOk(await ctx.api.app.services.blobs.exists(row.storageKey!), 'the store no longer sees it')
  }
})

t.test('a body larger than one part goes up in parts, hashed on the way, and comes back whole', async (t) => {
  const ctx = await setup(t, 'eu')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  const bytes = randomBytes(PART_SIZE * 2 + 12_345)
  const up = await ctx.put(ctx.url(`/${rec.id}/content`), bytes)
  t.equal(up.status, 200, 'stored', { body: up.body })
  t.match(up.body, { sizeBytes: bytes.length, sha256: sha256(bytes) })
  const read = await download(ctx.api, ctx.url(`/${rec.id}/content`), ctx.host.token)
  t.ok(read.bytes.equals(bytes), 'the same bytes come back')
})

t.test('a region without a bucket: cloud recording and upload are 409 region_storage_unavailable, nothing is stored elsewhere; a local recording is fine', async (t) => {
  const ctx = await setup(t, 'us')
  problem(t, await ctx.record(), 409, 'region_storage_unavailable', 'registering a cloud recording')
  await ctx.must(ctx.record({ kind: 'local' }), 201, 'a local recording registers (its bytes are not ours)')

  // A recording registered while the region had storage (a deployment whose map since changed).
  const withUs = { ...s3.env, S3_BUCKETS: JSON.stringify({ eu: BUCKETS.eu, us: BUCKETS.eu }) }
  const other = await buildTestApp(t, { clock: ctx.clock, env: withUs })
  const registered = await other.request({ method: 'POST', url: ctx.url(), token: ctx.recorder.token, body: { kind: 'cloud', startedAt: at(10), endedAt: at(100) } })
  t.equal(registered.status, 201)
  const refused = await ctx.put(ctx.url(`/${registered.body.id}/content`), randomBytes(5000))
  problem(t, refused, 409, 'region_storage_unavailable', 'the upload')
  t.match(await recordingRow(ctx.tenant.accountId, registered.body.id), { status: 'pending', storageKey: null })
  t.same(await objectsOf(ctx.tenant.accountId), { eu: [], sg: [] }, 'no object in any bucket')
})

t.test('refused at commit (a withdrawal won), or over the limit: no object stays; the recording is rejected or stays pending', async (t) => {
  const ctx = await setup(t, 'sg')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  ctx.clock.set(at(50))
  await ctx.must(
    ctx.api.request({ method: 'POST', url: `/v1/meetings/${ctx.meetingId}/consents`, token: ctx.alice.token, body: { participantId: ctx.aliceP, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' } }),
    201,
    'withdraw',
  )
  ctx.clock.set(at(140))
  problem(t, await ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(20_000)), 409, 'consent_missing', 'the upload')
  t.match(await recordingRow(ctx.tenant.accountId, rec.id), { status: 'rejected', storageKey: null })
  t.same(await objectsOf(ctx.tenant.accountId), { eu: [], sg: [] }, "the refused upload's object is deleted")

  const small = await setup(t, 'eu', { ...s3.env, UPLOAD_LIMIT: '2048' })
  const pending = await small.must(small.record(), 201, 'record')
  problem(t, await small.put(small.url(`/${pending.id}/content`), randomBytes(4096)), 413, 'upload_too_large')
  t.match(await recordingRow(small.tenant.accountId, pending.id), { status: 'pending', storageKey: null })
  t.same(await objectsOf(small.tenant.accountId), { eu: [], sg: [] }, 'nothing of the oversized upload is kept')
})

t.test('a bucket that refuses writes: 503 storage_unavailable, the recording stays pending, no object; the retry after it recovers stores', async (t) => {
  const ctx = await setup(t, 'eu')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  s3.refuseWrites.add(BUCKETS.eu)
  try {
    const small = await ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(10_000))
    problem(t, small, 503, 'storage_unavailable', 'one PUT refused')
    t.ok(small.headers['retry-after'], 'with Retry-After')
    problem(t, await ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(PART_SIZE + 1)), 503, 'storage_unavailable', 'a multipart upload refused')
  } finally {
    s3.refuseWrites.delete(BUCKETS.eu)
  }
  // A store that takes the multipart upload and then refuses its parts: the body stops being read,
  // the answer comes (no hang), and the upload is aborted.
  s3.refuseParts.add(BUCKETS.eu)
  const abortsBefore = s3.aborted.length
  try {
    problem(t, await ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(PART_SIZE * 4)), 503, 'storage_unavailable', 'parts refused mid-way')
  } finally {
    s3.refuseParts.delete(BUCKETS.eu)
  }
  t.ok(s3.aborted.length > abortsBefore, 'the multipart upload was aborted')
  t.match(await recordingRow(ctx.tenant.accountId, rec.id), { status: 'pending', storageKey: null })
  t.same(await objectsOf(ctx.tenant.accountId), { eu: [], sg: [] }, 'no object')
  const bytes = randomBytes(10_000)
  const up = await ctx.put(ctx.url(`/${rec.id}/content`), bytes)
  t.equal(up.status, 200, 'stored once the bucket takes writes', { body: up.body })
})

t.test('an upload cut by the client mid-body: the multipart upload is aborted, nothing is stored, the recording stays pending', async (t) => {
  const ctx = await setup(t, 'eu')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  await ctx.api.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.api.app.server.address() as AddressInfo
  const abortsBefore = s3.aborted.length
  const declared = PART_SIZE * 3
  await new Promise<void>((resolve) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: ctx.url(`/${rec.id}/content`),
      headers: { authorization: `Bearer ${ctx.recorder.token}`, 'content-type': 'application/octet-stream', 'content-length': String(declared) },
    })
    request.on('error', () => resolve())
    request.on('response', () => resolve())
    // More than a part, so the multipart upload has begun; then the connection drops.
    request.write(randomBytes(PART_SIZE + 1_000_000), () => setTimeout(() => request.destroy(), 300))
  })
  const deadline = Date.now() + 10_000
  while (s3.aborted.length === abortsBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(s3.aborted.length > abortsBefore, 'the multipart upload was aborted')
  t.match(s3.aborted.at(-1), { bucket: BUCKETS.eu, key: new RegExp(`^${ctx.tenant.accountId}/${rec.id}/`) })
  t.match(await recordingRow(ctx.tenant.accountId, rec.id), { status: 'pending', storageKey: null })
  t.same(await objectsOf(ctx.tenant.accountId), { eu: [], sg: [] }, 'no object')
})

t.test('the purge collects objects no row points at after the grace period, in both buckets; referenced and fresh ones stay', async (t) => {
  const ctx = await setup(t, 'sg')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  await ctx.must(ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(3000)), 200, 'upload')
  const live = (await recordingRow(ctx.tenant.accountId, rec.id)).storageKey!.slice(`s3://${BUCKETS.sg}/`.length)
  // What a crash between a completed upload and its transaction leaves: a staged object.
  const orphan = `${ctx.tenant.accountId}/${newId()}/${crypto.randomUUID()}`
  const fresh = `${ctx.tenant.accountId}/${newId()}/${crypto.randomUUID()}`
  const otherBucket = `${ctx.tenant.accountId}/${newId()}/${crypto.randomUUID()}`
  for (const key of [orphan, fresh]) await s3.put(BUCKETS.sg, key, 'left behind')
  await s3.put(BUCKETS.eu, otherBucket, 'left behind')
  const hoursAgo = new Date(Date.now() - 2 * 3_600_000)
  for (const key of [orphan, live]) s3.age(BUCKETS.sg, key, hoursAgo)
  s3.age(BUCKETS.eu, otherBucket, hoursAgo)

  const listed = []
  for await (const blob of ctx.api.app.services.blobs.list()) if (blob.accountId === ctx.tenant.accountId) listed.push(blob.key)
  t.same(listed.sort(), [`s3://${BUCKETS.eu}/${otherBucket}`, ...[orphan, fresh, live].map((key) => `s3://${BUCKETS.sg}/${key}`)].sort(), 'list() names every object in the form rows hold')

  const report = await ctx.api.app.services.retention.purge({ accountIds: [ctx.tenant.accountId] })
  t.equal(report.orphanBlobsRemoved, 2)
  t.same(await s3.keys(BUCKETS.sg, `${ctx.tenant.accountId}/`), [fresh, live].sort(), 'the aged orphan is gone; the fresh one and the referenced one stay')
  t.same(await s3.keys(BUCKETS.eu, `${ctx.tenant.accountId}/`), [], 'the orphan in the other bucket is gone too')
  t.equal(await ctx.api.app.services.blobs.sweepIncoming(new Date()), 0, 'a server without the multipart listing has nothing to sweep')
})

t.test('multipart uploads a crash left open are aborted by the sweep once older than its instant; newer and foreign ones stay', async (t) => {
  const ctx = await setup(t, 'eu')
  const stale = `${ctx.tenant.accountId}/${newId()}/${crypto.randomUUID()}`
  const recent = `${ctx.tenant.accountId}/${newId()}/${crypto.randomUUID()}`
  const cutoff = new Date(Date.now() - 3_600_000)
  s3.openUploads.set(BUCKETS.eu, [
    { key: stale, uploadId: 'stale-upload', initiated: new Date(cutoff.getTime() - 60_000) },
    { key: recent, uploadId: 'recent-upload', initiated: new Date() },
    { key: 'not-ours/some-file', uploadId: 'foreign-upload', initiated: new Date(0) },
  ])
  const abortsBefore = s3.aborted.length
  try {
    t.equal(await ctx.api.app.services.blobs.sweepIncoming(cutoff), 1, 'one aborted')
  } finally {
    s3.openUploads.delete(BUCKETS.eu)
  }
  t.same(s3.aborted.slice(abortsBefore), [{ bucket: BUCKETS.eu, key: stale }])
})

t.test('a row whose object went missing reads as 404, not as an error', async (t) => {
  const ctx = await setup(t, 'eu')
  const rec = await ctx.must(ctx.record(), 201, 'record')
  await ctx.must(ctx.put(ctx.url(`/${rec.id}/content`), randomBytes(1000)), 200, 'upload')
  const key = (await recordingRow(ctx.tenant.accountId, rec.id)).storageKey!
  await ctx.api.app.services.blobs.remove(key)
  await ctx.api.app.services.blobs.remove(key)
  const read = await download(ctx.api, ctx.url(`/${rec.id}/content`), ctx.host.token)
  t.equal(read.status, 404)
})
