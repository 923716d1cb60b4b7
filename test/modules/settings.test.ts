import { and, eq } from 'drizzle-orm'
import { Ajv2020 } from 'ajv/dist/2020.js'
import t, { type Test } from 'tap'
import { consentRecords, settingLocks, settingValues } from '../../db/schema/index.js'
import { buildTestApp, countQueries, createTenant, type Tenant, type TestApp, testDatabase } from '../helpers/app.js'
import { auditRows } from '../helpers/audit.js'

// The settings engine: catalogue, layered resolution with provenance, fixed and floor locks,
// privacy signals (Sec-GPC, DNT), validation, tenancy and the two-round-trip effective read.
// Every request goes through api.request, which checks the answer against openapi/openapi.json.

const api: TestApp = await buildTestApp(t)

// ---------------------------------------------------------------------------------------------
// Helpers

type Body = Record<string, unknown>

const accountUrl = (tenant: Tenant) => `/v1/accounts/${tenant.accountId}/settings`
const groupUrl = (tenant: Tenant, groupId: string) => `/v1/accounts/${tenant.accountId}/groups/${groupId}/settings`
const userUrl = (tenant: Tenant, userId: string) => `/v1/accounts/${tenant.accountId}/users/${userId}/settings`
const effectiveUrl = (tenant: Tenant, userId: string) => `/v1/accounts/${tenant.accountId}/users/${userId}/settings/effective`

function get(url: string, token?: string, headers?: Record<string, string>) {
  return api.request({ method: 'GET', url, ...(token ? { token } : {}), ...(headers ? { headers } : {}) })
}

function patch(url: string, token: string, body: Body, headers?: Record<string, string>) {
  return api.request({ method: 'PATCH', url, token, body, ...(headers ? { headers } : {}) })
}

/** PATCH that must succeed; returns the layer view. */
async function patchOk(url: string, token: string, body: Body) {
  const res = await patch(url, token, body)
  if (res.status !== 200) throw new Error(`PATCH ${url} ${JSON.stringify(body)}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

const patchMe = (token: string, values: Body, headers?: Record<string, string>) => patch('/v1/me/settings', token, { values }, headers)

interface Effective {
  value: unknown
  source: { layer: string; id: string | null; origin?: string }
  lock: { kind: string; layer: string; id: string; by: string; since: string } | null
  overridden: { layer: string; id: string; value: unknown; reason: string }[]
}

/** The admin's view of a user's effective settings. */
async function effective(tenant: Tenant, userId: string): Promise<Record<string, Effective>> {
  const res = await get(effectiveUrl(tenant, userId), tenant.admin)
  if (res.status !== 200) throw new Error(`effective: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.settings
}

/** The user's own view of their effective settings. */
async function myEffective(token: string): Promise<Record<string, Effective>> {
  const res = await get('/v1/me/settings/effective', token)
  if (res.status !== 200) throw new Error(`my effective: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.settings
}

async function createGroup(tenant: Tenant, name: string, rank?: number): Promise<string> {
  const res = await api.request({
    method: 'POST',
    url: `/v1/accounts/${tenant.accountId}/groups`,
    token: tenant.admin,
    body: { name, ...(rank === undefined ? {} : { rank }) },
  })
  if (res.status !== 201) throw new Error(`group: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.id
}

async function addMember(tenant: Tenant, groupId: string, userId: string) {
  const res = await api.request({ method: 'PUT', url: `/v1/accounts/${tenant.accountId}/groups/${groupId}/members/${userId}`, token: tenant.admin })
  if (res.status !== 204) throw new Error(`member: ${res.status} ${JSON.stringify(res.body)}`)
}

async function removeMember(tenant: Tenant, groupId: string, userId: string) {
  const res = await api.request({ method: 'DELETE', url: `/v1/accounts/${tenant.accountId}/groups/${groupId}/members/${userId}`, token: tenant.admin })
  if (res.status !== 204) throw new Error(`remove member: ${res.status} ${JSON.stringify(res.body)}`)
}

async function valueRows(accountId: string) {
  const { db } = await testDatabase()
  return db.select().from(settingValues).where(eq(settingValues.accountId, accountId))
}

async function lockRows(accountId: string) {
  const { db } = await testDatabase()
  return db.select().from(settingLocks).where(eq(settingLocks.accountId, accountId))
}

async function valueRow(accountId: string, layer: 'account' | 'group' | 'user', scopeId: string, key: string) {
  const rows = await valueRows(accountId)
  return rows.find((row) => row.layer === layer && row.scopeId === scopeId && row.key === key)
}

async function consentRows(accountId: string, userId: string) {
  const { db } = await testDatabase()
  const rows = await db
    .select()
    .from(consentRecords)
    .where(and(eq(consentRecords.accountId, accountId), eq(consentRecords.userId, userId)))
  return rows.sort((x, y) => x.at.getTime() - y.at.getTime())
}


/** The first problem item, with the 409/400 basics checked. */
function problemItem(t: Test, res: { status: number; body: any }, status: number, code: string) {
  t.equal(res.status, status, `status ${status} (${JSON.stringify(res.body)})`)
  t.equal(res.body?.code, code, `code ${code}`)
  t.ok(Array.isArray(res.body?.errors) && res.body.errors.length > 0, 'names the offending items')
  return (res.body?.errors?.[0] ?? {}) as Record<string, unknown>
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

// Keys the product design names (and consent rule 10, see README.md), plus the two
// the promises add (essential cookies, P-SET-4; data sharing, P-GOV-4).
const DESIGN_KEYS = [
  'recording.cloud.enabled',
  'recording.local.enabled',
  'recording.consent_mode',
  'recording.audio_cue',
  'recording.host_confirm_disclaimer',
  'recording.auto_delete_days',
  'recording.denial_action',
  'transcript.enabled',
  'transcript.consent_mode',
  'attention_tracking.allowed',
  'attention_tracking.enabled',
  'attention_tracking.threshold_seconds',
  'media_monitoring.allowed',
  'meeting.join_video_off',
  'meeting.join_muted',
  'meeting.waiting_room',
  'meeting.passcode_required',
  'meeting.screen_share',
  'permissions.camera',
  'permissions.microphone',
  'permissions.screen_capture',
  'privacy.marketing_email',
  'privacy.analytics',
  'privacy.non_essential_cookies',
  'privacy.targeted_ads',
  'privacy.data_sharing',
  'privacy.essential_cookies',
  'privacy.location_precision',
]

/** Keys that record the user's own opt-in (P-SET-4 / P-GOV-4): off until the user turns them on. */
const CONSENT_KEYS = [
  'privacy.marketing_email',
  'privacy.analytics',
  'privacy.non_essential_cookies',
  'privacy.targeted_ads',
  'privacy.data_sharing',
]

// ---------------------------------------------------------------------------------------------
// 1. Catalogue and private defaults

t.test('P-SET-4: the catalogue lists every key with a JSON Schema, default, layers and privacy order; defaults are private', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])

  const res = await get('/v1/settings/catalog', member.token)
  t.equal(res.status, 200)
  const entries = res.body.settings as {
    key: string
    category: string
    description: string
    default: unknown
    layers: string[]
    privacyOrder: { kind: string; privateValue?: boolean; mostPrivateFirst?: string[]; morePrivate?: string }
    schema: Record<string, unknown>
  }[]
  const keys = entries.map((entry) => entry.key)
  t.equal(new Set(keys).size, keys.length, 'each key once')
  for (const key of DESIGN_KEYS) t.ok(keys.includes(key), `catalogue has ${key}`)

  const ajv = new Ajv2020({ strict: false })
  for (const entry of entries) {
    t.match(entry, { key: /^[a-z_]+(\.[a-z_]+)+$/, category: String, description: String }, `${entry.key}: dotted snake_case key, category, description`)
    t.ok('default' in entry, `${entry.key}: has a default`)
    t.ok(Array.isArray(entry.layers), `${entry.key}: has layers`)
    t.ok(entry.layers.every((layer) => ['account', 'group', 'user', 'meeting'].includes(layer)), `${entry.key}: layers are layer names`)
    t.ok(['boolean', 'enum', 'number', 'none'].includes(entry.privacyOrder?.kind), `${entry.key}: privacy order`)
    t.type(entry.schema, 'object', `${entry.key}: JSON Schema`)
    const validate = ajv.compile(entry.schema)
    t.ok(validate(entry.default), `${entry.key}: the default satisfies its JSON Schema`)
    if (entry.privacyOrder.kind === 'boolean') {
      t.equal(entry.schema.type, 'boolean', `${entry.key}: boolean schema`)
      t.type(entry.privacyOrder.privateValue, 'boolean', `${entry.key}: names its private value`)
      t.notOk(validate('yes'), `${entry.key}: schema refuses a string`)
    }
    if (entry.privacyOrder.kind === 'enum') {
      t.same([...(entry.schema.enum as string[])].sort(), [...entry.privacyOrder.mostPrivateFirst!].sort(), `${entry.key}: order covers the enum`)
    }
    if (entry.privacyOrder.kind === 'number') {
      t.ok(['integer', 'number'].includes(entry.schema.type as string), `${entry.key}: numeric schema`)
      t.ok(['lower', 'higher'].includes(entry.privacyOrder.morePrivate!), `${entry.key}: direction`)
    }
  }

  const byKey = new Map(entries.map((entry) => [entry.key, entry]))
  for (const key of CONSENT_KEYS) {
    t.equal(byKey.get(key)?.default, false, `${key} is off by default`)
    t.same(byKey.get(key)?.privacyOrder, { kind: 'boolean', privateValue: false }, `${key}: false is the private value`)
  }
  t.equal(byKey.get('recording.consent_mode')?.default, 'explicit')
  t.equal(byKey.get('recording.consent_mode')?.privacyOrder.mostPrivateFirst?.[0], 'explicit', 'explicit is the most private mode')
  t.equal(byKey.get('attention_tracking.allowed')?.default, false)
  t.same(byKey.get('attention_tracking.allowed')?.layers, ['account'], 'attention tracking is allowed at the account layer only')
  t.equal(byKey.get('media_monitoring.allowed')?.default, false)
  t.same(byKey.get('media_monitoring.allowed')?.layers, ['account'])
  t.equal(byKey.get('privacy.location_precision')?.default, 'none')
  t.equal(byKey.get('privacy.essential_cookies')?.default, true, 'strictly necessary cookies are on')
  t.same(byKey.get('privacy.essential_cookies')?.layers, [], 'and no layer may set them')

  // A fresh user's effective settings are those defaults, from the platform layer.
  const settings = await myEffective(member.token)
  const expected: Record<string, unknown> = {
    'privacy.marketing_email': false,
    'privacy.analytics': false,
    'privacy.non_essential_cookies': false,
    'privacy.targeted_ads': false,
    'privacy.data_sharing': false,
    'recording.consent_mode': 'explicit',
    'attention_tracking.allowed': false,
    'media_monitoring.allowed': false,
    'privacy.essential_cookies': true,
  }
  for (const [key, value] of Object.entries(expected)) {
    t.same(settings[key], { value, source: { layer: 'platform', id: null }, lock: null, overridden: [] }, `${key} effective default`)
  }
  for (const entry of entries) t.same(settings[entry.key]?.value, entry.default, `${entry.key}: effective value is the catalogue default`)

  // Strictly necessary cookies cannot be turned off, by anyone.
  for (const value of [false, true]) {
    const mine = await patchMe(member.token, { 'privacy.essential_cookies': value })
    const item = problemItem(t, mine, 400, 'validation_failed')
    t.equal(item.code, 'setting_not_settable')
    t.equal(item.pointer, '/body/values/privacy.essential_cookies')
  }
  const asAdmin = await patch(userUrl(tenant, member.id), tenant.admin, { values: { 'privacy.essential_cookies': false } })
  t.equal(problemItem(t, asAdmin, 400, 'validation_failed').code, 'setting_not_settable')
  const atAccount = await patch(accountUrl(tenant), tenant.admin, { values: { 'privacy.essential_cookies': false } })
  t.equal(problemItem(t, atAccount, 400, 'validation_failed').code, 'setting_not_settable')
  const lockAtAccount = await patch(accountUrl(tenant), tenant.admin, { locks: { 'privacy.essential_cookies': 'fixed' } })
  const lockItem = problemItem(t, lockAtAccount, 400, 'validation_failed')
  t.equal(lockItem.code, 'setting_not_settable')
  t.equal(lockItem.pointer, '/body/locks/privacy.essential_cookies')
  t.equal((await myEffective(member.token))['privacy.essential_cookies']?.value, true)
  t.equal((await valueRows(tenant.accountId)).length, 0, 'nothing written')
  t.equal((await lockRows(tenant.accountId)).length, 0, 'nothing locked')
})

