import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import createClient, { type Middleware } from 'openapi-fetch'
import t from 'tap'
import type { paths } from '../../openapi/client.js'
import { buildTestApp, createTenant } from '../helpers/app.js'
import { checkResponse } from '../helpers/openapi.js'

// Issue 5, item 8: the flow a meeting platform runs, driven over a real port through a client
// generated from openapi/openapi.json (openapi-typescript types + openapi-fetch). Every answer
// is also checked against the document. The server runs on the system clock: instants are real.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('P-REC-1, P-REC-2, P-REC-4: a platform publishes notices, records with consent, and is refused after a withdrawal', async (t) => {
  const api = await buildTestApp(t)
  const address = await api.app.listen({ port: 0, host: '127.0.0.1' })
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const bob = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])

  const seen: string[] = []
  const validate: Middleware = {
    async onResponse({ request, response }) {
      const contentType = response.headers.get('content-type') ?? undefined
      const text = await response.clone().text()
      const body = text === '' ? undefined : /json/.test(contentType ?? '') ? JSON.parse(text) : text
      const url = new URL(request.url)
      const problems = checkResponse({ method: request.method, url: url.pathname + url.search, status: response.status, contentType, body })
      if (problems.length > 0) throw new Error(`response does not match openapi/openapi.json:\n${problems.join('\n')}`)
      seen.push(`${request.method} ${url.pathname} ${response.status}`)
      return undefined
    },
  }
  const clientFor = (token: string) => {
    const client = createClient<paths>({ baseUrl: address, headers: { authorization: `Bearer ${token}` } })
    client.use(validate)
    return client
  }
  const asAdmin = clientFor(tenant.admin)
  const asHost = clientFor(host.token)
  const asAlice = clientFor(alice.token)
  const asBob = clientFor(bob.token)
  const asRecorder = clientFor(recorder.token)
  const accountId = tenant.accountId

  // The admin publishes the recording and transcript notices and requires explicit consent, locked.
  const recordingNotice = await asAdmin.POST('/v1/accounts/{accountId}/notices', {
    params: { path: { accountId } },
    body: { kind: 'recording', locale: 'en', title: 'This meeting may be recorded', text: 'Recordings are kept 30 days.' },
  })
  t.equal(recordingNotice.response.status, 201)
  const transcriptNotice = await asAdmin.POST('/v1/accounts/{accountId}/notices', {
    params: { path: { accountId } },
    body: { kind: 'transcript', locale: 'en', title: 'This meeting may be transcribed', text: 'Transcripts are kept 30 days.' },
  })
  t.equal(transcriptNotice.response.status, 201)
  const settings = await asAdmin.PATCH('/v1/accounts/{accountId}/settings', {
    params: { path: { accountId } },
    body: {
      values: { 'recording.cloud.enabled': true, 'transcript.enabled': true, 'recording.consent_mode': 'explicit', 'meeting.passcode_required': false, 'meeting.waiting_room': false },
      locks: { 'recording.consent_mode': 'fixed' },
    },
  })
  t.equal(settings.response.status, 200)

  // The host schedules and starts the meeting; three people join and see the notices.
  const meeting = await asHost.POST('/v1/meetings', {
    body: { topic: 'Quarterly review', scheduledStart: new Date().toISOString(), durationMinutes: 30, timeZone: 'Europe/Berlin' },
  })
  t.equal(meeting.response.status, 201)
  const meetingId = meeting.data!.id
  t.equal((await asHost.POST('/v1/meetings/{meetingId}/start', { params: { path: { meetingId } } })).response.status, 200)

  const join = async (client: ReturnType<typeof clientFor>) => {
    const joined = await client.POST('/v1/meetings/{meetingId}/participants', { params: { path: { meetingId } }, body: { locale: 'en' } })
    t.equal(joined.response.status, 201)
    return joined.data!
  }
  const hostJoin = await join(asHost)
  const aliceJoin = await join(asAlice)
  const bobJoin = await join(asBob)
  t.same(aliceJoin.notices.map((n) => n.kind).sort(), ['recording', 'transcript'], 'the join answer lists the notices to show')
  t.equal(aliceJoin.settings.recordingConsentMode, 'explicit')

  // Everyone answers the recording notice; Alice and the host also accept the transcript.
  const answer = async (client: ReturnType<typeof clientFor>, participantId: string, scope: 'recording' | 'transcript', decision: 'granted' | 'withdrawn', noticeVersionId?: string) => {
    const res = await client.POST('/v1/meetings/{meetingId}/consents', {
      params: { path: { meetingId }, header: { 'idempotency-key': `${participantId}-${scope}-${decision}` } },
      body: { participantId, scope, decision, method: 'click_continue', ...(noticeVersionId ? { noticeVersionId } : {}) },
    })
    t.equal(res.response.status, 201, `${scope} ${decision}`)
    return res.data!
  }
  const recordingVersion = recordingNotice.data!.currentVersion.id
  const transcriptVersion = transcriptNotice.data!.currentVersion.id
  const windowStart = new Date().toISOString()
  await sleep(5)
  for (const [client, p] of [
    [asHost, hostJoin],
    [asAlice, aliceJoin],
    [asBob, bobJoin],
  ] as const) {
    await answer(client, p.participantId, 'recording', 'granted', recordingVersion)
  }
  await answer(asHost, hostJoin.participantId, 'transcript', 'granted', transcriptVersion)
  const aliceTranscript = await answer(asAlice, aliceJoin.participantId, 'transcript', 'granted', transcriptVersion)
  t.match(aliceTranscript.receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a signed receipt comes back')

  // The recorder captures from just after the last grant; it asks the gate first.
  // The server stamps on the database's clock, which may differ from this process's by a few
  // milliseconds: the windows are wide enough that the segments below fit whatever the offset.
  const captureStart = new Date(Date.parse(aliceTranscript.at) + 1).toISOString()
  await sleep(300)
  const captureEnd = new Date().toISOString()
  await sleep(5)
  const decision = await asRecorder.POST('/v1/meetings/{meetingId}/recording-decisions', {
    params: { path: { meetingId } },
    body: { scope: 'recording', startedAt: captureStart, endedAt: captureEnd },
  })
  t.equal(decision.response.status, 200)
  t.equal(decision.data!.allowed, true, 'everyone present granted')
  t.same([...decision.data!.capturedParticipantIds].sort(), [hostJoin.participantId, aliceJoin.participantId, bobJoin.participantId].sort())
  t.ok(Date.parse(windowStart) < Date.parse(captureStart))

  const recording = await asRecorder.POST('/v1/meetings/{meetingId}/recordings', {
    params: { path: { meetingId } },
    body: { kind: 'cloud', startedAt: captureStart, endedAt: captureEnd },
  })
  t.equal(recording.response.status, 201)
  const recordingId = recording.data!.id
  const bytes = Buffer.from('RIFF....a short recording')
  const upload = await fetch(`${address}/v1/meetings/${meetingId}/recordings/${recordingId}/content`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${recorder.token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  })
  t.equal(upload.status, 200)
  t.equal(((await upload.json()) as { status: string }).status, 'stored')

  // A transcript: Bob spoke but never consented to transcription, so he is redacted.
  const transcript = await asRecorder.POST('/v1/meetings/{meetingId}/transcripts', {
    params: { path: { meetingId } },
    body: {
      startedAt: captureStart,
      endedAt: captureEnd,
      recordingId,
      redact: true,
      segments: [
        { speakerParticipantId: aliceJoin.participantId, startMs: 0, endMs: 10, text: 'Welcome, everyone.' },
        { speakerParticipantId: bobJoin.participantId, startMs: 10, endMs: 20, text: 'Thanks.' },
      ],
    },
  })
  t.equal(transcript.response.status, 201)
  t.same(
    transcript.data!.segments.map((s) => [s.text, s.redacted]),
    [
      ['Welcome, everyone.', false],
      [null, true],
    ],
  )

  // Alice withdraws; a later recording that covers her withdrawal is refused, and leaves no file.
  await sleep(5)
  const withdrawal = await answer(asAlice, aliceJoin.participantId, 'recording', 'withdrawn')
  await sleep(100)
  const laterEnd = new Date().toISOString()
  await sleep(5)
  const refused = await asRecorder.POST('/v1/meetings/{meetingId}/recordings', {
    params: { path: { meetingId } },
    body: { kind: 'cloud', startedAt: captureStart, endedAt: laterEnd },
  })
  t.equal(refused.response.status, 409)
  t.equal(refused.error!.code, 'consent_missing')
  t.match(refused.error!.errors, [{ participantId: aliceJoin.participantId, rule: 'withdrawn', at: withdrawal.at }])
  const list = await asHost.GET('/v1/meetings/{meetingId}/recordings', { params: { path: { meetingId }, query: {} } })
  t.equal(list.data!.items.length, 1, 'only the first recording exists')
  const blobs = path.join(api.config.dataDir, 'blobs', accountId)
  t.same(existsSync(blobs) ? readdirSync(blobs) : [], [recordingId], 'only the allowed recording has a file')

  // The earlier recording stays lawful and readable by the host (P-REC-4).
  const content = await fetch(`${address}/v1/meetings/${meetingId}/recordings/${recordingId}/content`, { headers: { authorization: `Bearer ${host.token}` } })
  t.equal(content.status, 200)
  t.same(Buffer.from(await content.arrayBuffer()), bytes)

  // The state at the first window's end is still "granted" for Alice, and "withdrawn" now.
  const then = await asHost.GET('/v1/meetings/{meetingId}/consents', {
    params: { path: { meetingId }, query: { asOf: captureEnd, participantId: aliceJoin.participantId, scope: 'recording' } },
  })
  t.same(then.data!.items.map((i) => i.decision), ['granted'])
  const status = await asHost.GET('/v1/meetings/{meetingId}/consent-status', { params: { path: { meetingId } } })
  t.equal(status.data!.items.find((i) => i.participantId === aliceJoin.participantId)!.scopes.recording!.decision, 'withdrawn')
  t.ok(seen.length >= 20, 'every answer was checked against the document')
})
