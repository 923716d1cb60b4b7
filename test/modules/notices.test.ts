import { createHash } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { notices, noticeVersions } from '../../db/schema/index.js'
import type { Clock } from '../../src/lib/clock.js'
import { buildTestApp, createTenant, platformToken, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// Notices (issue 5 item 1, P-GOV-3): an admin creates a notice per kind and locale (its version
// 1) and publishes immutable, numbered versions carrying the sha-256 of their text; a meeting
// shows each participant the current version of every kind that applies to it, in their language.
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
  /** Moves forward and returns the new instant as the API writes it. */
  tick(seconds = 1) {
    this.at += seconds * 1000
    return new Date(this.at).toISOString()
  }
  iso() {
    return new Date(this.at).toISOString()
  }
}

const T0 = '2026-12-01T09:00:00.000Z'
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

interface Ctx {
  api: TestApp
  clock: TestClock
  tenant: Tenant
  get: (url: string, token: string) => Promise<Res>
  post: (url: string, token: string, body?: unknown) => Promise<Res>
  patch: (url: string, token: string, body: Body) => Promise<Res>
  must: (res: Promise<Res>, status: number, what: string) => Promise<any>
  /** Creates a notice as the tenant's admin (must succeed); the clock moves one second first. */
  notice: (kind: string, locale: string, text: string, extra?: Body) => Promise<any>
  publish: (noticeId: string, text: string, extra?: Body) => Promise<Res>
  /** A started meeting hosted by `token` (must succeed). */
  live: (token: string) => Promise<any>
}

async function setup(t: Test): Promise<Ctx> {
  const clock = new TestClock(T0)
  const api = await buildTestApp(t, { clock })
  const tenant = await createTenant(api)
  const get = (url: string, token: string) => api.request({ method: 'GET', url, token })
  const post = (url: string, token: string, body?: unknown) => api.request({ method: 'POST', url, token, ...(body === undefined ? {} : { body }) })
  const patch = (url: string, token: string, body: Body) => api.request({ method: 'PATCH', url, token, body })
  const must = async (res: Promise<Res>, status: number, what: string) => {
    const done = await res
    if (done.status !== status) throw new Error(`${what}: expected ${status}, got ${done.status} ${JSON.stringify(done.body)}`)
    return done.body
  }
  const notice = (kind: string, locale: string, text: string, extra: Body = {}) => {
    clock.tick(1)
    return must(post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind, locale, title: `${kind} ${locale}`, text, ...extra }), 201, `notice ${kind} ${locale}`)
  }
  const publish = (noticeId: string, text: string, extra: Body = {}) => {
    clock.tick(1)
    return post(`/v1/accounts/${tenant.accountId}/notices/${noticeId}/versions`, tenant.admin, { text, ...extra })
  }
  const live = async (token: string) => {
    const meeting = await must(
      post('/v1/meetings', token, { topic: 'Notices', scheduledStart: '2026-12-01T10:00:00Z', durationMinutes: 30, timeZone: 'UTC' }),
      201,
      'create meeting',
    )
    // The generated passcode goes with the meeting, as its host would share it.
    return { ...(await must(post(`/v1/meetings/${meeting.id}/start`, token), 200, 'start meeting')), passcode: meeting.passcode as string }
  }
  return { api, clock, tenant, get, post, patch, must, notice, publish, live }
}

function problem(t: Test, res: Res, status: number, code: string, label = '') {
  t.equal(res.status, status, `${label} status ${status}`.trim(), { body: res.body })
  t.equal(res.body?.code, code, `${label} code ${code}`.trim())
}

/** The pointers a validation problem names. */
const pointers = (res: Res) => ((res.body?.errors ?? []) as { pointer?: string }[]).map((e) => e.pointer)

async function noticeRows(accountId: string) {
  const { db } = await testDatabase()
  return db.select().from(notices).where(eq(notices.accountId, accountId))
}

async function versionRows(accountId: string, noticeId?: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(noticeVersions)
    .where(and(eq(noticeVersions.accountId, accountId), noticeId ? eq(noticeVersions.noticeId, noticeId) : undefined))
  return rows.sort((x, y) => x.version - y.version)
}


/** The SQLSTATE and messages of a database error, through the wrappers drizzle puts around it. */
function dbFailure(error: unknown): { state: string | undefined; messages: string } {
  let state: string | undefined
  const messages: string[] = []
  for (let e: any = error, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (typeof e.message === 'string') messages.push(e.message)
    if (!state && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) state = e.code
  }
  return { state, messages: messages.join(' | ') }
}