t.test('P-SET-4: consent keys stay off until the user turns them on; an account cannot opt its users in or keep them from opting out', async (t) => {
  // "Non-essential cookies, analytics and marketing messages are off until the user turns them
  // on" (P-SET-4); withdrawing is as easy as giving (P-DSR-7). Whatever an admin does at the
  // account or group layer, a user who never opted in is not opted in, and a user can always
  // turn the key off.
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Sales')
  await addMember(tenant, group, member.id)

  for (const key of CONSENT_KEYS) {
    await patch(accountUrl(tenant), tenant.admin, { values: { [key]: true }, locks: { [key]: 'fixed' } })
    await patch(groupUrl(tenant, group), tenant.admin, { values: { [key]: true } })
    const before = (await myEffective(member.token))[key]
    t.equal(before?.value, false, `${key}: not on for a user who never turned it on (got ${JSON.stringify(before)})`)
    const optOut = await patchMe(member.token, { [key]: false })
    t.equal(optOut.status, 200, `${key}: the user can turn it off (got ${optOut.status} ${optOut.body?.code ?? ''})`)
    t.equal((await myEffective(member.token))[key]?.value, false, `${key}: off after the user's choice`)
  }
})

t.test('P-SET-4: an admin cannot opt a user in through the user layer either; the user can, and the admin may set the private value', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  for (const key of CONSENT_KEYS) {
    const byAdmin = await patch(userUrl(tenant, member.id), tenant.admin, { values: { [key]: true } })
    t.equal(byAdmin.status, 400, key)
    t.equal(byAdmin.body.errors[0].code, 'opt_in_reserved_to_user', key)
    t.equal((await myEffective(member.token))[key]?.value, false, `${key}: still off`)
    t.equal((await patch(userUrl(tenant, member.id), tenant.admin, { values: { [key]: false } })).status, 200, `${key}: the private value is fine`)
    t.equal((await patchMe(member.token, { [key]: true })).status, 200, `${key}: the user opts in`)
    t.equal((await myEffective(member.token))[key]?.value, true, `${key}: on by the user's choice`)
  }
})

// ---------------------------------------------------------------------------------------------
// 2. Layers

