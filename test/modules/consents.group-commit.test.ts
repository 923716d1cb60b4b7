import { and, asc, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { consentClientDetails, consentRecords } from '../../db/schema/index.js'
import type { ConsentRow, MeetingConsentInput } from '../../src/modules/consents/consents.repository.js'
import { buildTestApp, countQueries, createTenant, must, testDatabase } from '../helpers/app.js'
import { meetingConsent } from '../helpers/writes.js'
import { chainedTrail } from '../helpers/audit.js'

// Group commit (issue 14, lever 2): consent records that arrive in one turn of the event loop are
// written by one statement and one commit, each caller answered with its own row. The traps:
// arrival order per participant and scope (a withdrawal sent after a grant is stamped after it),
// one failing row answered alone while the others are written, and two requests with one key
// writing one record. Through the repository, where arrival order is the order of the calls; the
// API path (checks, receipts, retries) is consents.test.ts and the bench's storm.

async function setup(t: Test) {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  await must(
    api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'meeting.passcode_required': false, 'meeting.waiting_room': false } } }),
    200,
    'settings',
  )
  const notice = await must(
    api.request({ method: 'POST', url: `/v1/accounts/${tenant.accountId}/notices`, token: tenant.admin, body: { kind: 'recording', locale: 'en', title: 'Recording', text: 'Recorded.' } }),
    201,
    'notice',
  )
  const meeting = await must(
    api.request({ method: 'POST', url: '/v1/meetings', token: host.token, body: { topic: 'Group commit', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' } }),
    201,
    'meeting',
  )
  await must(api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/start`, token: host.token }), 200, 'start')
  const guest = async (name: string) =>
    (await must(api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/participants`, token: host.token, body: { guest: { displayName: name } } }), 201, 'join')).participantId as string
  const consents = api.app.services.repositories.consents
  const input = (participantId: string, decision: ConsentRow['decision'], extra: Partial<MeetingConsentInput> = {}): MeetingConsentInput =>
    meetingConsent(tenant.accountId, meeting.id, host.id, participantId, { decision, noticeVersionId: notice.currentVersion.id, userAgent: 'tap', ...extra })
  const stored = async (participantId: string) => {
    const { db } = await testDatabase()
    return db
      .select()
      .from(consentRecords)
      .where(and(eq(consentRecords.accountId, tenant.accountId), eq(consentRecords.participantId, participantId)))
      .orderBy(asc(consentRecords.at), asc(consentRecords.seq))
  }
  return { api, tenant, consents, input, guest, stored }
}

t.test('records arriving together are one statement; each caller gets its own row, with its audit event and client details', async (t) => {
  const { tenant, consents, input, guest, stored } = await setup(t)
  const people = [await guest('A'), await guest('B'), await guest('C')]
  const inputs = people.map((p) => input(p, 'granted'))
  const { result, queries } = await countQueries(() => Promise.all(inputs.map((i) => consents.recordMeetingConsent(i))))
  t.equal(queries.filter((q) => /insert into consent_records/i.test(q)).length, 1, 'one statement wrote the three records')
  t.same(
    result.map((row) => row?.id),
    inputs.map((i) => i.id),
    'each caller is answered with its own row',
  )
  for (const [i, p] of people.entries()) t.same((await stored(p)).map((r) => r.id), [inputs[i]!.id])
  const { db } = await testDatabase()
  // Pending until the chainer runs (the service starts it after the write; the sweep every 5 s).
  const audits = new Set((await chainedTrail(db, tenant.accountId)).map((row) => row.id))
  for (const i of inputs) t.ok(audits.has(i.auditId), 'its audit event was written with it')
  const details = await db.select().from(consentClientDetails).where(eq(consentClientDetails.accountId, tenant.accountId))
  t.same(details.map((d) => d.recordId).sort(), inputs.map((i) => i.id).sort(), 'its client details beside it')
})

t.test('a batch keeps arrival order per participant and scope: a withdrawal sent after a grant is stamped after it', async (t) => {
  const { consents, input, guest, stored } = await setup(t)
  const p = await guest('Ada')
  const sequence: ConsentRow['decision'][] = ['granted', 'withdrawn', 'granted', 'withdrawn', 'granted', 'withdrawn']
  const inputs = sequence.map((decision) => input(p, decision))
  const { queries } = await countQueries(() => Promise.all(inputs.map((i) => consents.recordMeetingConsent(i))))
  t.equal(queries.filter((q) => /insert into consent_records/i.test(q)).length, 1, 'one batch')
  const rows = await stored(p)
  t.same(
    rows.map((r) => r.id),
    inputs.map((i) => i.id),
    'ordered by (at, seq) exactly as they arrived',
  )
  t.same(rows.map((r) => r.decision), sequence)
  t.equal(rows.at(-1)!.decision, 'withdrawn', 'the last sent is the standing answer')
  for (let i = 1; i < rows.length; i++) t.ok(rows[i]!.at.getTime() >= rows[i - 1]!.at.getTime(), 'instants never go back')
})