async function failure(work: Promise<unknown>): Promise<{ state: string | undefined; messages: string } | undefined> {
  try {
    await work
    return undefined
  } catch (error) {
    return dbFailure(error)
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Creating a notice

t.test('P-GOV-3: an admin creates a notice: version 1 with the sha-256 of its text, stored and audited', async (t) => {
  const { api, clock, tenant, post } = await setup(t)
  const text = 'Diese Sitzung wird aufgezeichnet. Ihre Zustimmung können Sie jederzeit widerrufen — ✓'
  const at = clock.tick(5)
  const created = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'de-CH', title: 'Aufzeichnung', text })
  t.equal(created.status, 201, 'created', { body: created.body })
  t.match(created.body, {
    id: String,
    accountId: tenant.accountId,
    kind: 'recording',
    locale: 'de-CH',
    title: 'Aufzeichnung',
    createdAt: at,
    currentVersion: { id: String, version: 1, sha256: sha256(text), requiresReconsent: false, publishedAt: at },
  })
  t.equal(created.body.currentVersion.sha256, createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'), 'hex sha-256 of the UTF-8 text')
  t.not(created.body.currentVersion.id, created.body.id, 'the version has its own id')

  const rows = await noticeRows(tenant.accountId)
  t.equal(rows.length, 1, 'one notice row')
  t.match(rows[0], { id: created.body.id, kind: 'recording', locale: 'de-CH' })
  t.equal(rows[0]!.createdAt.toISOString(), at)
  const versions = await versionRows(tenant.accountId)
  t.equal(versions.length, 1, 'one version row')
  t.match(versions[0], { id: created.body.currentVersion.id, noticeId: created.body.id, kind: 'recording', version: 1, title: 'Aufzeichnung', text, sha256: sha256(text), requiresReconsent: false })
  t.equal(versions[0]!.publishedAt.toISOString(), at, 'published at the server clock')

  const audited = await auditRows(tenant.accountId, 'notice.published')
  t.equal(audited.length, 1, 'one notice.published audit entry')
  t.match(audited[0], { targetType: 'notice', targetId: created.body.id, actorType: 'user', actorId: tenant.adminId })
  t.same(audited[0]!.details, { kind: 'recording', locale: 'de-CH', version: 1, sha256: sha256(text) })

  // Leading and trailing whitespace is trimmed: the hash is of the text participants are shown.
  const padded = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'en', title: 'Recording', text: '  Recorded.\n' })
  t.equal(padded.status, 201)
  const [paddedRow] = await versionRows(tenant.accountId, padded.body.id)
  t.equal(paddedRow!.text, 'Recorded.')
  t.equal(padded.body.currentVersion.sha256, sha256(paddedRow!.text), 'the hash matches the stored text')

  // requiresReconsent given on create is stored on version 1.
  const flagged = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'transcript', locale: 'en', title: 'T', text: 'Transcribed.', requiresReconsent: true })
  t.equal(flagged.status, 201)
  t.equal(flagged.body.currentVersion.requiresReconsent, true)
  t.equal((await versionRows(tenant.accountId, flagged.body.id))[0]!.requiresReconsent, true)

  // The audit trail as the API lists it, and its chain still verifies.
  const trail = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit?limit=100`, token: tenant.admin })
  t.equal(trail.status, 200)
  const published = trail.body.items.filter((entry: any) => entry.action === 'notice.published')
  t.same(published.map((entry: any) => entry.target.id), [created.body.id, padded.body.id, flagged.body.id])
  const verified = await api.request({ method: 'GET', url: `/v1/accounts/${tenant.accountId}/audit/verify`, token: tenant.admin })
  t.equal(verified.body.valid, true, 'the audit chain verifies')
})

t.test('creating a notice: admin only (member 403, another account 404, platform 404); validation 400s write nothing', async (t) => {
  const { api, tenant, post } = await setup(t)
  const member = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  const other = await createTenant(api)
  const url = `/v1/accounts/${tenant.accountId}/notices`
  const valid = { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' }

  problem(t, await post(url, member.token, valid), 403, 'forbidden', 'a member')
  problem(t, await post(url, recorder.token, valid), 403, 'forbidden', 'the recorder')
  problem(t, await post(url, other.admin, valid), 404, 'not_found', "another account's admin")
  problem(t, await post(url, platformToken(api.config), valid), 404, 'not_found', 'the platform operator (P-GOV-1)')
  problem(t, await api.request({ method: 'POST', url, body: valid }), 401, 'unauthorized', 'no token')

  const unknownKind = await post(url, tenant.admin, { ...valid, kind: 'surveillance' })
  problem(t, unknownKind, 400, 'validation_failed', 'unknown kind')
  t.ok(pointers(unknownKind).includes('/body/kind'), 'names /body/kind')
  for (const locale of ['english', 'e', 'en_US', 'de-', '']) {
    const bad = await post(url, tenant.admin, { ...valid, locale })
    problem(t, bad, 400, 'validation_failed', `locale ${JSON.stringify(locale)}`)
    t.ok(pointers(bad).includes('/body/locale'), `names /body/locale for ${JSON.stringify(locale)}`)
  }
  const extra = await post(url, tenant.admin, { ...valid, version: 7 })
  problem(t, extra, 400, 'validation_failed', 'unknown property')
  t.ok(pointers(extra).includes('/body/version'), 'names the unknown property')
  for (const text of ['', '   \n ']) {
    const empty = await post(url, tenant.admin, { ...valid, text })
    problem(t, empty, 400, 'validation_failed', `text ${JSON.stringify(text)}`)
    t.ok(pointers(empty).includes('/body/text'), 'names /body/text')
  }
  const noTitle = await post(url, tenant.admin, { kind: 'recording', locale: 'en', text: 'x' })
  problem(t, noTitle, 400, 'validation_failed', 'missing title')
  problem(t, await post(url, tenant.admin, { ...valid, text: 'a\u0000b' }), 400, 'validation_failed', 'NUL in the text')
  problem(t, await post(`/v1/accounts/not-a-uuid/notices`, tenant.admin, valid), 400, 'validation_failed', 'malformed account id')

  t.equal((await noticeRows(tenant.accountId)).length, 0, 'no notice written')
  t.equal((await versionRows(tenant.accountId)).length, 0, 'no version written')
  t.equal((await noticeRows(other.accountId)).length, 0, 'nothing in the other account either')
  t.equal((await auditRows(tenant.accountId, 'notice.published')).length, 0, 'nothing audited')
})

t.test('one notice per kind and locale: a second is 409 notice_exists; another locale or kind is fine; races make one', async (t) => {
  const { api, tenant, post, notice } = await setup(t)
  const url = `/v1/accounts/${tenant.accountId}/notices`
  const first = await notice('recording', 'en', 'This meeting is recorded.')
  const again = await post(url, tenant.admin, { kind: 'recording', locale: 'en', title: 'Other', text: 'Another text.' })
  problem(t, again, 409, 'notice_exists', 'same kind and locale')
  t.equal((await noticeRows(tenant.accountId)).length, 1, 'the conflict wrote nothing')
  t.equal((await versionRows(tenant.accountId)).length, 1)
  t.equal((await auditRows(tenant.accountId, 'notice.published')).length, 1, 'the conflict is not audited')

  const german = await post(url, tenant.admin, { kind: 'recording', locale: 'de', title: 'Aufzeichnung', text: 'Diese Sitzung wird aufgezeichnet.' })
  t.equal(german.status, 201, 'another locale')
  const swiss = await post(url, tenant.admin, { kind: 'recording', locale: 'de-CH', title: 'Aufzeichnung', text: 'Diese Sitzung wird aufgezeichnet.' })
  t.equal(swiss.status, 201, 'a regional locale of the same language; the same text is fine in another notice')
  const transcript = await post(url, tenant.admin, { kind: 'transcript', locale: 'en', title: 'Transcript', text: 'This meeting is transcribed.' })
  t.equal(transcript.status, 201, 'another kind in the same locale')
  t.not(german.body.id, first.id)

  // Another account may have its own recording/en notice.
  const other = await createTenant(api)
  const theirs = await post(`/v1/accounts/${other.accountId}/notices`, other.admin, { kind: 'recording', locale: 'en', title: 'R', text: 'This meeting is recorded.' })
  t.equal(theirs.status, 201, 'the uniqueness is per account')

  // Concurrent creates of one kind and locale: exactly one wins, the others are notice_exists.
  const racing = await Promise.all(
    Array.from({ length: 6 }, (_, i) => post(url, tenant.admin, { kind: 'privacy_policy', locale: 'fr', title: `P${i}`, text: `Politique ${i}` })),
  )
  t.same(racing.map((res) => res.status).sort(), [201, 409, 409, 409, 409, 409], 'one 201, five 409')
  for (const res of racing.filter((r) => r.status === 409)) t.equal(res.body.code, 'notice_exists')
  const french = (await noticeRows(tenant.accountId)).filter((row) => row.kind === 'privacy_policy')
  t.equal(french.length, 1, 'one privacy_policy/fr row')
  t.equal((await versionRows(tenant.accountId, french[0]!.id)).length, 1, 'with one version')
})

// ---------------------------------------------------------------------------------------------
// 2. Publishing versions

t.test('P-GOV-3: publishing versions numbers them 2, 3; unchanged text is 409; requiresReconsent stored; each audited', async (t) => {
  const { clock, tenant, notice, publish } = await setup(t)
  const v1Text = 'This meeting is recorded.'
  const created = await notice('recording', 'en', v1Text)

  const v2Text = 'This meeting is recorded and kept for 30 days.'
  const v2 = await publish(created.id, v2Text, { requiresReconsent: true })
  t.equal(v2.status, 201, 'version 2', { body: v2.body })
  const v2At = clock.iso()
  t.match(v2.body, {
    id: created.id,
    kind: 'recording',
    locale: 'en',
    title: created.title,
    createdAt: created.createdAt,
    currentVersion: { version: 2, sha256: sha256(v2Text), requiresReconsent: true, publishedAt: v2At },
  })
  t.not(v2.body.currentVersion.id, created.currentVersion.id, 'a new version id')

  problem(t, await publish(created.id, v2Text), 409, 'notice_unchanged', 'the current text again')
  problem(t, await publish(created.id, `  ${v2Text}\n`), 409, 'notice_unchanged', 'the current text with surrounding whitespace')

  // The text of an older version is a change relative to the current one: it becomes version 3.
  const v3 = await publish(created.id, v1Text)
  t.equal(v3.status, 201)
  t.equal(v3.body.currentVersion.version, 3)
  t.equal(v3.body.currentVersion.requiresReconsent, false, 'requiresReconsent defaults to false')
  t.equal(v3.body.currentVersion.sha256, created.currentVersion.sha256, 'same text, same hash')

  const versions = await versionRows(tenant.accountId, created.id)
  t.same(
    versions.map((v) => [v.version, v.id, v.text, v.sha256, v.requiresReconsent, v.kind]),
    [
      [1, created.currentVersion.id, v1Text, sha256(v1Text), false, 'recording'],
      [2, v2.body.currentVersion.id, v2Text, sha256(v2Text), true, 'recording'],
      [3, v3.body.currentVersion.id, v1Text, sha256(v1Text), false, 'recording'],
    ],
    'three immutable versions, in order',
  )
  t.equal(versions[1]!.publishedAt.toISOString(), v2At)
  t.equal(versions[1]!.publishedBy, tenant.adminId)

  const audited = await auditRows(tenant.accountId, 'notice.published')
  t.same(
    audited.map((row) => [row.targetId, row.details.version, row.details.sha256]),
    [
      [created.id, 1, sha256(v1Text)],
      [created.id, 2, sha256(v2Text)],
      [created.id, 3, sha256(v1Text)],
    ],
    'one notice.published entry per version, the refusals none',
  )
  t.same(audited[1]!.details, { kind: 'recording', locale: 'en', version: 2, sha256: sha256(v2Text), requiresReconsent: true })
})

t.test('P-GOV-3: a new version may retitle the notice; the notice shows the current title, earlier versions keep theirs', async (t) => {
  const { tenant, get, notice, publish, live } = await setup(t)
  const created = await notice('privacy_policy', 'en', 'We keep your name.')
  t.equal(created.title, 'privacy_policy en')

  const retitled = await publish(created.id, 'We keep your name and email.', { title: 'Privacy policy' })
  t.equal(retitled.status, 201, 'text and title', { body: retitled.body })
  t.match(retitled.body, { title: 'Privacy policy', currentVersion: { version: 2 } })
  const sameText = await publish(created.id, 'We keep your name and email.', { title: '  How we use your data ' })
  t.equal(sameText.status, 201, 'a new title alone is a new version', { body: sameText.body })
  t.match(sameText.body, { title: 'How we use your data', currentVersion: { version: 3, sha256: retitled.body.currentVersion.sha256 } })
  const kept = await publish(created.id, 'We keep your name, email and time zone.')
  t.equal(kept.status, 201)
  t.match(kept.body, { title: 'How we use your data', currentVersion: { version: 4 } }, 'without a title the current one is kept')
  problem(t, await publish(created.id, 'We keep your name, email and time zone.', { title: 'How we use your data' }), 409, 'notice_unchanged', 'same text, same title')
  problem(t, await publish(created.id, 'Other.', { title: '' }), 400, 'validation_failed', 'an empty title')

  t.same(
    (await versionRows(tenant.accountId, created.id)).map((v) => [v.version, v.title]),
    [[1, 'privacy_policy en'], [2, 'Privacy policy'], [3, 'How we use your data'], [4, 'How we use your data']],
    'each version keeps the title it was published with',
  )
  const listed = await get(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin)
  t.equal(listed.body.items.find((n: any) => n.id === created.id)?.title, 'How we use your data', 'the list shows the current title')
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const shown = await get(`/v1/meetings/${meeting.id}/notices`, host.token)
  t.match(shown.body.items, [{ noticeId: created.id, title: 'How we use your data', version: 4 }], 'participants see the current title')

  const audited = (await auditRows(tenant.accountId, 'notice.published')).filter((row) => row.targetId === created.id)
  t.same(audited.map((row) => row.details.title), [undefined, 'Privacy policy', 'How we use your data', undefined], 'a new title is audited')
})

t.test('publishing: admin only; unknown notice 404; another account 404; validation 400; concurrent publishes take distinct numbers', async (t) => {
  const { api, tenant, post, notice, publish } = await setup(t)
  const member = await tenant.user(['member'])
  const created = await notice('transcript', 'en', 'Transcribed.')
  const url = `/v1/accounts/${tenant.accountId}/notices/${created.id}/versions`

  problem(t, await post(url, member.token, { text: 'New' }), 403, 'forbidden', 'a member')
  problem(t, await publish('0190a6f0-0000-7000-8000-000000000000', 'New'), 404, 'not_found', 'unknown notice')
  const other = await createTenant(api)
  problem(t, await post(url, other.admin, { text: 'New' }), 404, 'not_found', "another account's admin on this account's path")
  problem(
    t,
    await post(`/v1/accounts/${other.accountId}/notices/${created.id}/versions`, other.admin, { text: 'New' }),
    404,
    'not_found',
    "this account's notice through another account's path",
  )
  const extra = await post(url, tenant.admin, { text: 'New', kind: 'recording' })
  problem(t, extra, 400, 'validation_failed', 'unknown property (the kind is fixed)')
  t.ok(pointers(extra).includes('/body/kind'))
  const empty = await post(url, tenant.admin, { text: '' })
  problem(t, empty, 400, 'validation_failed', 'empty text')
  t.ok(pointers(empty).includes('/body/text'))
  problem(t, await post(url, tenant.admin, { text: 'x', requiresReconsent: 'yes' }), 400, 'validation_failed', 'requiresReconsent not a boolean')
  problem(t, await post(`/v1/accounts/${tenant.accountId}/notices/nope/versions`, tenant.admin, { text: 'x' }), 400, 'validation_failed', 'malformed notice id')
  t.equal((await versionRows(tenant.accountId, created.id)).length, 1, 'refusals wrote no version')
  t.equal((await auditRows(tenant.accountId, 'notice.published')).length, 1, 'and no audit entry')

  // Publishers racing on one notice each get their own number (the notice row is locked).
  const racing = await Promise.all(Array.from({ length: 5 }, (_, i) => post(url, tenant.admin, { text: `Transcribed, revision ${i}.` })))
  t.same(racing.map((res) => res.status), [201, 201, 201, 201, 201], 'every distinct text is published')
  t.same(racing.map((res) => res.body.currentVersion.version).sort(), [2, 3, 4, 5, 6], 'numbers 2 to 6, none twice')
  const versions = await versionRows(tenant.accountId, created.id)
  t.same(versions.map((v) => v.version), [1, 2, 3, 4, 5, 6])
  for (const v of versions) t.equal(v.sha256, sha256(v.text), `version ${v.version} hash is its text's`)
})