t.test('P-SET-3: account, then group, then user each override the layer above; every effective value says where it came from', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Engineering')
  const key = 'recording.auto_delete_days'
  const other = 'meeting.screen_share'

  let settings = await effective(tenant, member.id)
  t.same(settings[key], { value: 30, source: { layer: 'platform', id: null }, lock: null, overridden: [] }, 'platform default')

  const account = await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: 90, [other]: 'all' } })
  t.same(account, { layer: 'account', id: tenant.accountId, values: { [key]: 90, [other]: 'all' }, locks: {} }, 'the account layer view')
  settings = await effective(tenant, member.id)
  t.same(settings[key], { value: 90, source: { layer: 'account', id: tenant.accountId }, lock: null, overridden: [] }, 'account value')

  const groupView = await patchOk(groupUrl(tenant, group), tenant.admin, { values: { [key]: 60 } })
  t.same(groupView, { layer: 'group', id: group, values: { [key]: 60 }, locks: {} })
  settings = await effective(tenant, member.id)
  t.equal(settings[key]?.value, 90, 'a group value does not apply to a user outside the group')

  await addMember(tenant, group, member.id)
  settings = await effective(tenant, member.id)
  t.same(settings[key], { value: 60, source: { layer: 'group', id: group }, lock: null, overridden: [] }, 'group value for a member')
  t.same(settings[other], { value: 'all', source: { layer: 'account', id: tenant.accountId }, lock: null, overridden: [] }, 'other keys still from the account')

  const mine = await patchMe(member.token, { [key]: 14 })
  t.equal(mine.status, 200)
  t.same(mine.body, { layer: 'user', id: member.id, values: { [key]: 14 }, locks: {} }, 'the user layer view')
  settings = await effective(tenant, member.id)
  t.same(settings[key], { value: 14, source: { layer: 'user', id: member.id, origin: 'explicit' }, lock: null, overridden: [] }, 'user value')
  t.same((await myEffective(member.token))[key], settings[key], 'the user sees the same provenance on /v1/me/settings/effective')

  // Each layer's own view answers only its own values.
  t.same((await get(accountUrl(tenant), tenant.admin)).body.values, { [key]: 90, [other]: 'all' })
  t.same((await get(groupUrl(tenant, group), tenant.admin)).body.values, { [key]: 60 })
  t.same((await get(userUrl(tenant, member.id), tenant.admin)).body, { layer: 'user', id: member.id, values: { [key]: 14 }, locks: {} })
  t.same((await get('/v1/me/settings', member.token)).body, { layer: 'user', id: member.id, values: { [key]: 14 }, locks: {} })

  // An admin writes the user's layer too; unwinding falls back one layer at a time.
  await patchOk(userUrl(tenant, member.id), tenant.admin, { values: { [key]: 21 } })
  t.same((await effective(tenant, member.id))[key]?.source, { layer: 'user', id: member.id, origin: 'explicit' })
  t.equal((await effective(tenant, member.id))[key]?.value, 21)
  await patchOk(userUrl(tenant, member.id), tenant.admin, { values: { [key]: null } })
  t.same((await effective(tenant, member.id))[key]?.source, { layer: 'group', id: group }, 'back to the group')
  await removeMember(tenant, group, member.id)
  t.same((await effective(tenant, member.id))[key]?.source, { layer: 'account', id: tenant.accountId }, 'back to the account')
  await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: null } })
  t.same((await effective(tenant, member.id))[key], { value: 30, source: { layer: 'platform', id: null }, lock: null, overridden: [] }, 'back to the platform')
})

t.test('P-SET-3: a user in two groups takes the value of the higher-ranked group, whichever was created first', async (t) => {
  const tenant = await createTenant(api)
  const key = 'recording.auto_delete_days'

  // High rank created first.
  const first = await tenant.user(['member'])
  const highFirst = await createGroup(tenant, 'High first', 10)
  const lowSecond = await createGroup(tenant, 'Low second', 1)
  await patchOk(groupUrl(tenant, highFirst), tenant.admin, { values: { [key]: 10 } })
  await patchOk(groupUrl(tenant, lowSecond), tenant.admin, { values: { [key]: 20 } })
  await addMember(tenant, lowSecond, first.id)
  await addMember(tenant, highFirst, first.id)
  t.same((await effective(tenant, first.id))[key], { value: 10, source: { layer: 'group', id: highFirst }, lock: null, overridden: [] })

  // Low rank created first.
  const second = await tenant.user(['member'])
  const lowFirst = await createGroup(tenant, 'Low first', -5)
  const highSecond = await createGroup(tenant, 'High second', 5)
  await patchOk(groupUrl(tenant, lowFirst), tenant.admin, { values: { [key]: 40 } })
  await patchOk(groupUrl(tenant, highSecond), tenant.admin, { values: { [key]: 50 } })
  await addMember(tenant, highSecond, second.id)
  await addMember(tenant, lowFirst, second.id)
  t.same((await effective(tenant, second.id))[key], { value: 50, source: { layer: 'group', id: highSecond }, lock: null, overridden: [] })

  // A key the higher group does not set comes from the lower group.
  await patchOk(groupUrl(tenant, lowFirst), tenant.admin, { values: { 'meeting.screen_share': 'all' } })
  t.same((await effective(tenant, second.id))['meeting.screen_share']?.source, { layer: 'group', id: lowFirst })

  // The higher group's lock is the one that applies.
  await patchOk(groupUrl(tenant, highSecond), tenant.admin, { locks: { [key]: 'fixed' } })
  const locked = await patchMe(second.token, { [key]: 3 })
  const item = problemItem(t, locked, 409, 'setting_locked')
  t.equal(item.lockLayer, 'group')
  t.equal(item.lockId, highSecond)
})

// ---------------------------------------------------------------------------------------------
// 3. Locks

t.test('P-SET-3: a fixed lock at the account refuses user, admin-on-user and group writes with 409 setting_locked', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Ops')
  await addMember(tenant, group, member.id)
  const key = 'recording.consent_mode'

  const view = await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: 'acknowledge' }, locks: { [key]: 'fixed' } })
  t.match(view.locks[key], { kind: 'fixed', by: tenant.adminId, since: ISO })

  for (const [label, res] of [
    ['user', await patchMe(member.token, { [key]: 'notice' })],
    ['user, more private value', await patchMe(member.token, { [key]: 'explicit' })],
    ['admin on the user', await patch(userUrl(tenant, member.id), tenant.admin, { values: { [key]: 'notice' } })],
    ['group', await patch(groupUrl(tenant, group), tenant.admin, { values: { [key]: 'notice' } })],
  ] as const) {
    const item = problemItem(t, res, 409, 'setting_locked')
    t.equal(item.key, key, `${label}: names the key`)
    t.equal(item.lockLayer, 'account', `${label}: names the lock's layer`)
    t.equal(item.lockId, tenant.accountId, `${label}: names the lock's scope`)
    t.equal(item.pointer, `/body/values/${key}`, `${label}: points at the value`)
  }
  t.same(
    (await valueRows(tenant.accountId)).filter((row) => row.layer !== 'account'),
    [],
    'nothing was written below the account',
  )
  t.same((await effective(tenant, member.id))[key], {
    value: 'acknowledge',
    source: { layer: 'account', id: tenant.accountId },
    lock: { kind: 'fixed', layer: 'account', id: tenant.accountId, by: tenant.adminId, since: view.locks[key].since },
    overridden: [],
  })
  // A refused key makes the whole PATCH fail: the other value is not written either.
  const mixed = await patchMe(member.token, { [key]: 'notice', 'meeting.join_muted': false })
  t.equal(mixed.status, 409)
  t.equal(await valueRow(tenant.accountId, 'user', member.id, 'meeting.join_muted'), undefined, 'the PATCH is all or nothing')
})

