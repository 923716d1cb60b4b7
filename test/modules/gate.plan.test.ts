import { sql } from 'drizzle-orm'
import t from 'tap'
import { rowsOf } from '../../db/client.js'
import { createGateRepository } from '../../src/modules/gate/gate.repository.js'
import { buildTestApp, countQueries, createTenant, must, testDatabase } from '../helpers/app.js'
import { guestJoin, meetingConsent } from '../helpers/writes.js'

// The decision's one statement is planned once per connection, not once per request: where the
// tables have statistics, plans fitted to each request's values looked cheaper to PostgreSQL, and
// it planned the statement anew on every decision (see gate.repository.ts).

t.test('the gate facts statement settles on one generic plan, also where the tables have statistics', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const host = await tenant.user(['member'])
  const meeting = await must(
    api.request({ method: 'POST', url: '/v1/meetings', token: host.token, body: { topic: 'Planned once', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' } }),
    201,
    'meeting',
  )
  const started = await must(api.request({ method: 'POST', url: `/v1/meetings/${meeting.id}/start`, token: host.token }), 200, 'start')
  t.equal(started.status, 'live')
  // A webinar's worth of facts: guests, their stays and their answers, written as the join and the consent POST write them.
  const { meetings, consents } = api.app.services.repositories
  const at = new Date()
  const guests = await Promise.all(Array.from({ length: 200 }, (_, i) => meetings.joinGuest(guestJoin(tenant.accountId, meeting.id, host.id, `Guest ${i}`, { at }))))
  await Promise.all(guests.map((guest) => consents.recordMeetingConsent(meetingConsent(tenant.accountId, meeting.id, host.id, guest!.id))))
  const database = await testDatabase()
  const { db } = database
  await db.execute(sql`analyze participants, presence_intervals, consent_records, meetings, users, notice_versions`)
  const gate = createGateRepository(db)
  // A window opening after the answers, as a recording's does: the answers that stand when it opens.
  const within = { from: new Date(Date.now() + 1_000), to: new Date(Date.now() + 3_600_000) }
  // A transaction holds one connection: the statement is prepared there, and its plan counts read there.
  const { counts, queries } = await db.transaction(async (tx) => {
    const { queries } = await countQueries(async () => {
      for (let i = 0; i < 12; i++) {
        const facts = await gate.facts(tenant.accountId, meeting.id, 'recording', within, tx)
        t.equal(facts.records.length, guests.length, 'the answers that stand when the window opens')
      }
    })
    const [counts] = rowsOf<{ generic: number; custom: number }>(
      await tx.execute(sql`select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where statement like '%''hostUserId'', m.host_user_id%'`),
    )
    return { counts, queries }
  })
  const statement = queries.find((q) => q.includes("'hostUserId', m.host_user_id"))!
  const parameters = statement.match(/\$\d+/g) ?? []
  const opaque = statement.match(/\(select \$\d+::(uuid|text|timestamptz)\)/g) ?? []
  t.ok(parameters.length > 0, 'the statement takes parameters')
  t.equal(opaque.length, parameters.length, 'each reaches the statement through a subquery, where no plan can be fitted to its value', { statement })
  if (database.kind === 'postgres') {
    t.ok(counts, 'the statement is prepared on the connection')
    t.ok(counts!.custom <= 5, 'at most the five trial plans are made for particular values', { ...counts })
    t.ok(counts!.generic >= 7, 'the other executions reuse the generic plan', { ...counts })
  } else {
    t.equal(counts, undefined, 'PGlite keeps no prepared statement: it plans each execution')
  }
})