t.test('P-GOV-3: published versions are immutable in the database: UPDATE and DELETE fail (trigger)', async (t) => {
  const { tenant, notice, publish } = await setup(t)
  const created = await notice('recording', 'en', 'Recorded.')
  t.equal((await publish(created.id, 'Recorded, version two.')).status, 201)
  const { db } = await testDatabase()
  const before = await versionRows(tenant.accountId, created.id)
  const v1 = and(eq(noticeVersions.accountId, tenant.accountId), eq(noticeVersions.id, created.currentVersion.id))

  const update = await failure(db.update(noticeVersions).set({ text: 'Silently changed.', sha256: sha256('Silently changed.') }).where(v1))
  t.ok(update, 'UPDATE of a version fails')
  t.equal(update?.state, '42501', 'refused by the trigger (insufficient_privilege)')
  t.match(update?.messages, /notice_versions is append-only/)
  const flag = await failure(db.update(noticeVersions).set({ requiresReconsent: true }).where(eq(noticeVersions.noticeId, created.id)))
  t.equal(flag?.state, '42501', 'UPDATE of any column of any version fails')
  const remove = await failure(db.delete(noticeVersions).where(v1))
  t.equal(remove?.state, '42501', 'DELETE of a version fails')
  t.match(remove?.messages, /append-only/)
  const removeAll = await failure(db.delete(noticeVersions).where(eq(noticeVersions.accountId, tenant.accountId)))
  t.equal(removeAll?.state, '42501', 'DELETE of all versions fails')
  // Inside a transaction the trigger refuses too, and the transaction rolls back as a whole.
  const inTx = await failure(
    db.transaction(async (tx) => {
      await tx.update(noticeVersions).set({ version: 9 }).where(v1)
    }),
  )
  t.equal(inTx?.state, '42501', 'in a transaction too')

  t.same(await versionRows(tenant.accountId, created.id), before, 'every version is exactly as published')
})