t.test('P-SET-3: sending the value a fixed lock holds is a no-op (200, nothing written); another value is still 409', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Finance')
  await addMember(tenant, group, member.id)
  const key = 'recording.consent_mode'
  await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: 'acknowledge' }, locks: { [key]: 'fixed' } })
  const audited = (await auditRows(tenant.accountId)).length

  for (const [label, res] of [
    ['user', await patchMe(member.token, { [key]: 'acknowledge' })],
    ['admin on the user', await patch(userUrl(tenant, member.id), tenant.admin, { values: { [key]: 'acknowledge' } })],
    ['group', await patch(groupUrl(tenant, group), tenant.admin, { values: { [key]: 'acknowledge' } })],
  ] as const) {
    t.equal(res.status, 200, `${label}: accepted`, { body: res.body })
    t.notOk(key in res.body.values, `${label}: the layer shows no value of its own`)
  }
  t.same((await valueRows(tenant.accountId)).filter((row) => row.layer !== 'account'), [], 'nothing was written below the account')
  t.equal((await auditRows(tenant.accountId)).length, audited, 'nothing was audited')

  // Beside a real change, the held value is skipped and the rest is written.
  const mixed = await patchMe(member.token, { [key]: 'acknowledge', 'meeting.join_muted': true })
  t.equal(mixed.status, 200)
  t.same(mixed.body.values, { 'meeting.join_muted': true })
  t.equal(await valueRow(tenant.accountId, 'user', member.id, key), undefined)
  t.match((await effective(tenant, member.id))[key], { value: 'acknowledge', source: { layer: 'account' }, lock: { kind: 'fixed', layer: 'account' } })

  t.equal(problemItem(t, await patchMe(member.token, { [key]: 'explicit' }), 409, 'setting_locked').lockLayer, 'account', 'a different value is refused')
})

t.test('P-SET-3: a fixed lock at a group refuses its members\' writes (lockLayer group), not other users\'', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const outsider = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Legal')
  await addMember(tenant, group, member.id)
  const key = 'meeting.screen_share'

  await patchOk(groupUrl(tenant, group), tenant.admin, { values: { [key]: 'host_only' }, locks: { [key]: 'fixed' } })
  const refused = await patchMe(member.token, { [key]: 'all' })
  const item = problemItem(t, refused, 409, 'setting_locked')
  t.equal(item.key, key)
  t.equal(item.lockLayer, 'group')
  t.equal(item.lockId, group)
  const byAdmin = await patch(userUrl(tenant, member.id), tenant.admin, { values: { [key]: 'all' } })
  t.equal(problemItem(t, byAdmin, 409, 'setting_locked').lockLayer, 'group')
  t.equal(await valueRow(tenant.accountId, 'user', member.id, key), undefined, 'nothing written')
  t.match((await effective(tenant, member.id))[key], { value: 'host_only', source: { layer: 'group', id: group }, lock: { kind: 'fixed', layer: 'group', id: group, by: tenant.adminId } })

  const allowed = await patchMe(outsider.token, { [key]: 'all' })
  t.equal(allowed.status, 200, 'a user outside the group is not bound by its lock')
  t.same((await effective(tenant, outsider.id))[key], { value: 'all', source: { layer: 'user', id: outsider.id, origin: 'explicit' }, lock: null, overridden: [] })
})

t.test('P-SET-3: a floor lock lets lower layers only be more private (enum, number, boolean)', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Support')
  await addMember(tenant, group, member.id)

  await patchOk(accountUrl(tenant), tenant.admin, {
    values: { 'recording.consent_mode': 'acknowledge', 'recording.auto_delete_days': 30, 'meeting.waiting_room': true },
    locks: { 'recording.consent_mode': 'floor', 'recording.auto_delete_days': 'floor', 'meeting.waiting_room': 'floor' },
  })

  // Enum: explicit > acknowledge > notice.
  const notice = await patchMe(member.token, { 'recording.consent_mode': 'notice' })
  const item = problemItem(t, notice, 409, 'setting_floor')
  t.equal(item.key, 'recording.consent_mode')
  t.equal(item.lockLayer, 'account')
  t.equal(item.lockId, tenant.accountId)
  t.equal(item.floor, 'acknowledge')
  t.equal(item.pointer, '/body/values/recording.consent_mode')
  t.equal(await valueRow(tenant.accountId, 'user', member.id, 'recording.consent_mode'), undefined, 'nothing written')
  t.equal((await patchMe(member.token, { 'recording.consent_mode': 'acknowledge' })).status, 200, 'equal to the floor is allowed')
  t.equal((await patchMe(member.token, { 'recording.consent_mode': 'explicit' })).status, 200, 'more private is allowed')
  t.match((await effective(tenant, member.id))['recording.consent_mode'], {
    value: 'explicit',
    source: { layer: 'user', id: member.id, origin: 'explicit' },
    lock: { kind: 'floor', layer: 'account', id: tenant.accountId, by: tenant.adminId, since: ISO },
    overridden: [],
  })
  const groupNotice = await patch(groupUrl(tenant, group), tenant.admin, { values: { 'recording.consent_mode': 'notice' } })
  t.equal(problemItem(t, groupNotice, 409, 'setting_floor').lockLayer, 'account', 'the group is bound by the account floor too')

  // Number: fewer days is more private.
  const longer = await patchMe(member.token, { 'recording.auto_delete_days': 60 })
  t.equal(problemItem(t, longer, 409, 'setting_floor').floor, 30)
  const byAdmin = await patch(userUrl(tenant, member.id), tenant.admin, { values: { 'recording.auto_delete_days': 60 } })
  t.equal(problemItem(t, byAdmin, 409, 'setting_floor').key, 'recording.auto_delete_days', 'an admin writing the user layer is bound too')
  t.equal((await patchMe(member.token, { 'recording.auto_delete_days': 7 })).status, 200)
  t.match((await effective(tenant, member.id))['recording.auto_delete_days'], { value: 7, source: { layer: 'user', id: member.id }, lock: { kind: 'floor', layer: 'account' } })

  // Boolean: the waiting room on is the private value.
  const off = await patchMe(member.token, { 'meeting.waiting_room': false })
  t.equal(problemItem(t, off, 409, 'setting_floor').floor, true)
  t.equal((await patchMe(member.token, { 'meeting.waiting_room': true })).status, 200)
  t.match((await effective(tenant, member.id))['meeting.waiting_room'], { value: true, source: { layer: 'user', id: member.id } })

  // A group floor binds its members, below the account's.
  const other = await tenant.user(['member'])
  const strict = await createGroup(tenant, 'Strict')
  await addMember(tenant, strict, other.id)
  await patchOk(groupUrl(tenant, strict), tenant.admin, { values: { 'recording.auto_delete_days': 14 }, locks: { 'recording.auto_delete_days': 'floor' } })
  const twenty = await patchMe(other.token, { 'recording.auto_delete_days': 20 })
  const groupItem = problemItem(t, twenty, 409, 'setting_floor')
  t.equal(groupItem.lockLayer, 'group')
  t.equal(groupItem.lockId, strict)
  t.equal(groupItem.floor, 14)
  t.equal((await patchMe(other.token, { 'recording.auto_delete_days': 10 })).status, 200)
})

