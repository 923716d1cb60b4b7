import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { and, eq, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { attentionSpans, auditCheckpoints, auditEntries, auditHeads, consentRecords, idempotencyKeys, mediaDiagnostics, recordings, transcripts } from '../../db/schema/index.js'
import { entryHash } from '../../src/modules/audit/audit.chain.js'
import { newId } from '../../src/lib/ids.js'
import type { PurgeReport } from '../../src/modules/retention/retention.service.js'
import { TestClock } from '../helpers/clock.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { chainedTrail, auditRows as auditActions } from '../helpers/audit.js'

// Retention that runs (issue 15): each data category purged exactly at its period's end and not
// a millisecond before (P-RET-1, P-REC-5), legal holds that keep data and say so (P-RET-2), the
// audit trail's floor and its signed checkpoint (P-RET-3), a purge safe to re-run, to stop
// half-way, and to run twice at once. The server clock is moved by hand; each purge is limited
// to the test's own account, since the test database is shared with other files.

// The purge CLI runs as a child process: tap's process tracking must leave it alone, or the
// child's coverage replaces this file's (as test/db/folder-lock.test.ts does for its children).
process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./'

type Body = Record<string, unknown>
type Res = { status: number; headers: Record<string, unknown>; body: any }

const T0 = '2026-12-01T09:00:00.000Z'
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString()
const DAY_MS = 86_400_000
const START = at(10)
const END = at(100)
/** Recordings and transcripts of the window expire 7 days after it ends (recording.auto_delete_days). */
const EXPIRY = Date.parse(END) + 7 * DAY_MS

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  meetingId: string
  host: { id: string; token: string }
  alice: { id: string; token: string }
  recorder: { id: string; token: string }
  hostP: string
  aliceP: string
  post: (url: string, token: string, body?: Body, headers?: Record<string, string>) => Promise<Res>
  get: (url: string, token: string) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** Registers a cloud recording of the window and uploads its bytes. */
  record: () => Promise<string>
  transcribe: () => Promise<string>
  purge: (asOf: number, options?: { dryRun?: boolean; batchSize?: number; afterBatch?: () => unknown }) => Promise<PurgeReport>
  holds: string
}