t.test('one row that fails is answered alone; the others are written', async (t) => {
  const { consents, input, guest, stored } = await setup(t)
  const good = [await guest('A'), await guest('B')]
  const bad = await guest('C')
  const inputs = [input(good[0]!, 'granted'), input(bad, 'granted', { noticeVersionId: '0190a6f0-0000-7000-8000-000000000000' }), input(good[1]!, 'granted')]
  const results = await Promise.allSettled(inputs.map((i) => consents.recordMeetingConsent(i)))
  t.equal(results[0]!.status, 'fulfilled')
  t.equal(results[1]!.status, 'rejected', 'the row naming no notice version fails (its foreign key)')
  t.equal(results[2]!.status, 'fulfilled')
  t.same((await stored(good[0]!)).map((r) => r.id), [inputs[0]!.id])
  t.same((await stored(good[1]!)).map((r) => r.id), [inputs[2]!.id])
  t.same(await stored(bad), [], 'nothing of the failing row')
})

t.test('when a batch fails, its rows are written alone in arrival order: a withdrawal after a grant still stands', async (t) => {
  const { consents, input, guest, stored } = await setup(t)
  const p = await guest('Ada')
  const bad = await guest('Bob')
  const sequence: ConsentRow['decision'][] = ['granted', 'withdrawn', 'granted', 'withdrawn']
  const inputs = sequence.map((decision) => input(p, decision))
  // The failing row sits in the middle of Ada's answers.
  const batch = [inputs[0]!, input(bad, 'granted', { noticeVersionId: '0190a6f0-0000-7000-8000-000000000000' }), ...inputs.slice(1)]
  const results = await Promise.allSettled(batch.map((i) => consents.recordMeetingConsent(i)))
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
  )
  const rows = await stored(p)
  t.same(rows.map((r) => r.id), inputs.map((i) => i.id), 'written in the order they arrived')
  t.equal(rows.at(-1)!.decision, 'withdrawn', 'the last answer sent stands')
})

t.test('two requests with one key in a batch write one record; the other is answered with nothing (the service replays the first)', async (t) => {
  const { consents, input, guest, stored } = await setup(t)
  const p = await guest('A')
  const first = input(p, 'granted', { requestKey: 'client:key-1' })
  const second = input(p, 'granted', { requestKey: 'client:key-1' })
  const [a, b] = await Promise.all([consents.recordMeetingConsent(first), consents.recordMeetingConsent(second)])
  t.equal(a?.id, first.id)
  t.equal(b, undefined)
  t.same((await stored(p)).map((r) => r.id), [first.id], 'one record')
})

t.test('a record for a meeting that is gone writes nothing, in a batch too', async (t) => {
  const { consents, input, guest, stored } = await setup(t)
  const p = await guest('A')
  const elsewhere = input(p, 'granted', { meetingId: '0190a6f0-0000-7000-8000-000000000001' })
  const here = input(p, 'granted')
  const [a, b] = await Promise.all([consents.recordMeetingConsent(elsewhere), consents.recordMeetingConsent(here)])
  t.equal(a, undefined, 'no meeting, no record')
  t.equal(b?.id, here.id)
  t.same((await stored(p)).map((r) => r.id), [here.id])
})

t.test('the contexts of POSTs arriving together are one read; each request gets its own', async (t) => {
  const { consents, input, guest } = await setup(t)
  const p = await guest('A')
  const q = await guest('B')
  const written = await consents.recordMeetingConsent(input(p, 'granted', { requestKey: 'client:ctx-1' }))
  const base = input(p, 'granted')
  const ask = (participantId: string, requestKey: string | null, meetingId = base.meetingId, noticeVersionId: string | null = base.noticeVersionId) =>
    consents.context(base.accountId, meetingId, participantId, 'recording', noticeVersionId, requestKey)
  const { result, queries } = await countQueries(() =>
    Promise.all([ask(p, 'client:ctx-1'), ask(q, null), ask('0190a6f0-0000-7000-8000-000000000002', null), ask(q, null, '0190a6f0-0000-7000-8000-000000000001', null)]),
  )
  t.equal(queries.length, 1, 'one statement read the four')
  const [retry, fresh, stranger, elsewhere] = result
  t.equal(retry.existing?.id, written!.id, 'a retry finds the record its key wrote')
  t.equal(retry.participant?.answeredSelf, true, 'A answered themself')
  t.equal(fresh.existing, null)
  t.same([fresh.participant?.id, fresh.participant?.answeredSelf], [q, false], 'B, who has not answered')
  t.equal(fresh.version?.id, base.noticeVersionId)
  t.equal(fresh.version?.currentId, base.noticeVersionId, 'the current version of its notice')
  t.equal(stranger.meeting?.id, base.meetingId)
  t.equal(stranger.participant, null, 'no such participant')
  t.same([elsewhere.meeting, elsewhere.participant, elsewhere.version], [null, null, null], 'no such meeting, and no version asked for')
})