t.test('P-SET-3: a lock added over lower values overrides them without deleting them; unlocking restores them', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const key = 'recording.auto_delete_days'

  t.equal((await patchMe(member.token, { [key]: 90 })).status, 200)
  const view = await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: 30 }, locks: { [key]: 'fixed' } })
  const since = view.locks[key].since
  t.match(since, ISO)

  t.same((await effective(tenant, member.id))[key], {
    value: 30,
    source: { layer: 'account', id: tenant.accountId },
    lock: { kind: 'fixed', layer: 'account', id: tenant.accountId, by: tenant.adminId, since },
    overridden: [{ layer: 'user', id: member.id, value: 90, reason: 'fixed_lock' }],
  })
  const row = await valueRow(tenant.accountId, 'user', member.id, key)
  t.equal(row?.value, 90, "the user's value is kept in setting_values")
  t.same((await get('/v1/me/settings', member.token)).body.values, { [key]: 90 }, "and still shown on the user's own layer")

  // A floor lock overrides only the less private value.
  await patchOk(accountUrl(tenant), tenant.admin, { locks: { [key]: 'floor' } })
  t.match((await effective(tenant, member.id))[key], {
    value: 30,
    source: { layer: 'account', id: tenant.accountId },
    lock: { kind: 'floor', layer: 'account', id: tenant.accountId },
    overridden: [{ layer: 'user', id: member.id, value: 90, reason: 'floor_lock' }],
  })

  const unlocked = await patchOk(accountUrl(tenant), tenant.admin, { locks: { [key]: null } })
  t.same(unlocked.locks, {}, 'the lock is gone from the layer view')
  t.equal((await lockRows(tenant.accountId)).length, 0, 'and from setting_locks')
  t.same((await effective(tenant, member.id))[key], {
    value: 90,
    source: { layer: 'user', id: member.id, origin: 'explicit' },
    lock: null,
    overridden: [],
  }, "the user's value is effective again")
})

// ---------------------------------------------------------------------------------------------
// 4. Provenance of every key, null to inherit

t.test('P-SET-3: the effective view explains exactly the catalogue keys, each with value, source, lock and overridden', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Everyone')
  await addMember(tenant, group, member.id)
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'recording.cloud.enabled': true }, locks: { 'recording.cloud.enabled': 'fixed' } })
  await patchOk(groupUrl(tenant, group), tenant.admin, { values: { 'meeting.join_muted': false } })
  t.equal((await patchMe(member.token, { 'permissions.microphone': false })).status, 200)

  const catalog = (await get('/v1/settings/catalog', member.token)).body.settings as { key: string }[]
  const catalogKeys = catalog.map((entry) => entry.key).sort()

  for (const [label, res] of [
    ['admin route', await get(effectiveUrl(tenant, member.id), tenant.admin)],
    ['me route', await get('/v1/me/settings/effective', member.token)],
  ] as const) {
    t.equal(res.status, 200)
    t.same(res.body.subject, { type: 'user', id: member.id }, `${label}: subject`)
    const settings = res.body.settings as Record<string, Effective>
    t.same(Object.keys(settings).sort(), catalogKeys, `${label}: exactly the catalogue's keys`)
    for (const [key, setting] of Object.entries(settings)) {
      t.same(Object.keys(setting).sort(), ['lock', 'overridden', 'source', 'value'], `${label}: ${key} is fully explained`)
      t.ok(['platform', 'account', 'group', 'user'].includes(setting.source.layer), `${label}: ${key} source layer`)
      t.equal(setting.source.id === null, setting.source.layer === 'platform', `${label}: ${key} source id only for a layer`)
    }
    t.match(settings['recording.cloud.enabled'], { value: true, source: { layer: 'account', id: tenant.accountId }, lock: { kind: 'fixed' } })
    t.match(settings['meeting.join_muted'], { value: false, source: { layer: 'group', id: group }, lock: null })
    t.match(settings['permissions.microphone'], { value: false, source: { layer: 'user', id: member.id, origin: 'explicit' } })
  }
})

t.test('P-SET-3: null removes a layer\'s value (the row is deleted) and the key inherits again', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'Finance')
  await addMember(tenant, group, member.id)
  const key = 'meeting.join_video_off'

  await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: false } })
  await patchOk(groupUrl(tenant, group), tenant.admin, { values: { [key]: true } })
  t.equal((await patchMe(member.token, { [key]: false, 'meeting.join_muted': false })).status, 200)
  t.ok(await valueRow(tenant.accountId, 'user', member.id, key), 'the user row exists')
  t.same((await effective(tenant, member.id))[key]?.source, { layer: 'user', id: member.id, origin: 'explicit' })

  const cleared = await patchMe(member.token, { [key]: null })
  t.equal(cleared.status, 200)
  t.same(cleared.body.values, { 'meeting.join_muted': false }, 'only the removed key is gone')
  t.equal(await valueRow(tenant.accountId, 'user', member.id, key), undefined, 'the user row is deleted')
  t.ok(await valueRow(tenant.accountId, 'user', member.id, 'meeting.join_muted'), 'the other row stays')
  t.same((await effective(tenant, member.id))[key], { value: true, source: { layer: 'group', id: group }, lock: null, overridden: [] })

  await patchOk(groupUrl(tenant, group), tenant.admin, { values: { [key]: null } })
  t.equal(await valueRow(tenant.accountId, 'group', group, key), undefined, 'the group row is deleted')
  t.same((await effective(tenant, member.id))[key], { value: false, source: { layer: 'account', id: tenant.accountId }, lock: null, overridden: [] })

  await patchOk(accountUrl(tenant), tenant.admin, { values: { [key]: null } })
  t.equal(await valueRow(tenant.accountId, 'account', tenant.accountId, key), undefined, 'the account row is deleted')
  t.same((await effective(tenant, member.id))[key], { value: true, source: { layer: 'platform', id: null }, lock: null, overridden: [] })

  // Removing a value that is not set is a harmless no-op.
  t.equal((await patchMe(member.token, { [key]: null })).status, 200)
})

// ---------------------------------------------------------------------------------------------
// 5. Validation

