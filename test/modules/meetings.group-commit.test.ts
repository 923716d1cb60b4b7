import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { unionAll } from 'drizzle-orm/pg-core'
import t, { type Test } from 'tap'
import { auditEntries, auditPending, participants, presenceIntervals } from '../../db/schema/index.js'
import type { GuestJoin, UserJoin } from '../../src/modules/meetings/meetings.repository.js'
import { buildTestApp, countQueries, createTenant, must, testDatabase } from '../helpers/app.js'
import { guestJoin, userJoin } from '../helpers/writes.js'

// Group commit of guests' joins (issue 14, lever 2): the joins that arrive in one turn of the event
// loop are one statement and one commit, each caller answered with its own participant. The traps,
// as for consent records: arrival order, one failing row answered alone while the others are
// written, two joins with one request key making one guest, and a meeting that is not live.
// Through the repository, where arrival order is the order of the calls; the API path (settings,
// passcode, retries) is participants.test.ts and the bench's storm.

async function setup(t: Test) {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  await must(
    api.request({ method: 'PATCH', url: `/v1/accounts/${tenant.accountId}/settings`, token: tenant.admin, body: { values: { 'meeting.passcode_required': false, 'meeting.waiting_room': false } } }),
    200,
    'settings',
  )
  const meeting = async (live: 'live' | 'ended' | 'scheduled') => {
    const made = await must(
      api.request({ method: 'POST', url: '/v1/meetings', token: host.token, body: { topic: 'Group commit', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' } }),
      201,
      'meeting',
    )
    if (live !== 'scheduled') await must(api.request({ method: 'POST', url: `/v1/meetings/${made.id}/start`, token: host.token }), 200, 'start')
    if (live === 'ended') await must(api.request({ method: 'POST', url: `/v1/meetings/${made.id}/end`, token: host.token }), 200, 'end')
    return made.id as string
  }
  const meetingId = await meeting('live')
  const repository = api.app.services.repositories.meetings
  const input = (displayName: string, extra: Partial<GuestJoin> = {}): GuestJoin => guestJoin(tenant.accountId, meetingId, host.id, displayName, extra)
  const stored = async (ids: string[]) => {
    const { db } = await testDatabase()
    return db
      .select()
      .from(participants)
      .where(and(eq(participants.accountId, tenant.accountId), inArray(participants.id, ids)))
      .orderBy(asc(participants.id))
  }
  const stays = async (ids: string[]) => {
    const { db } = await testDatabase()
    return db
      .select()
      .from(presenceIntervals)
      .where(and(eq(presenceIntervals.accountId, tenant.accountId), inArray(presenceIntervals.participantId, ids)))
  }
  /** The audit events of the account, pending or chained, in the order they were appended. */
  const audited = async () => {
    const { db } = await testDatabase()
    // One statement: the chainer may move events from pending into the chain between two reads.
    const chained = db.select({ id: auditEntries.id, pending: sql<number>`0`.as('pending'), seq: auditEntries.seq }).from(auditEntries).where(eq(auditEntries.accountId, tenant.accountId))
    const pending = db.select({ id: auditPending.id, pending: sql<number>`1`.as('pending'), seq: auditPending.seq }).from(auditPending).where(eq(auditPending.accountId, tenant.accountId))
    const rows = await unionAll(chained, pending)
    return rows.sort((a, b) => a.pending - b.pending || Number(a.seq) - Number(b.seq)).map((row) => row.id)
  }
  return { api, tenant, repository, input, stored, stays, audited, meeting, meetingId }
}

t.test('joins arriving together are one statement; each caller gets its own guest, stay and audit event', async (t) => {
  const { repository, input, stored, stays, audited } = await setup(t)
  const inputs = [input('A'), input('B', { waiting: true }), input('C', { isMinor: true, role: 'cohost' })]
  const { result, queries } = await countQueries(() => Promise.all(inputs.map((i) => repository.joinGuest(i))))
  t.equal(queries.filter((q) => /insert into participants/i.test(q)).length, 1, 'one statement wrote the three guests')
  t.same(
    result.map((row) => row?.id),
    inputs.map((i) => i.participantId),
    'each caller is answered with its own row',
  )
  t.same(
    result.map((row) => [row?.guestDisplayName, row?.role, row?.isMinor, row?.waitingSince !== null]),
    [
      ['A', 'attendee', false, false],
      ['B', 'attendee', false, true],
      ['C', 'cohost', true, false],
    ],
    'each row carries its own join',
  )
  t.equal((await stored(inputs.map((i) => i.participantId))).length, 3)
  const opened = await stays(inputs.map((i) => i.participantId))
  t.same(opened.map((s) => s.id).sort(), [inputs[0]!.stayId, inputs[2]!.stayId].sort(), 'a stay for each guest let in, none for the one waiting')
  const events = await audited()
  t.same(
    events.filter((id) => inputs.some((i) => i.auditId === id)),
    inputs.map((i) => i.auditId),
    'an audit event for each, appended in arrival order',
  )
})

t.test('one row that fails is answered alone; the others are written', async (t) => {
  const { repository, input, stored } = await setup(t)
  const taken = await repository.joinGuest(input('First'))
  // The second reuses a participant id that exists: its row breaks the primary key.
  const inputs = [input('A'), input('B', { participantId: taken!.id }), input('C')]
  const results = await Promise.allSettled(inputs.map((i) => repository.joinGuest(i)))
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  t.same((await stored([inputs[0]!.participantId, inputs[2]!.participantId])).map((row) => row.guestDisplayName).sort(), ['A', 'C'])
  t.equal((await stored([taken!.id]))[0]!.guestDisplayName, 'First', 'the existing guest is untouched')
})

t.test('two joins with one request key in a batch make one guest; the other is answered with nothing (the service replays the first)', async (t) => {
  const { repository, input, stored } = await setup(t)
  const first = input('A', { requestKey: 'client:join-1' })
  const second = input('A', { requestKey: 'client:join-1' })
  const [a, b] = await Promise.all([repository.joinGuest(first), repository.joinGuest(second)])
  t.equal(a?.id, first.participantId)
  t.equal(b, undefined)
  t.same((await stored([first.participantId, second.participantId])).map((row) => row.id), [first.participantId], 'one guest')
  t.equal((await repository.participantByRequestKey(first.accountId, 'client:join-1'))?.id, first.participantId, 'the retry finds it by its key')
})

t.test('a join for a meeting that is not live writes nothing, in a batch too', async (t) => {
  const { repository, input, stored, stays, meeting } = await setup(t)
  const ended = await meeting('ended')
  const scheduled = await meeting('scheduled')
  const inputs = [input('Late', { meetingId: ended }), input('Here'), input('Early', { meetingId: scheduled })]
  const results = await Promise.all(inputs.map((i) => repository.joinGuest(i)))
  t.same(
    results.map((row) => row?.id),
    [undefined, inputs[1]!.participantId, undefined],
  )
  t.same((await stored(inputs.map((i) => i.participantId))).map((row) => row.guestDisplayName), ['Here'])
  t.equal((await stays(inputs.map((i) => i.participantId))).length, 1, 'one stay, the live meeting\'s')
})

t.test('a join alone is a batch of one: the same statement', async (t) => {
  const { repository, input, stored } = await setup(t)
  const one = input('Solo')
  const { result, queries } = await countQueries(() => repository.joinGuest(one))
  t.equal(result?.id, one.participantId)
  t.equal(queries.filter((q) => /insert into participants/i.test(q)).length, 1)
  t.equal((await stored([one.participantId])).length, 1)
})

t.test('a participant is found by its id only within its own meeting (the lookups go by primary key and compare the meeting after)', async (t) => {
  const { api, tenant, repository, input, meeting, meetingId } = await setup(t)
  const other = await meeting('live')
  const guest = await repository.joinGuest(input('Here'))
  t.equal((await repository.participant(tenant.accountId, meetingId, guest!.id))?.id, guest!.id)
  t.equal(await repository.participant(tenant.accountId, other, guest!.id), undefined, 'not through another meeting')
  const { db } = await testDatabase()
  t.same(
    await db.transaction(async (tx) => [(await repository.participant(tenant.accountId, meetingId, guest!.id, tx))?.id, await repository.participant(tenant.accountId, other, guest!.id, tx)]),
    [guest!.id, undefined],
    'the same inside a transaction',
  )
  const consents = api.app.services.repositories.consents
  const [here, there] = await Promise.all([
    consents.context(tenant.accountId, meetingId, guest!.id, 'recording', null, null),
    consents.context(tenant.accountId, other, guest!.id, 'recording', null, null),
  ])
  t.equal(here.participant?.id, guest!.id, 'a consent POST finds them in their meeting')
  t.equal(there.meeting?.id, other)
  t.equal(there.participant, null, 'and not in another')
})

t.test("users' joins arriving together are one statement; a user already present is answered with nothing, the others are written", async (t) => {
  const { api, tenant, repository, meetingId, stays, audited } = await setup(t)
  const [ada, bo, cy] = [await tenant.user(['member']), await tenant.user(['member']), await tenant.user(['member'])]
  const present = await must(api.request({ method: 'POST', url: `/v1/meetings/${meetingId}/participants`, token: cy.token, body: {} }), 201, 'cy joins')
  const input = (userId: string, extra: Partial<UserJoin> = {}): UserJoin => userJoin(tenant.accountId, meetingId, userId, extra)
  const inputs = [input(ada.id), input(cy.id), input(bo.id, { waits: true, isMinor: true })]
  const { result, queries } = await countQueries(() => Promise.all(inputs.map((i) => repository.joinUser(i))))
  t.equal(queries.filter((q) => /insert into participants/i.test(q)).length, 1, 'one statement for the three joins')
  t.same(
    result.map((row) => [row?.id, row?.userId, row?.isMinor, row ? row.waitingSince !== null : undefined]),
    [
      [inputs[0]!.participantId, ada.id, false, false],
      [undefined, undefined, undefined, undefined],
      [inputs[2]!.participantId, bo.id, true, true],
    ],
    'each caller is answered with its own row; cy, present already, with nothing',
  )
  t.same((await stays([inputs[0]!.participantId, present.participantId])).length, 2, "ada's new stay and cy's first one; none for bo, who waits")
  t.same(
    (await audited()).filter((id) => inputs.some((i) => i.auditId === id)),
    [inputs[0]!.auditId, inputs[2]!.auditId],
    'an audit event for each join that entered, in arrival order',
  )
})

t.test("two joins of one user in one batch go one at a time, each answered as it would be alone", async (t) => {
  const { tenant, repository, meetingId, stays } = await setup(t)
  const ada = await tenant.user(['member'])
  const input = (waits: boolean): UserJoin => userJoin(tenant.accountId, meetingId, ada.id, { waits })
  const waiting = await repository.joinUser(input(true))
  t.not(waiting?.waitingSince, null, 'ada waits')
  // Alone, the first (held by the waiting room) finds ada waiting already; the second lets her in.
  const [first, second] = await Promise.all([repository.joinUser(input(true)), repository.joinUser(input(false))])
  t.equal(first, undefined, 'the first is answered with nothing: waiting already')
  t.equal(second?.id, waiting!.id, 'the second enters, on her row')
  t.equal(second?.waitingSince, null)
  t.equal((await stays([waiting!.id])).length, 1, 'one stay')
})
