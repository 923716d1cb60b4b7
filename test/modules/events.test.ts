import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { and, eq, sql } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import t, { type Test } from 'tap'
import { rowsOf } from '../../db/client.js'
import { events, webhooks } from '../../db/schema/index.js'
import { buildTestApp, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'

// Events (issue 17): a transactional outbox written by the database with each change, a cursor
// in commit order, Standard Webhooks delivered at least once with retries, redelivery, disable
// and secret rotation, and a Server-Sent Events stream per meeting that resumes and never shows
// another tenant's or (to an attendee) another participant's events.

type Res = { status: number; headers: Record<string, unknown>; body: any }

interface Received {
  headers: http.IncomingHttpHeaders
  body: string
}

/** A webhook receiver on a loopback port; `answer` decides each response (status, or a delay past the timeout). */
async function receiver(t: Test, answer: (n: number) => number | 'hang' = () => 204) {
  const got: Received[] = []
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      got.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
      const decision = answer(got.length)
      if (decision === 'hang') setTimeout(() => response.end(), 2000).unref()
      else response.writeHead(decision).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got }
}

interface Ctx {
  api: TestApp
  tenant: Tenant
  host: { id: string; token: string }
  ada: { id: string; token: string }
  meetingId: string
  hostP: string
  adaP: string
  versionId: string
  req: (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, body?: Record<string, unknown>) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  consent: (participantId: string, token: string, decision: 'granted' | 'withdrawn') => Promise<any>
  /** Stamps until every event of the account has its cursor (other test files share the relay). */
  stamp: () => Promise<void>
  /** Runs due jobs (deliveries) now. */
  deliver: () => Promise<number>
}