async function setup(t: Test): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: Body, headers?: Record<string, string>) =>
    api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })
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
          'transcript.enabled': true,
          'recording.auto_delete_days': 7,
          'retention.audit_days': 180,
          'retention.evidence_years': 1,
          'meeting.passcode_required': false,
          'meeting.waiting_room': false,
        },
      },
    }),
    200,
    'settings',
  )
  const notice = async (kind: string) =>
    (await must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale: 'en', title: kind, text: `This meeting's ${kind} notice.` }), 201, 'notice')).currentVersion.id as string
  const notices = { recording: await notice('recording'), transcript: await notice('transcript') }
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const meeting = await must(post('/v1/meetings', host.token, { topic: 'Kept for a while', scheduledStart: T0, durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(post(`/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const hostP = (await must(post(`/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId as string
  const aliceP = (await must(post(`/v1/meetings/${meeting.id}/participants`, alice.token, {}), 201, 'alice joins')).participantId as string
  clock.set(at(1))
  for (const [participantId, token] of [
    [hostP, host.token],
    [aliceP, alice.token],
  ] as const) {
    for (const scope of ['recording', 'transcript'] as const) {
      await must(post(`/v1/meetings/${meeting.id}/consents`, token, { participantId, scope, decision: 'granted', noticeVersionId: notices[scope], method: 'click_continue' }), 201, 'grant')
    }
  }
  clock.set(at(120))
  const record = async () => {
    const created = await must(post(`/v1/meetings/${meeting.id}/recordings`, recorder.token, { kind: 'cloud', startedAt: START, endedAt: END }), 201, 'record')
    await must(
      api.request({ method: 'PUT', url: `/v1/meetings/${meeting.id}/recordings/${created.id}/content`, token: recorder.token, payload: Buffer.from('bytes of a meeting'), headers: { 'content-type': 'application/octet-stream' } }),
      200,
      'upload',
    )
    return created.id as string
  }
  const transcribe = async () =>
    (await must(post(`/v1/meetings/${meeting.id}/transcripts`, recorder.token, { startedAt: START, endedAt: END, segments: [{ speakerParticipantId: hostP, startMs: 0, endMs: 1000, text: 'Hello' }] }), 201, 'transcribe'))
      .id as string
  const purge = (asOf: number, options: { dryRun?: boolean; batchSize?: number; afterBatch?: () => unknown } = {}) =>
    api.app.services.retention.purge({ asOf: new Date(asOf), accountIds: [tenant.accountId], ...options })
  return {
    api,
    clock,
    tenant,
    meetingId: meeting.id,
    host,
    alice,
    recorder,
    hostP,
    aliceP,
    post,
    get,
    must,
    record,
    transcribe,
    purge,
    holds: `/v1/accounts/${tenant.accountId}/legal-holds`,
  }
}

const purged = (report: PurgeReport, category: string) => report.lines.find((line) => line.category === category)?.purged ?? 0
const withheld = (report: PurgeReport, category: string) => report.lines.find((line) => line.category === category)

async function recordingRow(accountId: string, id: string) {
  const { db } = await testDatabase()
  const [row] = await db.select().from(recordings).where(and(eq(recordings.accountId, accountId), eq(recordings.id, id)))
  return row!
}


const blobPath = (api: TestApp, key: string) => path.join(api.config.dataDir, 'blobs', key)

t.test('P-RET-1, P-REC-5: recordings and transcripts go exactly at the end of the period fixed when stored, rows first, then bytes', async (t) => {
  const ctx = await setup(t)
  const recordingId = await ctx.record()
  const transcriptId = await ctx.transcribe()
  const stored = await recordingRow(ctx.tenant.accountId, recordingId)
  t.equal(stored.expiresAt!.getTime(), EXPIRY, 'expiresAt = end of the window + recording.auto_delete_days')
  const key = stored.storageKey!
  t.ok(existsSync(blobPath(ctx.api, key)), 'the bytes are in the blob store')

  // A later change of the setting applies to later recordings only.
  await ctx.must(ctx.api.request({ method: 'PATCH', url: `/v1/accounts/${ctx.tenant.accountId}/settings`, token: ctx.tenant.admin, body: { values: { 'recording.auto_delete_days': 1 } } }), 200, 'shorter')
  t.equal((await recordingRow(ctx.tenant.accountId, recordingId)).expiresAt!.getTime(), EXPIRY, 'the stored recording keeps its period')

  const early = await ctx.purge(EXPIRY - 1)
  t.equal(purged(early, 'recordings'), 0, 'a millisecond before: nothing')
  t.equal(purged(early, 'transcripts'), 0)
  t.equal((await recordingRow(ctx.tenant.accountId, recordingId)).status, 'stored')

  const due = await ctx.purge(EXPIRY)
  t.equal(purged(due, 'recordings'), 1, 'at the end of the period: the recording goes')
  t.equal(purged(due, 'transcripts'), 1, 'and its transcript')
  const after = await recordingRow(ctx.tenant.accountId, recordingId)
  t.match(after, { status: 'deleted', storageKey: null })
  t.equal(after.deletedAt!.getTime(), EXPIRY)
  t.notOk(existsSync(blobPath(ctx.api, key)), 'the bytes are gone')
  const { db } = await testDatabase()
  const [transcript] = await db.select().from(transcripts).where(and(eq(transcripts.accountId, ctx.tenant.accountId), eq(transcripts.id, transcriptId)))
  t.match(transcript, { status: 'deleted', segments: [] })
  const listed = await ctx.get(`/v1/meetings/${ctx.meetingId}/recordings/${recordingId}`, ctx.host.token)
  t.equal(listed.body.status, 'deleted', 'the API shows it deleted')

  // The deletion record: counts per category, never content.
  const records = await auditActions(ctx.tenant.accountId, 'retention.purged')
  t.same(
    records.map((entry) => entry.details).sort((a, b) => String(a.category).localeCompare(String(b.category))),
    [
      { category: 'recordings', count: 1, asOf: new Date(EXPIRY).toISOString() },
      { category: 'transcripts', count: 1, asOf: new Date(EXPIRY).toISOString() },
    ],
  )

  // Re-running changes nothing and records nothing.
  const again = await ctx.purge(EXPIRY + DAY_MS)
  t.equal(purged(again, 'recordings') + purged(again, 'transcripts'), 0, 'a second run finds nothing')
  t.equal((await auditActions(ctx.tenant.accountId, 'retention.purged')).length, 2, 'and writes no entry')
})

t.test('P-RET-1: attention spans, diagnostics and stored idempotent answers go exactly at their period end', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const acc = ctx.tenant.accountId
  const spanExpiry = Date.parse(END) + 30 * DAY_MS
  await db.insert(attentionSpans).values({ accountId: acc, id: newId(), meetingId: ctx.meetingId, participantId: ctx.aliceP, lostAt: new Date(START), regainedAt: new Date(END), expiresAt: new Date(spanExpiry) })
  const diagnosticsExpiry = Date.parse(END) + 3 * DAY_MS
  await db.insert(mediaDiagnostics).values({
    accountId: acc,
    id: newId(),
    userId: ctx.alice.id,
    meetingId: ctx.meetingId,
    periodStart: new Date(START),
    periodEnd: new Date(END),
    bitrateKbps: 800,
    packetLossPct: 0.5,
    jitterMs: 10,
    roundTripMs: 40,
    codec: 'opus',
    networkType: 'wifi',
    receivedAt: new Date(END),
    expiresAt: new Date(diagnosticsExpiry),
  })
  // An idempotent answer stored through the API, at the clock's instant.
  await ctx.must(ctx.post('/v1/meetings', ctx.host.token, { topic: 'Retried', scheduledStart: T0, durationMinutes: 30, timeZone: 'UTC' }, { 'idempotency-key': 'retention-answer-1' }), 201, 'keyed POST')
  const [answer] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.accountId, acc), eq(idempotencyKeys.key, 'retention-answer-1')))
  const answerExpiry = answer!.createdAt.getTime() + DAY_MS

  for (const [category, expiry] of [
    // In the order they expire: each run purges only its own category's row.
    ['idempotent_answers', answerExpiry],
    ['media_diagnostics', diagnosticsExpiry],
    ['attention_spans', spanExpiry],
  ] as const) {
    t.equal(purged(await ctx.purge(expiry - 1), category), 0, `${category}: kept a millisecond before`)
    t.equal(purged(await ctx.purge(expiry), category), 1, `${category}: purged at the end of its period`)
  }
  t.equal((await db.select().from(attentionSpans).where(eq(attentionSpans.accountId, acc))).length, 0)
  t.equal((await db.select().from(mediaDiagnostics).where(eq(mediaDiagnostics.accountId, acc))).length, 0)
  t.equal((await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.accountId, acc), eq(idempotencyKeys.key, 'retention-answer-1')))).length, 0)
})