// ---------------------------------------------------------------------------------------------
// 3. Listing the account's notices

t.test("GET /v1/accounts/{id}/notices: each notice with its current version, kind filter, pages by cursor; admin only", async (t) => {
  const { api, tenant, get, notice, publish } = await setup(t)
  const member = await tenant.user(['member'])
  const made = [
    await notice('recording', 'en', 'Recorded.'),
    await notice('recording', 'de', 'Aufgezeichnet.'),
    await notice('transcript', 'en', 'Transcribed.'),
    await notice('privacy_policy', 'en', 'Privacy.'),
    await notice('attention_tracking', 'en', 'Attention.'),
    await notice('media_monitoring', 'en', 'Diagnostics.'),
  ]
  const v2 = await publish(made[0].id, 'Recorded, version two.', { requiresReconsent: true })
  t.equal(v2.status, 201)
  const url = `/v1/accounts/${tenant.accountId}/notices`

  const all = await get(url, tenant.admin)
  t.equal(all.status, 200)
  t.equal(all.body.nextCursor, null, 'one page')
  t.same(all.body.items.map((n: any) => n.id), made.map((n) => n.id), 'every notice once, oldest first')
  t.same(all.body.items[0], v2.body, 'the first notice shows its current version 2')
  t.equal(all.body.items[0].currentVersion.version, 2)
  t.same(all.body.items[1], made[1], 'the others show version 1')

  const recordingOnly = await get(`${url}?kind=recording`, tenant.admin)
  t.same(recordingOnly.body.items.map((n: any) => [n.kind, n.locale]), [['recording', 'en'], ['recording', 'de']], 'kind filter')
  const none = await get(`${url}?kind=media_monitoring`, tenant.admin)
  t.same(none.body.items.map((n: any) => n.id), [made[5].id])
  problem(t, await get(`${url}?kind=gossip`, tenant.admin), 400, 'validation_failed', 'unknown kind filter')

  // Pages of two follow the cursor to the end, each notice exactly once.
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: Res = await get(`${url}?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, tenant.admin)
    t.equal(page.status, 200)
    t.ok(page.body.items.length <= 2)
    seen.push(...page.body.items.map((n: any) => n.id))
    cursor = page.body.nextCursor
    pages++
  } while (cursor && pages < 10)
  t.equal(pages, 3, 'three pages of two')
  t.same(seen, made.map((n) => n.id), 'the pages together list every notice once, in order')
  const kindPage = await get(`${url}?kind=recording&limit=1`, tenant.admin)
  t.equal(kindPage.body.items.length, 1)
  t.type(kindPage.body.nextCursor, 'string')
  const kindNext = await get(`${url}?kind=recording&limit=1&cursor=${kindPage.body.nextCursor}`, tenant.admin)
  t.same(kindNext.body.items.map((n: any) => n.id), [made[1].id], 'the cursor respects the kind filter')
  t.equal(kindNext.body.nextCursor, null)

  problem(t, await get(`${url}?cursor=bogus`, tenant.admin), 400, 'validation_failed', 'bad cursor')
  problem(t, await get(`${url}?limit=0`, tenant.admin), 400, 'validation_failed', 'limit 0')
  problem(t, await get(`${url}?limit=101`, tenant.admin), 400, 'validation_failed', 'limit over 100')
  problem(t, await get(url, member.token), 403, 'forbidden', 'a member')
  const other = await createTenant(api)
  problem(t, await get(url, other.admin), 404, 'not_found', "another account's admin")
  const theirs = await get(`/v1/accounts/${other.accountId}/notices`, other.admin)
  t.same(theirs.body.items, [], "the other account's list is its own (empty)")
})

// ---------------------------------------------------------------------------------------------
// 4. What a meeting shows

t.test('GET /v1/meetings/{id}/notices picks per kind: exact locale, base language, a sibling region, en, then the oldest', async (t) => {
  const { tenant, get, patch, notice, publish, live, must } = await setup(t)
  await must(patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'recording.cloud.enabled': true } }), 200, 'settings')
  // privacy_policy has no English notice: the oldest (fr, made first) is the last fallback.
  const ppFr = await notice('privacy_policy', 'fr', 'Politique de confidentialité.')
  const ppIt = await notice('privacy_policy', 'it', 'Informativa sulla privacy.')
  const recDeCh = await notice('recording', 'de-CH', 'Diese Sitzung wird aufgezeichnet (CH).')
  const recEn = await notice('recording', 'en', 'This meeting is recorded.')
  const recDe = await notice('recording', 'de', 'Diese Sitzung wird aufgezeichnet.')
  const recPtBr = await notice('recording', 'pt-BR', 'Esta reunião é gravada.')
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const url = `/v1/meetings/${meeting.id}/notices`

  const pick = async (locale: string | undefined) => {
    const res = await get(locale === undefined ? url : `${url}?locale=${encodeURIComponent(locale)}`, host.token)
    t.equal(res.status, 200, `locale ${locale}`, { body: res.body })
    t.same(res.body.items.map((n: any) => n.kind), ['privacy_policy', 'recording'], `kinds for ${locale}, one notice each`)
    return Object.fromEntries(res.body.items.map((n: any) => [n.kind, n.noticeId]))
  }
  t.same(await pick('de-CH'), { privacy_policy: ppFr.id, recording: recDeCh.id }, 'de-CH: exact locale')
  t.same(await pick('de'), { privacy_policy: ppFr.id, recording: recDe.id }, 'de: exact, not de-CH')
  t.same(await pick('de-AT'), { privacy_policy: ppFr.id, recording: recDe.id }, 'de-AT: the base language de')
  t.same(await pick('pt-PT'), { privacy_policy: ppFr.id, recording: recPtBr.id }, 'pt-PT: no pt, a pt-BR sibling')
  t.same(await pick('it'), { privacy_policy: ppIt.id, recording: recEn.id }, 'it: exact for privacy, en for recording')
  t.same(await pick('it-CH'), { privacy_policy: ppIt.id, recording: recEn.id }, 'it-CH: base it, else en')
  t.same(await pick('ja'), { privacy_policy: ppFr.id, recording: recEn.id }, 'ja: en, else the oldest')
  t.same(await pick(undefined), { privacy_policy: ppFr.id, recording: recEn.id }, 'no locale: en, else the oldest')

  // The full item: the current version's text, id, number and hash; the hash is of that text.
  const v2 = await publish(recDe.id, 'Diese Sitzung wird aufgezeichnet, Version 2.', { requiresReconsent: true })
  t.equal(v2.status, 201)
  const german = await get(`${url}?locale=de`, host.token)
  const recording = german.body.items.find((n: any) => n.kind === 'recording')
  t.same(recording, {
    noticeId: recDe.id,
    kind: 'recording',
    locale: 'de',
    title: recDe.title,
    text: 'Diese Sitzung wird aufgezeichnet, Version 2.',
    versionId: v2.body.currentVersion.id,
    version: 2,
    sha256: sha256('Diese Sitzung wird aufgezeichnet, Version 2.'),
    requiresReconsent: true,
    publishedAt: v2.body.currentVersion.publishedAt,
  })
  for (const item of german.body.items) t.equal(item.sha256, sha256(item.text), `${item.kind}: the hash is of the text shown`)

  const bad = await get(`${url}?locale=German`, host.token)
  problem(t, bad, 400, 'validation_failed', 'a malformed locale')
  t.ok(pointers(bad).includes('/querystring/locale'))
  problem(t, await get(`${url}?lang=de`, host.token), 400, 'validation_failed', 'an unknown query parameter')
})

t.test('GET /v1/meetings/{id}/notices lists only the kinds that apply to the meeting, from its effective settings', async (t) => {
  const { api, tenant, get, patch, post, notice, live, must } = await setup(t)
  for (const kind of ['privacy_policy', 'recording', 'transcript', 'attention_tracking', 'media_monitoring']) await notice(kind, 'en', `${kind} notice.`)
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)
  const url = `/v1/meetings/${meeting.id}/notices`
  const kinds = async (token = host.token) => {
    const res = await get(url, token)
    t.equal(res.status, 200, '', { body: res.body })
    return res.body.items.map((n: any) => n.kind)
  }
  const account = (values: Body) => must(patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values }), 200, 'account settings')

  t.same(await kinds(), ['privacy_policy'], 'defaults: only the privacy policy (never media_monitoring)')
  await account({ 'recording.local.enabled': true })
  t.same(await kinds(), ['privacy_policy', 'recording'], 'local recording enabled')
  await account({ 'recording.local.enabled': false, 'recording.cloud.enabled': true })
  t.same(await kinds(), ['privacy_policy', 'recording'], 'cloud recording enabled')
  await account({ 'recording.cloud.enabled': false, 'transcript.enabled': true })
  t.same(await kinds(), ['privacy_policy', 'transcript'], 'transcripts only')
  await account({ 'attention_tracking.enabled': true })
  t.same(await kinds(), ['privacy_policy', 'transcript'], 'attention enabled but not allowed by the account')
  await account({ 'attention_tracking.enabled': false, 'attention_tracking.allowed': true })
  t.same(await kinds(), ['privacy_policy', 'transcript'], 'attention allowed but not enabled')
  await account({ 'attention_tracking.enabled': true })
  t.same(await kinds(), ['attention_tracking', 'privacy_policy', 'transcript'], 'attention allowed and enabled')

  // A meeting's own layer changes its list and only its list.
  const second = await live(host.token)
  await must(patch(`/v1/meetings/${second.id}/settings`, host.token, { values: { 'recording.cloud.enabled': true, 'transcript.enabled': false } }), 200, 'meeting settings')
  const secondKinds = await get(`/v1/meetings/${second.id}/notices`, host.token)
  t.same(secondKinds.body.items.map((n: any) => n.kind), ['attention_tracking', 'privacy_policy', 'recording'], "the meeting layer's values")
  t.same(await kinds(), ['attention_tracking', 'privacy_policy', 'transcript'], 'the first meeting is unchanged')

  // Who may read them: the host, a participant, an admin, the recorder; a non-participant 404.
  const ada = await tenant.user(['member'])
  const stranger = await tenant.user(['member'])
  const recorder = await tenant.user(['recorder'])
  problem(t, await get(url, ada.token), 404, 'not_found', 'a member before joining')
  t.equal((await post(`/v1/meetings/${meeting.id}/participants`, ada.token, { passcode: meeting.passcode })).status, 201, 'ada joins')
  t.same(await kinds(ada.token), ['attention_tracking', 'privacy_policy', 'transcript'], 'a participant reads them')
  t.equal((await get(url, tenant.admin)).status, 200, 'an admin')
  t.equal((await get(url, recorder.token)).status, 200, 'the recorder')
  problem(t, await get(url, stranger.token), 404, 'not_found', 'a member who is not a participant')
  const other = await createTenant(api)
  problem(t, await get(url, other.admin), 404, 'not_found', "another account's admin")
  problem(t, await get('/v1/meetings/0190a6f0-0000-7000-8000-000000000000/notices', host.token), 404, 'not_found', 'unknown meeting')

  // With no notice of an applicable kind, that kind is simply absent (nothing to show).
  const bare = await createTenant(api)
  const bareHost = await bare.user(['member'])
  const bareMeeting = await must(
    api.request({ method: 'POST', url: '/v1/meetings', token: bareHost.token, body: { topic: 'Bare', scheduledStart: '2026-12-01T10:00:00Z', durationMinutes: 30, timeZone: 'UTC' } }),
    201,
    'bare meeting',
  )
  const bareList = await get(`/v1/meetings/${bareMeeting.id}/notices`, bareHost.token)
  t.equal(bareList.status, 200)
  t.same(bareList.body.items, [], "another account's notices are never shown")
})

t.test('BCP 47 tags are case-insensitive: de-ch is the de-CH locale, for uniqueness and for picking', async (t) => {
  // RFC 5646 §2.1.1: "de-CH" and "de-ch" are the same tag. The schema accepts both spellings.
  const { tenant, get, patch, post, notice, live, must } = await setup(t)
  await must(patch(`/v1/accounts/${tenant.accountId}/settings`, tenant.admin, { values: { 'recording.cloud.enabled': true } }), 200, 'settings')
  const swiss = await notice('recording', 'de-CH', 'Diese Sitzung wird aufgezeichnet (CH).')
  await notice('recording', 'de', 'Diese Sitzung wird aufgezeichnet.')
  const host = await tenant.user(['member'])
  const meeting = await live(host.token)

  const picked = await get(`/v1/meetings/${meeting.id}/notices?locale=de-ch`, host.token)
  t.equal(picked.status, 200)
  t.equal(picked.body.items.find((n: any) => n.kind === 'recording')?.noticeId, swiss.id, 'a participant asking for de-ch is shown the de-CH notice')

  const duplicate = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'recording', locale: 'de-ch', title: 'Doppelt', text: 'Andere Fassung.' })
  problem(t, duplicate, 409, 'notice_exists', 'a second recording notice for de-CH spelled de-ch')
  const shouted = await post(`/v1/accounts/${tenant.accountId}/notices`, tenant.admin, { kind: 'transcript', locale: 'DE-ch', title: 'Transkript', text: 'Diese Sitzung wird transkribiert.' })
  t.equal(shouted.status, 201, 'any spelling of a tag is accepted')
  t.equal(shouted.body.locale, 'de-CH', 'and stored in its canonical form')
  t.equal((await noticeRows(tenant.accountId)).filter((row) => row.kind === 'recording' && row.locale.toLowerCase() === 'de-ch').length, 1, 'one recording notice for the de-CH locale')
})