t.test('invalid settings writes are 400 naming the key, and write nothing', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const group = await createGroup(tenant, 'QA')
  const auditBefore = (await auditRows(tenant.accountId)).length

  const cases: [string, string, Body, string, string | undefined][] = [
    // label, url, body, pointer, item code
    ['unknown key', '/v1/me/settings', { values: { 'recording.hologram': true, 'meeting.join_muted': false } }, '/body/values/recording.hologram', 'unknown_setting'],
    ['wrong type (string for boolean)', '/v1/me/settings', { values: { 'meeting.join_muted': 'yes' } }, '/body/values/meeting.join_muted', 'invalid_value'],
    ['wrong type (string for number)', userUrl(tenant, member.id), { values: { 'recording.auto_delete_days': '30' } }, '/body/values/recording.auto_delete_days', 'invalid_value'],
    ['number below its retention floor', '/v1/me/settings', { values: { 'recording.auto_delete_days': 0 } }, '/body/values/recording.auto_delete_days', 'retention_out_of_bounds'],
    ['not an integer', accountUrl(tenant), { values: { 'recording.auto_delete_days': 1.5 } }, '/body/values/recording.auto_delete_days', 'invalid_value'],
    ['not in the enum', groupUrl(tenant, group), { values: { 'recording.consent_mode': 'sometimes' } }, '/body/values/recording.consent_mode', 'invalid_value'],
    ['account-only key at the user layer', '/v1/me/settings', { values: { 'attention_tracking.allowed': false } }, '/body/values/attention_tracking.allowed', 'setting_not_settable'],
    ['account-only key at the user layer, by an admin', userUrl(tenant, member.id), { values: { 'attention_tracking.allowed': false } }, '/body/values/attention_tracking.allowed', 'setting_not_settable'],
    ['account-only key at the group layer', groupUrl(tenant, group), { values: { 'media_monitoring.allowed': false } }, '/body/values/media_monitoring.allowed', 'setting_not_settable'],
    ['account-only key locked at the group layer', groupUrl(tenant, group), { locks: { 'attention_tracking.allowed': 'fixed' } }, '/body/locks/attention_tracking.allowed', 'setting_not_settable'],
    ['floor lock on a key without privacy order', accountUrl(tenant), { values: { 'recording.denial_action': 'remove' }, locks: { 'recording.denial_action': 'floor' } }, '/body/locks/recording.denial_action', 'floor_not_orderable'],
    ['lock of an unknown key', accountUrl(tenant), { locks: { 'recording.hologram': 'fixed' } }, '/body/locks/recording.hologram', 'unknown_setting'],
    ['locks on /v1/me/settings', '/v1/me/settings', { values: { 'meeting.join_muted': false }, locks: { 'meeting.join_muted': 'fixed' } }, '/body/locks', 'unrecognized_key'],
    ['locks on an admin user PATCH', userUrl(tenant, member.id), { locks: { 'meeting.join_muted': 'fixed' } }, '/body/locks', 'unrecognized_key'],
    ['unknown lock kind', accountUrl(tenant), { locks: { 'meeting.join_muted': 'soft' } }, '/body/locks/meeting.join_muted', undefined],
    ['unknown top-level property', accountUrl(tenant), { value: { 'meeting.join_muted': false } }, '/body/value', 'unrecognized_key'],
  ]
  for (const [label, url, body, pointer, code] of cases) {
    const token = url === '/v1/me/settings' ? member.token : tenant.admin
    const res = await patch(url, token, body)
    t.equal(res.status, 400, `${label}: 400`)
    const expected = code === 'retention_out_of_bounds' ? code : 'validation_failed'
    t.equal(res.body.code, expected, `${label}: ${expected}`)
    const items = (res.body.errors ?? []) as { pointer?: string; code?: string }[]
    const item = items.find((candidate) => candidate.pointer === pointer)
    t.ok(item, `${label}: names ${pointer} (got ${JSON.stringify(items)})`)
    if (code) t.equal(item?.code, code, `${label}: code ${code}`)
  }

  // Several bad keys are all reported at once.
  const many = await patchMe(member.token, { 'x.y': 1, 'meeting.join_muted': 3, 'attention_tracking.allowed': true })
  t.equal(many.status, 400)
  t.same(
    (many.body.errors as { pointer: string }[]).map((item) => item.pointer).sort(),
    ['/body/values/attention_tracking.allowed', '/body/values/meeting.join_muted', '/body/values/x.y'],
  )

  t.same(await valueRows(tenant.accountId), [], 'no value was written')
  t.same(await lockRows(tenant.accountId), [], 'no lock was written')
  t.equal((await auditRows(tenant.accountId)).length, auditBefore, 'no audit entry was written')
})

t.test('P-SET-6: location is never kept finer than the nearest city', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  for (const value of ['precise', 'street', 'gps']) {
    const res = await patchMe(member.token, { 'privacy.location_precision': value })
    t.equal(problemItem(t, res, 400, 'validation_failed').pointer, '/body/values/privacy.location_precision', `${value} refused`)
  }
  t.equal((await patchMe(member.token, { 'privacy.location_precision': 'city' })).status, 200)
  t.match((await myEffective(member.token))['privacy.location_precision'], { value: 'city', source: { layer: 'user' } })
})

// ---------------------------------------------------------------------------------------------
// 6. Tenancy and roles

t.test('tenancy: another account\'s settings answer 404; roles: members cannot change account or group settings or read others', async (t) => {
  const a = await createTenant(api)
  const b = await createTenant(api)
  const bUser = await b.user(['member'])
  const bGroup = await createGroup(b, 'B group')
  const aGroup = await createGroup(a, 'A group')
  const aMember = await a.user(['member'])
  const aOther = await a.user(['member'])
  const body = { values: { 'meeting.join_muted': false } }
  const lockBody = { values: { 'meeting.join_muted': false }, locks: { 'meeting.join_muted': 'fixed' } }

  // Admin of A against B, through B's paths and through A's paths with B's ids.
  for (const [label, method, url, payload] of [
    ['B account settings', 'GET', accountUrl(b), undefined],
    ['B account settings', 'PATCH', accountUrl(b), lockBody],
    ['B group settings', 'GET', groupUrl(b, bGroup), undefined],
    ['B group settings', 'PATCH', groupUrl(b, bGroup), lockBody],
    ['B user settings', 'GET', userUrl(b, bUser.id), undefined],
    ['B user settings', 'PATCH', userUrl(b, bUser.id), body],
    ['B user effective', 'GET', effectiveUrl(b, bUser.id), undefined],
    ["A's path, B's group", 'GET', groupUrl(a, bGroup), undefined],
    ["A's path, B's group", 'PATCH', groupUrl(a, bGroup), lockBody],
    ["A's path, B's user", 'GET', userUrl(a, bUser.id), undefined],
    ["A's path, B's user", 'PATCH', userUrl(a, bUser.id), body],
    ["A's path, B's user effective", 'GET', effectiveUrl(a, bUser.id), undefined],
  ] as const) {
    const res = await api.request({ method, url, token: a.admin, ...(payload ? { body: payload } : {}) })
    t.equal(res.status, 404, `${method} ${label}: 404`)
    t.equal(res.body.code, 'not_found', `${method} ${label}: not_found`)
  }
  t.same(await valueRows(b.accountId), [], 'nothing was written in B')
  t.same(await lockRows(b.accountId), [], 'nothing was locked in B')
  t.same(await valueRows(a.accountId), [], 'nor in A')

  // A member of A.
  for (const [label, method, url, payload] of [
    ['account settings', 'PATCH', accountUrl(a), lockBody],
    ['account settings', 'GET', accountUrl(a), undefined],
    ['group settings', 'PATCH', groupUrl(a, aGroup), lockBody],
    ['group settings', 'GET', groupUrl(a, aGroup), undefined],
    ["another user's settings", 'PATCH', userUrl(a, aOther.id), body],
    ["another user's settings", 'GET', userUrl(a, aOther.id), undefined],
    ["another user's effective settings", 'GET', effectiveUrl(a, aOther.id), undefined],
  ] as const) {
    const res = await api.request({ method, url, token: aMember.token, ...(payload ? { body: payload } : {}) })
    t.equal(res.status, 403, `member ${method} ${label}: 403`)
    t.equal(res.body.code, 'forbidden', `member ${method} ${label}: forbidden`)
  }
  // A member of A against B is 404, not 403.
  const cross = await api.request({ method: 'PATCH', url: accountUrl(b), token: aMember.token, body: lockBody })
  t.equal(cross.status, 404)
  t.same(await valueRows(a.accountId), [], 'members wrote nothing')
  t.same(await lockRows(a.accountId), [])

  // Each user's own routes answer only their own layer.
  t.equal((await patchMe(bUser.token, { 'meeting.join_muted': false })).status, 200)
  const mine = await get('/v1/me/settings', aMember.token)
  t.same(mine.body, { layer: 'user', id: aMember.id, values: {}, locks: {} })
  t.same((await myEffective(aMember.token))['meeting.join_muted']?.source, { layer: 'platform', id: null })
})