t.test('P-RET-3: the audit trail keeps its floor, is cut from its start behind a signed checkpoint, and still verifies', async (t) => {
  const ctx = await setup(t)
  const acc = ctx.tenant.accountId
  const settings = `/v1/accounts/${acc}/settings`
  // Bounds: below the floor and above the ceiling are refused, naming the bound.
  const low = await ctx.api.request({ method: 'PATCH', url: settings, token: ctx.tenant.admin, body: { values: { 'retention.audit_days': 179 } } })
  t.equal(low.status, 400)
  t.equal(low.body.code, 'retention_out_of_bounds')
  t.match(low.body.detail, /floor of 180 days/)
  t.match(low.body.errors, [{ pointer: '/body/values/retention.audit_days', code: 'retention_out_of_bounds' }])
  const high = await ctx.api.request({ method: 'PATCH', url: settings, token: ctx.tenant.admin, body: { values: { 'retention.evidence_years': 11 } } })
  t.equal(high.status, 400)
  t.equal(high.body.code, 'retention_out_of_bounds')
  t.match(high.body.detail, /ceiling of 10 years/)
  const mixed = await ctx.api.request({ method: 'PATCH', url: settings, token: ctx.tenant.admin, body: { values: { 'media_monitoring.retention_days': 366, 'x.unknown': 1 } } })
  t.equal(mixed.body.code, 'validation_failed', 'with other errors it is a validation failure listing both')
  t.equal(mixed.body.errors.length, 2)

  // Entries of two instants: the setup's (up to at(1)) and a recording's (at(120)).
  await ctx.record()
  const { db } = await testDatabase()
  const entries = await chainedTrail(db, acc)
  const before = entries.length
  t.ok(before > 10, 'the setup wrote a trail')
  // Everything up to the entry written at at(1) is past 180 days at that instant + 180 days.
  const cutAt = Date.parse(at(1)) + 180 * DAY_MS
  const expected = entries.filter((entry) => entry.at.getTime() <= Date.parse(at(1))).length
  t.ok(expected > 0 && expected < before)
  t.equal(purged(await ctx.purge(cutAt - 1), 'audit_trail'), entries.filter((entry) => entry.at.getTime() <= Date.parse(at(1)) - 1).length, 'a millisecond before: only older entries')
  const report = await ctx.purge(cutAt, { batchSize: 3 })
  const total = (await chainedTrail(db, acc)).filter((entry) => entry.at.getTime() <= Date.parse(at(1))).length
  t.equal(total, 0, 'no entry past its period is left')
  t.equal(purged(report, 'audit_trail'), entries.filter((entry) => entry.at.getTime() === Date.parse(at(1))).length, 'at the end of the period: the entries written at that instant go')

  const verify = await ctx.get(`/v1/accounts/${acc}/audit/verify`, ctx.tenant.admin)
  t.equal(verify.status, 200)
  t.equal(verify.body.valid, true, 'the shortened trail verifies from its checkpoint')
  t.ok(verify.body.checkpointSeq >= expected, 'and says where it starts')

  // A forged checkpoint (another hash) breaks verification.
  await db.execute(sql`update audit_checkpoints set hash = ${'f'.repeat(64)} where account_id = ${acc}`)
  const forged = await ctx.get(`/v1/accounts/${acc}/audit/verify`, ctx.tenant.admin)
  t.equal(forged.body.valid, false, 'a checkpoint whose signature does not match fails verification')
})

