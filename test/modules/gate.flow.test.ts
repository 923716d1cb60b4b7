import t from 'tap'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant } from '../helpers/app.js'

class TestClock implements Clock {
  constructor(private at: number) {}
  now() {
    return new Date(this.at)
  }
  tick(seconds: number) {
    this.at += seconds * 1000
    return new Date(this.at).toISOString()
  }
}

t.test('flow: notice, join, consent, decision, recording, content, transcript, withdrawal', async (t) => {
  const clock = new TestClock(Date.parse('2026-12-01T09:00:00.000Z'))
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const alice = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const r = (method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, token: string, body?: unknown, headers?: Record<string, string>) =>
    api.request({ method, url, token, ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) })

  const settings = await r('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, {
    values: { 'recording.cloud.enabled': true, 'transcript.enabled': true, 'meeting.passcode_required': false },
  })
  t.equal(settings.status, 200, JSON.stringify(settings.body))
  const notice = await r('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' })
  t.equal(notice.status, 201, JSON.stringify(notice.body))
  const tnotice = await r('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'transcript', locale: 'en', title: 'Transcript', text: 'This meeting is transcribed.' })
  t.equal(tnotice.status, 201)

  const meeting = await r('POST', '/v1/meetings', host.token, { topic: 'Flow', scheduledStart: '2026-12-01T10:00:00Z', durationMinutes: 30, timeZone: 'UTC' })
  t.equal(meeting.status, 201)
  const m = meeting.body.id
  t.equal((await r('POST', `/v1/meetings/${m}/start`, host.token)).status, 200)
  const hostJoin = await r('POST', `/v1/meetings/${m}/participants`, host.token, {})
  t.equal(hostJoin.status, 201, JSON.stringify(hostJoin.body))
  const aliceJoin = await r('POST', `/v1/meetings/${m}/participants`, alice.token, {})
  t.equal(aliceJoin.status, 201, JSON.stringify(aliceJoin.body))
  t.same(aliceJoin.body.notices.map((n: any) => n.kind).sort(), ['recording', 'transcript'])
  t.equal(aliceJoin.body.consent.recording, 'none')
  const start = clock.tick(1)
  for (const [p, token] of [
    [hostJoin.body.participantId, host.token],
    [aliceJoin.body.participantId, alice.token],
  ]) {
    const c = await r('POST', `/v1/meetings/${m}/consents`, token, { participantId: p, scope: 'recording', decision: 'granted', noticeVersionId: notice.body.currentVersion.id, method: 'click_continue' }, { 'idempotency-key': `k-${p}` })
    t.equal(c.status, 201, JSON.stringify(c.body))
    t.match(c.body.receipt, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  }
  clock.tick(60)
  const end = clock.tick(1)
  clock.tick(1)
  const decision = await r('POST', `/v1/meetings/${m}/recording-decisions`, recorder.token, { scope: 'recording', startedAt: start, endedAt: end })
  t.equal(decision.status, 200, JSON.stringify(decision.body))
  t.equal(decision.body.allowed, true, JSON.stringify(decision.body))
  const early = await r('POST', `/v1/meetings/${m}/recording-decisions`, recorder.token, { scope: 'recording', startedAt: new Date(Date.parse(start) - 1000).toISOString(), endedAt: end })
  t.equal(early.body.allowed, false)
  t.equal(early.body.violations[0].rule, 'consent_missing')

  const rec = await r('POST', `/v1/meetings/${m}/recordings`, recorder.token, { kind: 'cloud', startedAt: start, endedAt: end })
  t.equal(rec.status, 201, JSON.stringify(rec.body))
  const up = await api.request({ method: 'PUT', url: `/v1/meetings/${m}/recordings/${rec.body.id}/content`, token: recorder.token, payload: Buffer.from('bytes of a recording'), headers: { 'content-type': 'application/octet-stream' } })
  t.equal(up.status, 200, JSON.stringify(up.body))
  t.equal(up.body.status, 'stored')
  const down = await api.request({ method: 'GET', url: `/v1/meetings/${m}/recordings/${rec.body.id}/content`, token: host.token })
  t.equal(down.status, 200)
  t.equal(down.body, 'bytes of a recording')

  const tr = await r('POST', `/v1/meetings/${m}/transcripts`, recorder.token, {
    startedAt: start,
    endedAt: end,
    redact: true,
    segments: [{ speakerParticipantId: aliceJoin.body.participantId, startMs: 0, endMs: 1000, text: 'hello' }],
  })
  t.equal(tr.status, 201, JSON.stringify(tr.body))
  t.equal(tr.body.redactedSegments, 1)

  const w = await r('POST', `/v1/meetings/${m}/consents`, alice.token, { participantId: aliceJoin.body.participantId, scope: 'recording', decision: 'withdrawn', method: 'explicit_toggle' })
  t.equal(w.status, 201, JSON.stringify(w.body))
  const later = clock.tick(5)
  clock.tick(1)
  const refused = await r('POST', `/v1/meetings/${m}/recordings`, recorder.token, { kind: 'cloud', startedAt: start, endedAt: later })
  t.equal(refused.status, 409, JSON.stringify(refused.body))
  t.equal(refused.body.code, 'consent_missing')
  t.equal(refused.body.errors[0].rule, 'withdrawn')
  const status = await r('GET', `/v1/meetings/${m}/consent-status`, host.token)
  t.equal(status.status, 200, JSON.stringify(status.body))
  const history = await r('GET', `/v1/meetings/${m}/consents?asOf=${encodeURIComponent(end)}`, host.token)
  t.equal(history.status, 200, JSON.stringify(history.body))
  t.equal(history.body.items.length, 2)
  const jwks = await api.request({ method: 'GET', url: '/.well-known/jwks.json' })
  t.equal(jwks.status, 200)
  t.equal(jwks.body.keys[0].crv, 'Ed25519')
})