async function setup(t: Test, env: Record<string, string> = {}): Promise<Ctx> {
  const api = await buildTestApp(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '300', ...env } })
  const tenant = await createTenant(api)
  const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, body?: Record<string, unknown>) => api.request({ method, url, token, ...(body ? { body } : {}) })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  await must(req('PATCH', `/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'meeting.passcode_required': false, 'meeting.waiting_room': false } }), 200, 'settings')
  const notice = await must(req('POST', `/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: 'Recorded.' }), 201, 'notice')
  const host = await tenant.user(['member'])
  const ada = await tenant.user(['member'])
  const meeting = await must(req('POST', '/v1/meetings', host.token, { topic: 'Events', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' }), 201, 'meeting')
  await must(req('POST', `/v1/meetings/${meeting.id}/start`, host.token), 200, 'start')
  const hostP = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, host.token, {}), 201, 'host joins')).participantId
  const adaP = (await must(req('POST', `/v1/meetings/${meeting.id}/participants`, ada.token, {}), 201, 'ada joins')).participantId
  const consent = (participantId: string, token: string, decision: 'granted' | 'withdrawn') =>
    must(req('POST', `/v1/meetings/${meeting.id}/consents`, token, { participantId, scope: 'recording', decision, method: 'click_continue', ...(decision === 'granted' ? { noticeVersionId: notice.currentVersion.id } : {}) }), 201, `consent ${decision}`)
  const { db } = await testDatabase()
  const stamp = async () => {
    for (let i = 0; i < 200; i++) {
      await api.app.services.relay.stampOnce()
      const [left] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from events where account_id = ${tenant.accountId} and cursor is null`))
      const n = Number(left?.n ?? 0)
      if (n === 0) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error('events were not stamped')
  }
  return { api, tenant, host, ada, meetingId: meeting.id, hostP, adaP, versionId: notice.currentVersion.id, req, must, consent, stamp, deliver: () => api.app.services.jobs.runDue() }
}

async function eventRows(accountId: string) {
  const { db } = await testDatabase()
  return (await db.select().from(events).where(eq(events.accountId, accountId))).sort((a, b) => (a.cursor ?? 0) - (b.cursor ?? 0))
}

t.test('the outbox: each change writes its event in its own transaction, with ids and kinds only; a rolled-back change writes none', async (t) => {
  const ctx = await setup(t)
  await ctx.consent(ctx.adaP, ctx.ada.token, 'granted')
  await ctx.consent(ctx.adaP, ctx.ada.token, 'withdrawn')
  await ctx.stamp()
  const rows = await eventRows(ctx.tenant.accountId)
  const types = rows.map((row) => row.type)
  for (const expected of ['notice.version_published', 'settings.changed', 'meeting.started', 'participant.joined', 'consent.granted', 'consent.withdrawn']) t.ok(types.includes(expected), expected)
  t.ok(rows.every((row, i) => i === 0 || row.cursor! > rows[i - 1]!.cursor!), 'cursors increase')
  const withdrawn = rows.find((row) => row.type === 'consent.withdrawn')!
  t.match(withdrawn, { meetingId: ctx.meetingId, participantId: ctx.adaP, payload: { scope: 'recording', decision: 'withdrawn' } })
  t.notMatch(JSON.stringify(rows.map((row) => row.payload)), /Test User|@example\.test/, 'no personal content')

  // A refused change and a rolled-back transaction write nothing.
  const before = rows.length
  t.equal((await ctx.req('POST', `/v1/meetings/${ctx.meetingId}/consents`, ctx.host.token, { participantId: ctx.adaP, scope: 'recording', decision: 'granted', method: 'click_continue', noticeVersionId: ctx.versionId })).status, 403)
  const { db } = await testDatabase()
  await t.rejects(
    db.transaction(async (tx) => {
      await tx.execute(sql`update meetings set status = 'ended' where account_id = ${ctx.tenant.accountId} and id = ${ctx.meetingId}`)
      throw new Error('rolled back')
    }),
  )
  await ctx.stamp()
  t.equal((await eventRows(ctx.tenant.accountId)).length, before, 'no event without its change')
})

t.test('webhooks: signed per Standard Webhooks, retried after a 500 and a timeout, redelivered, disabled after the last attempt; never another account’s events', async (t) => {
  const ctx = await setup(t, { WEBHOOK_MAX_ATTEMPTS: '3' })
  const hook = await receiver(t, (n) => (n === 1 ? 500 : n === 2 ? 'hang' : 204))
  const other = await createTenant(ctx.api)
  const otherHook = await receiver(t)
  await ctx.must(ctx.req('POST', `/v1/accounts/${other.accountId}/webhooks`, other.admin, { url: otherHook.url }), 201, 'other')
  const created = await ctx.must(ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks`, ctx.tenant.admin, { url: hook.url, eventTypes: ['consent.withdrawn'] }), 201, 'create')
  t.match(created.secret, /^whsec_[A-Za-z0-9+/=]+$/, 'a Standard Webhooks secret, shown once')
  t.notOk('secret' in (await ctx.must(ctx.req('GET', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}`, ctx.tenant.admin), 200, 'get')), 'and never again')
  const { db } = await testDatabase()
  const [stored] = await db.select().from(webhooks).where(and(eq(webhooks.accountId, ctx.tenant.accountId), eq(webhooks.id, created.id)))
  t.notMatch(stored!.secret, created.secret.slice(6, 20), 'stored encrypted')

  await ctx.consent(ctx.adaP, ctx.ada.token, 'granted')
  await ctx.consent(ctx.adaP, ctx.ada.token, 'withdrawn')
  await ctx.stamp()
  const runAgain = async () => {
    await db.execute(sql`update jobs set run_at = now() where kind = 'webhook.deliver' and account_id = ${ctx.tenant.accountId} and status = 'queued'`)
    await ctx.deliver()
  }
  await ctx.deliver()
  t.equal(hook.got.length, 1, 'first attempt: 500')
  await runAgain()
  t.equal(hook.got.length, 2, 'second attempt: timed out')
  await runAgain()
  t.equal(hook.got.length, 3, 'third attempt: delivered')
  const received = hook.got[2]!
  const verified = new Webhook(created.secret).verify(received.body, received.headers as Record<string, string>) as { type: string; data: Record<string, unknown> }
  t.match(verified, { type: 'consent.withdrawn', data: { meetingId: ctx.meetingId, participantId: ctx.adaP, scope: 'recording' } }, 'the signature verifies with the package’s verifier')
  t.equal(hook.got[0]!.headers['webhook-id'], received.headers['webhook-id'], 'one message id across retries')
  const deliveries = await ctx.must(ctx.req('GET', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}/deliveries`, ctx.tenant.admin), 200, 'deliveries')
  t.match(deliveries.items, [{ status: 'delivered', attempts: 3, lastStatusCode: 204 }])
  t.ok(deliveries.items[0].lastLatencyMs >= 0)
  t.equal(otherHook.got.filter((got) => got.body.includes(ctx.meetingId)).length, 0, 'another account’s endpoint never gets these events')

  // Redelivery.
  const again = await ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}/deliveries/${deliveries.items[0].id}/redeliver`, ctx.tenant.admin)
  t.equal(again.status, 202)
  await ctx.deliver()
  t.equal(hook.got.length, 4, 'redelivered')

  // Rotation: both secrets sign for a day.
  const rotated = await ctx.must(ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}/rotate-secret`, ctx.tenant.admin), 200, 'rotate')
  t.not(rotated.secret, created.secret)
  t.ok(rotated.previousSecretValidUntil)
  await ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}/deliveries/${deliveries.items[0].id}/redeliver`, ctx.tenant.admin)
  await ctx.deliver()
  const afterRotation = hook.got[4]!
  t.equal(String(afterRotation.headers['webhook-signature']).split(' ').length, 2, 'two signatures')
  t.ok(new Webhook(rotated.secret).verify(afterRotation.body, afterRotation.headers as Record<string, string>), 'the new secret verifies')
  t.ok(new Webhook(created.secret).verify(afterRotation.body, afterRotation.headers as Record<string, string>), 'and the old one, for now')
})

t.test('an endpoint that keeps failing is disabled after its last attempt, and an event says so; private targets are refused', async (t) => {
  const ctx = await setup(t, { WEBHOOK_MAX_ATTEMPTS: '2' })
  const hook = await receiver(t, () => 503)
  const created = await ctx.must(ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks`, ctx.tenant.admin, { url: hook.url }), 201, 'create')
  await ctx.consent(ctx.adaP, ctx.ada.token, 'granted')
  await ctx.stamp()
  const { db } = await testDatabase()
  for (let i = 0; i < 4; i++) {
    await db.execute(sql`update jobs set run_at = now() where kind = 'webhook.deliver' and account_id = ${ctx.tenant.accountId} and status = 'queued'`)
    await ctx.deliver()
  }
  const webhook = await ctx.must(ctx.req('GET', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}`, ctx.tenant.admin), 200, 'get')
  t.match(webhook, { enabled: false, disabledReason: /failed/ })
  await ctx.stamp()
  t.ok((await eventRows(ctx.tenant.accountId)).some((row) => row.type === 'webhook.disabled' && row.payload.webhookId === created.id), 'webhook.disabled')
  const enabled = await ctx.must(ctx.req('PATCH', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}`, ctx.tenant.admin, { enabled: true }), 200, 'enable')
  t.match(enabled, { enabled: true, disabledReason: null })

  const strict = await buildTestApp(t, { env: { WEBHOOK_ALLOW_PRIVATE: 'false' } })
  const refused = await strict.request({ method: 'POST', url: `/v1/accounts/${ctx.tenant.accountId}/webhooks`, token: ctx.tenant.admin, body: { url: 'http://169.254.169.254/latest/meta-data' } })
  t.equal(refused.status, 400)
  t.match(refused.body.errors, [{ pointer: '/body/url', code: 'url_refused' }])
  t.equal((await strict.request({ method: 'POST', url: `/v1/accounts/${ctx.tenant.accountId}/webhooks`, token: ctx.tenant.admin, body: { url: 'http://[::1]:9/x' } })).status, 400)
  t.equal((await ctx.req('POST', `/v1/accounts/${ctx.tenant.accountId}/webhooks`, ctx.ada.token, { url: hook.url })).status, 403, 'admins only')
  t.equal((await ctx.req('DELETE', `/v1/accounts/${ctx.tenant.accountId}/webhooks/${created.id}`, ctx.tenant.admin)).status, 204)
})