t.test('P-RET-3: the purge never cuts past the head: an entry written behind the chain’s back stays, and no checkpoint vouches for it', async (t) => {
  const ctx = await setup(t)
  const acc = ctx.tenant.accountId
  const { db } = await testDatabase()
  await chainedTrail(db, acc)
  const [head] = await db.select().from(auditHeads).where(eq(auditHeads.accountId, acc))
  const forged = {
    accountId: acc,
    seq: head!.seq + 1,
    id: newId(Date.parse(T0)),
    at: new Date(T0),
    actorType: 'system' as const,
    actorId: 'forger',
    action: 'forged',
    targetType: 'account',
    targetId: acc,
    details: {},
  }
  await db.insert(auditEntries).values({ ...forged, prevHash: head!.hash, hash: entryHash(head!.hash, forged) })
  // Far past every period: the whole chained trail may go, the forged entry may not.
  await ctx.purge(Date.parse(T0) + 4000 * DAY_MS)
  const [checkpoint] = await db.select().from(auditCheckpoints).where(eq(auditCheckpoints.accountId, acc))
  t.equal(checkpoint!.seq, head!.seq, 'the checkpoint is the head, not the entry past it')
  const left = await db.select().from(auditEntries).where(eq(auditEntries.accountId, acc))
  t.same(left.map((entry) => entry.actorId), ['forger'], 'the chained trail went; the forged entry is still there to be found')
  const verify = await ctx.get(`/v1/accounts/${acc}/audit/verify`, ctx.tenant.admin)
  t.match(verify.body, { valid: false, firstInvalidSeq: head!.seq + 1, checkpointSeq: head!.seq })
})

t.test('P-RET-3: the append-only evidence refuses UPDATE and DELETE but for the purge, and only past the period', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const acc = ctx.tenant.accountId
  // The database's refusal, as drizzle wraps it.
  const refusal = (work: Promise<unknown>) =>
    work.then(
      () => 'allowed',
      (error: { cause?: { message?: string }; message: string }) => error.cause?.message ?? error.message,
    )
  t.match(await refusal(db.execute(sql`delete from consent_records where account_id = ${acc}`)), /consent_records is append-only/, 'DELETE of consent records is refused')
  t.match(await refusal(db.execute(sql`update audit_entries set action = 'x' where account_id = ${acc}`)), /audit_entries is append-only/, 'UPDATE of the trail is refused')
  t.match(
    await refusal(
      db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('consentry.purge_before', ${new Date(Date.parse(T0) - 1).toISOString()}, true)`)
        await tx.execute(sql`delete from consent_records where account_id = ${acc}`)
      }),
    ),
    /append-only/,
    'the purge exception does not reach rows newer than its cutoff',
  )
  t.match(
    await refusal(
      db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('consentry.purge_before', ${new Date(Date.parse(T0) + 365 * DAY_MS).toISOString()}, true)`)
        await tx.execute(sql`update consent_records set method = 'explicit_toggle' where account_id = ${acc}`)
      }),
    ),
    /append-only/,
    'nor turns an UPDATE into an allowed change',
  )
  t.equal((await db.select().from(consentRecords).where(eq(consentRecords.accountId, acc))).length, 4, 'the records are all there')
})