// ---------------------------------------------------------------------------------------------
// 7. Permission toggles

t.test('P-SET-2: a user turns the camera off and the effective value says so, from the user layer', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  t.same((await myEffective(member.token))['permissions.camera'], { value: true, source: { layer: 'platform', id: null }, lock: null, overridden: [] })

  const off = await patchMe(member.token, { 'permissions.camera': false, 'permissions.screen_capture': false })
  t.equal(off.status, 200)
  t.same(off.body.values, { 'permissions.camera': false, 'permissions.screen_capture': false })
  const settings = await myEffective(member.token)
  t.same(settings['permissions.camera'], { value: false, source: { layer: 'user', id: member.id, origin: 'explicit' }, lock: null, overridden: [] })
  t.equal(settings['permissions.screen_capture']?.value, false)
  t.equal(settings['permissions.microphone']?.value, true, 'other permissions untouched')
  t.equal((await valueRow(tenant.accountId, 'user', member.id, 'permissions.camera'))?.value, false)

  // An account that wants cameras on cannot keep a user from turning theirs off.
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'permissions.microphone': true }, locks: { 'permissions.microphone': 'floor' } })
  t.equal((await patchMe(member.token, { 'permissions.microphone': false })).status, 200, 'off is always more private than a floor')
  t.equal((await myEffective(member.token))['permissions.microphone']?.value, false)
})

t.test('P-SET-2: a device permission can be turned off by the user at any time, even under an account fixed lock', async (t) => {
  // "Device permissions ... can be turned off by the user at any time" (P-SET-2); the design
  // notes that Webex lets a user's "off" win. A fixed lock keeping the camera on must not stop it.
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'permissions.camera': true }, locks: { 'permissions.camera': 'fixed' } })
  const off = await patchMe(member.token, { 'permissions.camera': false })
  t.equal(off.status, 200, `the user turns the camera off (got ${off.status} ${off.body?.code ?? ''})`)
  t.equal((await myEffective(member.token))['permissions.camera']?.value, false, 'and it is off')
})

// ---------------------------------------------------------------------------------------------
// 8. Privacy signals

t.test('P-SET-5: Sec-GPC: 1 turns targeted ads off over an earlier opt-in, with one gpc_signal consent record', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const bystander = await tenant.user(['member'])
  const key = 'privacy.targeted_ads'

  t.equal((await patchMe(member.token, { [key]: true })).status, 200)
  t.equal((await patchMe(bystander.token, { [key]: true })).status, 200)
  t.same((await myEffective(member.token))[key]?.source, { layer: 'user', id: member.id, origin: 'explicit' })
  t.equal((await myEffective(member.token))[key]?.value, true, 'opted in')
  const auditBefore = (await auditRows(tenant.accountId)).length

  // Sec-GPC: 0 or no header changes nothing.
  t.equal((await get('/v1/me', member.token, { 'sec-gpc': '0' })).status, 200)
  t.equal((await get('/v1/me', member.token)).status, 200)
  t.equal((await myEffective(member.token))[key]?.value, true, 'Sec-GPC: 0 and no header leave the opt-in')
  t.same(await consentRows(tenant.accountId, member.id), [])

  // Any authenticated request with the header.
  const me = await get('/v1/me', member.token, { 'sec-gpc': '1' })
  t.equal(me.status, 200)
  t.equal(me.body.id, member.id)
  const after = await myEffective(member.token)
  t.same(after[key], { value: false, source: { layer: 'user', id: member.id, origin: 'gpc_signal' }, lock: null, overridden: [] }, 'off, and the signal is visible')
  const row = await valueRow(tenant.accountId, 'user', member.id, key)
  t.equal(row?.value, false)
  t.equal(row?.origin, 'gpc_signal')
  t.equal((await myEffective(member.token))['privacy.data_sharing']?.value, false, 'data sharing stays off')

  let records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 1, 'exactly one consent record')
  t.match(records[0], { userId: member.id, method: 'gpc_signal', scope: key, decision: 'withdrawn', at: Date })
  const audit = (await auditRows(tenant.accountId)).slice(auditBefore)
  t.equal(audit.length, 1, 'one audit entry for the signal')
  t.match(audit[0], { action: 'settings.privacy_signal', targetType: 'user_settings', targetId: member.id })

  // A repeated signal changes nothing and records nothing.
  t.equal((await get('/v1/me/settings/effective', member.token, { 'sec-gpc': '1' })).status, 200)
  t.equal((await get('/v1/me', member.token, { 'sec-gpc': '1' })).status, 200)
  records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 1, 'no second consent record while the state does not change')
  t.equal((await auditRows(tenant.accountId)).length, auditBefore + 1, 'and no second audit entry')

  // Another user is not affected by this user's signal.
  t.equal((await myEffective(bystander.token))[key]?.value, true)
  t.same(await consentRows(tenant.accountId, bystander.id), [])

  // Opting in again is the user's choice, but not in a request that carries the signal.
  t.equal((await patchMe(member.token, { [key]: true })).status, 200)
  t.equal((await myEffective(member.token))[key]?.value, true)
  t.equal((await get('/v1/me', member.token, { 'sec-gpc': '0' })).status, 200)
  t.equal((await myEffective(member.token))[key]?.value, true, 'Sec-GPC: 0 is no signal')
  const conflict = await patchMe(member.token, { [key]: true }, { 'sec-gpc': '1' })
  const item = problemItem(t, conflict, 409, 'privacy_signal_conflict')
  t.equal(item.key, key)
  t.equal(item.pointer, `/body/values/${key}`)
  t.match((await myEffective(member.token))[key], { value: false, source: { origin: 'gpc_signal' } }, 'the signal still opted the user out')
  records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 2, 'a new record, since the state changed again')
  t.match(records[1], { method: 'gpc_signal', scope: key, decision: 'withdrawn' })
})

t.test('P-GOV-4: sharing personal data with third parties is the user’s explicit opt-in alone, and Sec-GPC: 1 withdraws it', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const key = 'privacy.data_sharing'

  // Nobody but the user gives it: not the account, not an admin on the user's behalf.
  for (const url of [accountUrl(tenant), userUrl(tenant, member.id)]) {
    const byAdmin = await patch(url, tenant.admin, { values: { [key]: true } })
    t.equal(byAdmin.status, 400, url)
    t.equal(byAdmin.body.errors[0].code, 'opt_in_reserved_to_user', url)
  }
  t.same((await myEffective(member.token))[key]?.value, false, 'off while the user has not opted in')
  t.same(await consentRows(tenant.accountId, member.id), [], 'and nothing on record as consent')

  t.equal((await patchMe(member.token, { [key]: true })).status, 200)
  t.match((await myEffective(member.token))[key], { value: true, source: { layer: 'user', id: member.id, origin: 'explicit' } }, 'on by the user’s own choice')

  // The signal withdraws it over the opt-in, as a consent record of its own.
  t.equal((await get('/v1/me', member.token, { 'sec-gpc': '1' })).status, 200)
  t.match((await myEffective(member.token))[key], { value: false, source: { layer: 'user', id: member.id, origin: 'gpc_signal' } })
  const records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 1)
  t.match(records[0], { userId: member.id, method: 'gpc_signal', scope: key, decision: 'withdrawn' })
})