/** Reads an SSE stream over a real port until `until` says stop or the stream ends. */
function stream(base: string, path: string, token: string, lastEventId?: string) {
  const messages: { id?: string; event?: string; data?: string }[] = []
  let ended = false
  let status = 0
  const request = http.get(`${base}${path}`, { headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } }, (response) => {
    status = response.statusCode ?? 0
    let buffer = ''
    response.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      let split: number
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, split)
        buffer = buffer.slice(split + 2)
        const message: { id?: string; event?: string; data?: string } = {}
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(': ')
          if (field === 'id' || field === 'event' || field === 'data') message[field] = rest.join(': ')
        }
        if (message.event) messages.push(message)
      }
    })
    response.on('end', () => {
      ended = true
    })
  })
  return {
    messages,
    status: () => status,
    ended: () => ended,
    close: () => request.destroy(),
    async waitFor(predicate: () => boolean, what: string) {
      for (let i = 0; i < 750 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 20))
      if (!predicate()) throw new Error(`stream: ${what}`)
    },
  }
}

t.test('the meeting’s stream: live events, Last-Event-ID resumes, attendees see meeting-level events and their own, no other tenant, ends with the meeting', async (t) => {
  const ctx = await setup(t)
  const address = await ctx.api.app.listen({ port: 0, host: '127.0.0.1' })
  const path = `/v1/meetings/${ctx.meetingId}/events`
  const host = stream(address, path, ctx.host.token)
  const ada = stream(address, path, ctx.ada.token)
  t.teardown(() => {
    host.close()
    ada.close()
  })
  const stranger = await createTenant(ctx.api)
  const outsider = await fetch(`${address}${path}`, { headers: { authorization: `Bearer ${stranger.admin}` } })
  t.equal(outsider.status, 404, 'another tenant: 404')
  const bystander = await ctx.tenant.user(['member'])
  t.equal((await fetch(`${address}${path}`, { headers: { authorization: `Bearer ${bystander.token}` } })).status, 404, 'a member not in the meeting: 404')

  await ctx.consent(ctx.hostP, ctx.host.token, 'granted')
  await ctx.consent(ctx.adaP, ctx.ada.token, 'granted')
  await ctx.consent(ctx.adaP, ctx.ada.token, 'withdrawn')
  await ctx.stamp()
  await host.waitFor(() => host.messages.some((m) => m.event === 'consent.withdrawn'), 'the host sees the withdrawal')
  await ada.waitFor(() => ada.messages.some((m) => m.event === 'consent.withdrawn'), 'ada sees her own withdrawal')
  const participantOf = (m: { data?: string }) => (JSON.parse(m.data!) as { data: { participantId: string | null } }).data.participantId
  t.ok(host.messages.some((m) => m.event === 'consent.granted' && participantOf(m) === ctx.hostP), 'the host sees everyone’s')
  t.notOk(ada.messages.some((m) => participantOf(m) === ctx.hostP), 'an attendee never sees another participant’s events')
  t.ok(ada.messages.some((m) => m.event === 'meeting.started'), 'but sees the meeting’s own')

  // Resume after the host's grant: only what came later.
  const hostGrant = host.messages.find((m) => m.event === 'consent.granted' && participantOf(m) === ctx.hostP)!
  const resumed = stream(address, path, ctx.host.token, hostGrant.id)
  t.teardown(() => resumed.close())
  await resumed.waitFor(() => resumed.messages.some((m) => m.event === 'consent.withdrawn'), 'resumed')
  t.ok(resumed.messages.every((m) => Number(m.id) > Number(hostGrant.id)), 'Last-Event-ID resumes after it')
  t.ok(resumed.messages.some((m) => m.event === 'consent.granted' && participantOf(m) === ctx.adaP))

  await ctx.must(ctx.req('POST', `/v1/meetings/${ctx.meetingId}/end`, ctx.host.token), 200, 'end')
  await ctx.stamp()
  await host.waitFor(() => host.ended(), 'the stream ends with the meeting')
  t.equal(host.messages.at(-1)?.event === 'end' ? host.messages.at(-2)?.event : host.messages.at(-1)?.event, 'meeting.ended', 'its last event is meeting.ended')
  t.ok((await eventRows(ctx.tenant.accountId)).some((row) => row.type === 'participant.left'), 'the stays it closed are in the outbox too')
})