t.test('P-RET-1: consent evidence goes after its years, only once the meeting is over and nothing it proves is stored', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const acc = ctx.tenant.accountId
  const recordingId = await ctx.record()
  const yearAfter = Date.parse('2027-12-01T09:00:01.000Z')
  t.equal(purged(await ctx.purge(yearAfter, { dryRun: true }), 'consent_evidence'), 0, 'a live meeting keeps its proof')
  await ctx.must(ctx.post(`/v1/meetings/${ctx.meetingId}/end`, ctx.host.token), 200, 'end')
  await ctx.must(ctx.api.request({ method: 'PATCH', url: `/v1/accounts/${acc}/settings`, token: ctx.tenant.admin, body: { values: { 'recording.auto_delete_days': 3650 } } }), 200, 'long')
  t.equal((await recordingRow(acc, recordingId)).status, 'stored')
  const dry = await ctx.purge(yearAfter, { dryRun: true })
  t.equal(purged(dry, 'consent_evidence'), 0, 'a stored recording keeps the consents that allowed it')
  t.equal(purged(dry, 'recordings'), 1, 'the recording itself expired after 7 days')
  const report = await ctx.purge(yearAfter - 1)
  t.equal(purged(report, 'recordings'), 1)
  t.equal(purged(report, 'consent_evidence'), 0, 'a year minus a millisecond: the consents stay')
  const due = await ctx.purge(yearAfter)
  t.equal(purged(due, 'consent_evidence'), 4, 'a year after: the four records go')
  t.equal((await db.select().from(consentRecords).where(eq(consentRecords.accountId, acc))).length, 0)
})