t.test('P-SET-5: DNT: 1 turns analytics off the same way, with a dnt_signal consent record', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const key = 'privacy.analytics'

  t.equal((await patchMe(member.token, { [key]: true })).status, 200)
  t.equal((await get('/v1/me', member.token, { dnt: '0' })).status, 200)
  t.equal((await myEffective(member.token))[key]?.value, true, 'DNT: 0 is no signal')

  t.equal((await get('/v1/me', member.token, { dnt: '1' })).status, 200)
  t.same((await myEffective(member.token))[key], { value: false, source: { layer: 'user', id: member.id, origin: 'dnt_signal' }, lock: null, overridden: [] })
  let records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 1)
  t.match(records[0], { userId: member.id, method: 'dnt_signal', scope: key, decision: 'withdrawn' })

  t.equal((await get('/v1/me/settings', member.token, { dnt: '1' })).status, 200)
  records = await consentRows(tenant.accountId, member.id)
  t.equal(records.length, 1, 'no new record when nothing changes')

  const conflict = await patchMe(member.token, { [key]: true }, { dnt: '1' })
  t.equal(problemItem(t, conflict, 409, 'privacy_signal_conflict').key, key)
  t.equal((await myEffective(member.token))[key]?.value, false)
})

t.test('P-SET-5: /.well-known/gpc.json is served without a token', async (t) => {
  const res = await get('/.well-known/gpc.json')
  t.equal(res.status, 200)
  t.equal(res.body.gpc, true)
  t.match(res.body.lastUpdate, /^\d{4}-\d{2}-\d{2}$/)
})

// ---------------------------------------------------------------------------------------------
// 9. Audit

t.test('P-GOV-2: a settings change writes one settings.changed audit entry with old and new values and locks; a no-op writes none', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  let before = (await auditRows(tenant.accountId)).length

  await patchOk(accountUrl(tenant), tenant.admin, {
    values: { 'recording.auto_delete_days': 60 },
    locks: { 'recording.consent_mode': 'floor' },
  })
  let added = (await auditRows(tenant.accountId)).slice(before)
  t.equal(added.length, 1, 'one entry')
  t.match(added[0], { action: 'settings.changed', actorType: 'user', actorId: tenant.adminId, targetType: 'account_settings', targetId: tenant.accountId })
  t.same(added[0]?.details, {
    layer: 'account',
    values: [{ key: 'recording.auto_delete_days', old: null, new: 60 }],
    locks: [{ key: 'recording.consent_mode', old: null, new: 'floor' }],
  })

  // The same PATCH again, an empty one, and removing what is not set: no entry.
  before = (await auditRows(tenant.accountId)).length
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'recording.auto_delete_days': 60 }, locks: { 'recording.consent_mode': 'floor' } })
  await patchOk(accountUrl(tenant), tenant.admin, {})
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'meeting.join_muted': null }, locks: { 'meeting.join_muted': null } })
  t.equal((await patchMe(member.token, {})).status, 200)
  t.equal((await auditRows(tenant.accountId)).length, before, 'no-op PATCHes write no audit entry')

  // A change of value and of lock kind.
  await patchOk(accountUrl(tenant), tenant.admin, { values: { 'recording.auto_delete_days': 90 }, locks: { 'recording.consent_mode': 'fixed' } })
  added = (await auditRows(tenant.accountId)).slice(before)
  t.equal(added.length, 1)
  t.same(added[0]?.details, {
    layer: 'account',
    values: [{ key: 'recording.auto_delete_days', old: 60, new: 90 }],
    locks: [{ key: 'recording.consent_mode', old: 'floor', new: 'fixed' }],
  })

  // A user's own change.
  before = (await auditRows(tenant.accountId)).length
  t.equal((await patchMe(member.token, { 'permissions.camera': false })).status, 200)
  added = (await auditRows(tenant.accountId)).slice(before)
  t.equal(added.length, 1)
  t.match(added[0], { action: 'settings.changed', actorType: 'user', actorId: member.id, targetType: 'user_settings', targetId: member.id })
  t.same(added[0]?.details, { layer: 'user', values: [{ key: 'permissions.camera', old: null, new: false }], locks: [] })

  // Refused writes (409) write no entry either.
  before = (await auditRows(tenant.accountId)).length
  t.equal((await patchMe(member.token, { 'recording.consent_mode': 'notice' })).status, 409)
  t.equal((await auditRows(tenant.accountId)).length, before)

  const verify = await get(`/v1/accounts/${tenant.accountId}/audit/verify`, tenant.admin)
  t.equal(verify.status, 200)
  t.equal(verify.body.valid, true, 'the chain still verifies')
})

// ---------------------------------------------------------------------------------------------
// 10. Round trips

t.test('the effective read takes at most two database round trips, whatever the groups, values and locks', async (t) => {
  const tenant = await createTenant(api)
  const member = await tenant.user(['member'])
  const groups = [await createGroup(tenant, 'G1', 1), await createGroup(tenant, 'G2', 2), await createGroup(tenant, 'G3', 3)]
  for (const group of groups) await addMember(tenant, group, member.id)

  await patchOk(accountUrl(tenant), tenant.admin, {
    values: { 'recording.consent_mode': 'acknowledge', 'recording.auto_delete_days': 60, 'meeting.screen_share': 'all', 'recording.cloud.enabled': true },
    locks: { 'recording.cloud.enabled': 'fixed', 'recording.consent_mode': 'floor' },
  })
  await patchOk(groupUrl(tenant, groups[0]!), tenant.admin, { values: { 'recording.auto_delete_days': 45, 'meeting.join_muted': false } })
  await patchOk(groupUrl(tenant, groups[1]!), tenant.admin, { values: { 'recording.auto_delete_days': 40 }, locks: { 'recording.auto_delete_days': 'floor' } })
  await patchOk(groupUrl(tenant, groups[2]!), tenant.admin, { values: { 'meeting.waiting_room': true }, locks: { 'meeting.waiting_room': 'fixed' } })
  t.equal((await patchMe(member.token, { 'recording.consent_mode': 'explicit', 'recording.auto_delete_days': 10, 'permissions.camera': false })).status, 200)

  const admin = await countQueries(() => api.request({ method: 'GET', url: effectiveUrl(tenant, member.id), token: tenant.admin }))
  t.equal(admin.result.status, 200)
  t.ok(admin.queries.length <= 2, `admin route: ${admin.queries.length} queries (at most 2)`)

  const mine = await countQueries(() => api.request({ method: 'GET', url: '/v1/me/settings/effective', token: member.token }))
  t.equal(mine.result.status, 200)
  t.ok(mine.queries.length <= 2, `me route: ${mine.queries.length} queries (at most 2)`)

  // And the one read resolved every layer correctly.
  const settings = mine.result.body.settings as Record<string, Effective>
  t.match(settings['recording.cloud.enabled'], { value: true, source: { layer: 'account' }, lock: { kind: 'fixed', layer: 'account' } })
  t.match(settings['recording.consent_mode'], { value: 'explicit', source: { layer: 'user' }, lock: { kind: 'floor', layer: 'account' } })
  t.match(settings['recording.auto_delete_days'], { value: 10, source: { layer: 'user' }, lock: { kind: 'floor', layer: 'group', id: groups[1] } })
  t.match(settings['meeting.join_muted'], { value: false, source: { layer: 'group', id: groups[0] } })
  t.match(settings['meeting.waiting_room'], { value: true, source: { layer: 'group', id: groups[2] }, lock: { kind: 'fixed', layer: 'group', id: groups[2] } })
  t.match(settings['meeting.screen_share'], { value: 'all', source: { layer: 'account' } })
  t.match(settings['permissions.camera'], { value: false, source: { layer: 'user', origin: 'explicit' } })
  t.same(admin.result.body, mine.result.body, 'both routes answer the same')
})