t.test('a stamping pass tells streams of each batch as it commits, not only when the pass ends', async (t) => {
  const ctx = await setup(t)
  await ctx.stamp()
  const { db } = await testDatabase()
  // Four stamping batches (500 each) of the account's events.
  await db.execute(sql`select emit_event(${ctx.tenant.accountId}::uuid, 'participant.joined', ${ctx.meetingId}::uuid, null, '{}'::jsonb) from generate_series(1, 2000)`)
  const count = async () => {
    const [row] = rowsOf<{ stamped: number; unstamped: number }>(
      await db.execute(sql`select count(cursor)::int as stamped, (count(*) - count(cursor))::int as unstamped from events where account_id = ${ctx.tenant.accountId} and type = 'participant.joined' and payload = '{}'::jsonb`),
    )
    return { stamped: Number(row!.stamped), unstamped: Number(row!.unstamped) }
  }
  const relay = ctx.api.app.services.relay
  const woken = relay.next(30_000)
  const pass = relay.stampOnce()
  // Another process's stamps wake this one too: wait for the first wake after some of these are stamped.
  await woken
  let seen = await count()
  while (seen.stamped === 0) {
    await relay.next(30_000)
    seen = await count()
  }
  t.ok(seen.unstamped > 0, `woken while the pass still had events to stamp (${seen.stamped} stamped, ${seen.unstamped} not yet)`)
  await pass
  await ctx.stamp()
  t.same(await count(), { stamped: 2000, unstamped: 0 })
})