t.test('P-RET-2: a legal hold keeps what it covers, reports it withheld under its id, and releasing it lets the purge run', async (t) => {
  const ctx = await setup(t)
  const acc = ctx.tenant.accountId
  const recordingId = await ctx.record()

  // Bad input and faults.
  const stranger = await createTenant(ctx.api)
  t.equal((await ctx.post(ctx.holds, ctx.tenant.admin, { meetingId: newId(), reason: 'Dispute' })).status, 404, 'unknown meeting: 404')
  t.equal((await ctx.post(ctx.holds, ctx.tenant.admin, { subjectUserId: stranger.adminId, reason: 'Dispute' })).status, 404, "another account's user: 404")
  const both = await ctx.post(ctx.holds, ctx.tenant.admin, { meetingId: ctx.meetingId, subjectUserId: ctx.alice.id, reason: 'Dispute' })
  t.equal(both.status, 400, 'a user and a meeting at once: 400')
  const neither = await ctx.post(ctx.holds, ctx.tenant.admin, { reason: 'Dispute' })
  t.equal(neither.status, 400, 'neither: 400')
  const backwards = await ctx.post(ctx.holds, ctx.tenant.admin, { meetingId: ctx.meetingId, reason: 'Dispute', from: at(500), until: at(400) })
  t.equal(backwards.status, 400, 'until before from: 400')
  t.match(backwards.body.errors, [{ pointer: '/body/until' }])
  t.equal((await ctx.post(ctx.holds, ctx.host.token, { meetingId: ctx.meetingId, reason: 'Dispute' })).status, 403, 'members cannot hold')

  const hold = await ctx.must(ctx.post(ctx.holds, ctx.tenant.admin, { meetingId: ctx.meetingId, reason: 'Dispute 42' }), 201, 'hold')
  t.match(hold, { meetingId: ctx.meetingId, subjectUserId: null, active: true, releasedAt: null })
  const same = await ctx.post(ctx.holds, ctx.tenant.admin, { meetingId: ctx.meetingId, reason: 'Dispute 42 again', from: hold.from })
  t.equal(same.status, 409, 'an identical hold: 409')
  t.equal(same.body.code, 'hold_exists')
  t.equal(same.body.holdId, hold.id, 'naming the first')
  t.match(same.body.detail, hold.id)
  t.equal((await ctx.get(`${ctx.holds}/${hold.id}`, stranger.admin)).status, 404, 'no hold leaks across accounts')
  t.equal((await ctx.get(`/v1/accounts/${stranger.accountId}/legal-holds/${hold.id}`, stranger.admin)).status, 404)
  t.equal((await ctx.get(`/v1/accounts/${stranger.accountId}/legal-holds`, stranger.admin)).body.items.length, 0)

  const dry = await ctx.purge(EXPIRY, { dryRun: true })
  t.equal(purged(dry, 'recordings'), 0, 'the dry run omits the held recording')
  t.match(withheld(dry, 'recordings'), { withheld: 1, holdIds: [hold.id] })
  const kept = await ctx.purge(EXPIRY)
  t.equal(purged(kept, 'recordings'), 0, 'the purge skips it')
  t.match(withheld(kept, 'recordings'), { withheld: 1, holdIds: [hold.id] })
  t.equal((await recordingRow(acc, recordingId)).status, 'stored')
  const withheldEntries = await auditActions(acc, 'retention.withheld')
  t.match(withheldEntries.map((entry) => entry.details), [{ category: 'recordings', count: 1, holdIds: [hold.id] }], 'the trail says what was withheld, under which hold')

  // A hold on a captured participant keeps it too.
  const released = await ctx.api.request({ method: 'DELETE', url: `${ctx.holds}/${hold.id}`, token: ctx.tenant.admin })
  t.equal(released.status, 200)
  t.match(released.body, { active: false, releasedBy: ctx.tenant.adminId })
  const onAlice = await ctx.must(ctx.post(ctx.holds, ctx.tenant.admin, { subjectUserId: ctx.alice.id, reason: 'Alice asked a court' }), 201, 'hold alice')
  const dryAlice = await ctx.purge(EXPIRY, { dryRun: true })
  t.equal(purged(dryAlice, 'recordings'), 0, 'a hold on a captured user omits the recording')
  t.match(withheld(dryAlice, 'recordings'), { holdIds: [onAlice.id] })
  await ctx.must(ctx.api.request({ method: 'DELETE', url: `${ctx.holds}/${onAlice.id}`, token: ctx.tenant.admin }), 200, 'release alice')
  const list = await ctx.get(ctx.holds, ctx.tenant.admin)
  t.same(list.body.items.map((item: { id: string; active: boolean }) => [item.id, item.active]).sort(), [[hold.id, false], [onAlice.id, false]].sort())

  const dryFree = await ctx.purge(EXPIRY, { dryRun: true })
  t.same(withheld(dryFree, 'recordings')?.ids, [recordingId], 'released: the dry run lists the recording by id')
  t.equal(purged(await ctx.purge(EXPIRY), 'recordings'), 1, 'and the next run deletes it')
  const trail = await ctx.get(`/v1/accounts/${acc}/audit?limit=100`, ctx.tenant.admin)
  const actions = trail.body.items.map((entry: { action: string }) => entry.action)
  t.ok(actions.includes('legal_hold.created') && actions.includes('legal_hold.released'), 'holds and releases are audited')
})

t.test('a purge stopped half-way loses nothing it should keep, and the next run finishes; two runs at once never count a row twice', async (t) => {
  const ctx = await setup(t)
  const { db } = await testDatabase()
  const acc = ctx.tenant.accountId
  const ids: string[] = []
  for (let i = 0; i < 6; i++) ids.push(await ctx.record())
  const keptId = await (async () => {
    // One more, of a later window: it must survive every run below.
    ctx.clock.set(at(400))
    const created = await ctx.must(ctx.post(`/v1/meetings/${ctx.meetingId}/recordings`, ctx.recorder.token, { kind: 'cloud', startedAt: at(200), endedAt: at(300) }), 201, 'later')
    return created.id as string
  })()
  let batches = 0
  await t.rejects(
    ctx.purge(EXPIRY, {
      batchSize: 2,
      afterBatch: () => {
        if (++batches === 1) throw new Error('killed')
      },
    }),
    /killed/,
    'the run stops after its first batch',
  )
  const states = async () => (await db.select().from(recordings).where(eq(recordings.accountId, acc))).reduce<Record<string, number>>((n, row) => ({ ...n, [row.status]: (n[row.status] ?? 0) + 1 }), {})
  t.same(await states(), { deleted: 2, stored: 4, pending: 1 }, 'its committed batch stays done; nothing else changed')
  const first = await auditActions(acc, 'retention.purged')
  t.same(first.map((entry) => entry.details.count), [2], 'the batch committed with its deletion record')

  // Two runs at once share the rest.
  const [a, b] = await Promise.all([ctx.purge(EXPIRY, { batchSize: 1 }), ctx.purge(EXPIRY, { batchSize: 1 })])
  t.equal(purged(a, 'recordings') + purged(b, 'recordings'), 4, 'together they deleted the four left, none twice')
  t.same(await states(), { deleted: 6, pending: 1 })
  t.equal((await recordingRow(acc, keptId)).status, 'pending', 'the later recording (registered, not yet uploaded) is kept')
  const counted = (await auditActions(acc, 'retention.purged')).filter((entry) => entry.details.category === 'recordings').reduce((sum, entry) => sum + Number(entry.details.count), 0)
  t.equal(counted, 6, 'the deletion records add up to what went')
  for (const id of ids) t.equal((await recordingRow(acc, id)).storageKey, null)
})

t.test('the purge collects blobs no row points at (a crash between row and bytes), after a grace period', async (t) => {
  const ctx = await setup(t)
  const acc = ctx.tenant.accountId
  const recordingId = await ctx.record()
  const live = (await recordingRow(acc, recordingId)).storageKey!
  const orphan = `${acc}/${newId()}`
  const fresh = `${acc}/${newId()}`
  for (const key of [orphan, fresh]) {
    mkdirSync(path.dirname(blobPath(ctx.api, key)), { recursive: true })
    writeFileSync(blobPath(ctx.api, key), 'left behind')
  }
  const hourAgo = new Date(Date.now() - 2 * 3_600_000)
  utimesSync(blobPath(ctx.api, orphan), hourAgo, hourAgo)
  utimesSync(blobPath(ctx.api, live), hourAgo, hourAgo)
  const report = await ctx.purge(Date.parse(T0))
  t.equal(report.orphanBlobsRemoved, 1)
  t.notOk(existsSync(blobPath(ctx.api, orphan)), 'the orphan is gone')
  t.ok(existsSync(blobPath(ctx.api, fresh)), 'a blob younger than the grace period stays (its row may be committing)')
  t.ok(existsSync(blobPath(ctx.api, live)), 'a blob its row points at stays')
})

t.test('npm run purge: usage, bad arguments, and (on PostgreSQL, beside the service) a dry run that lists an expired recording unless held', async (t) => {
  // The CLI runs the sources through tsx, whose line mapping differs from the test loader's: its
  // coverage, merged with the in-process runs', skews the report (see config.test.ts), so tap
  // records none of it.
  const run = (args: string[], env: Record<string, string> = {}) =>
    // The CLI gets only the environment it needs, as a deployment would give it.
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/purge.ts', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: path.resolve(import.meta.dirname, '..', '..') }).then(
      (done) => ({ code: 0, out: done.stdout, err: done.stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, out: error.stdout, err: error.stderr }),
    )
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /--dry-run/)
  const bad = await run(['--as-of', 'yesterday'])
  t.equal(bad.code, 1)
  t.match(bad.err, /--as-of: not an ISO 8601 instant/)
  const unknown = await run(['--everything'])
  t.equal(unknown.code, 1)
  t.match(unknown.err, /usage/)

  const url = process.env.DATABASE_URL
  if (!url) return // The embedded database is this process's own, in memory: no second process can read it.
  const ctx = await setup(t)
  const recordingId = await ctx.record()
  const env = { DATABASE_URL: url, JWT_SECRET: (ctx.api.config.jwt as { secret?: string }).secret ?? 'x'.repeat(32), RECEIPT_SIGNING_KEY: ctx.api.config.receiptSigningKey!, DATA_DIR: ctx.api.config.dataDir }
  const listed = await run(['--dry-run', '--as-of', new Date(EXPIRY).toISOString()], env)
  t.equal(listed.code, 0, listed.err)
  t.match(listed.out, recordingId, 'the dry run lists the expired recording by id')
  await ctx.must(ctx.post(ctx.holds, ctx.tenant.admin, { subjectUserId: ctx.alice.id, reason: 'Held' }), 201, 'hold')
  const held = await run(['--dry-run', '--as-of', new Date(EXPIRY).toISOString()], env)
  t.notMatch(held.out, recordingId, 'held: omitted')
  t.equal((await recordingRow(ctx.tenant.accountId, recordingId)).status, 'stored', 'a dry run deletes nothing')
})
