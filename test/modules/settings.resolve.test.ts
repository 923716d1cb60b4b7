import t from 'tap'
import { CATALOG, CATALOG_BY_KEY } from '../../src/modules/settings/settings.catalog.js'
import { assertWritable, type Chain, type ChainLock, type ChainValue, resolveAll } from '../../src/modules/settings/settings.resolve.js'

// The resolution rules on hand-made chains, including the meeting layer (whose routes come with
// meetings): the HTTP tests in settings.test.ts cover the same module through the database.

const ACCOUNT = '01000000-0000-7000-8000-00000000000a'
const GROUP_LOW = '01000000-0000-7000-8000-0000000000b1'
const GROUP_HIGH = '01000000-0000-7000-8000-0000000000b2'
const USER = '01000000-0000-7000-8000-0000000000c1'
const MEETING = '01000000-0000-7000-8000-0000000000d1'
const at = new Date('2026-11-01T00:00:00Z')

const value = (layer: ChainValue['layer'], scopeId: string, key: string, v: unknown, extra: Partial<ChainValue> = {}): ChainValue => ({
  layer,
  scopeId,
  key,
  value: v,
  origin: 'explicit',
  by: 'admin',
  at,
  rank: null,
  ...extra,
})
const lock = (layer: ChainLock['layer'], scopeId: string, key: string, kind: ChainLock['kind'], rank: number | null = null): ChainLock => ({
  layer,
  scopeId,
  key,
  kind,
  by: 'admin',
  at,
  rank,
})
const def = (key: string) => CATALOG_BY_KEY.get(key)!

t.test('P-SET-3: an empty chain resolves every key to its platform default', async (t) => {
  const settings = resolveAll({ values: [], locks: [] })
  t.same(Object.keys(settings).sort(), CATALOG.map((d) => d.key).sort())
  for (const definition of CATALOG) {
    t.same(settings[definition.key], { value: definition.default, source: { layer: 'platform', id: null }, lock: null, overridden: [] })
  }
})

t.test('P-SET-3: the meeting layer overrides the user, which overrides the group and the account', async (t) => {
  const key = 'meeting.join_muted'
  const chain: Chain = {
    values: [
      value('account', ACCOUNT, key, true),
      value('group', GROUP_LOW, key, true, { rank: 0 }),
      value('user', USER, key, true),
      value('meeting', MEETING, key, false),
    ],
    locks: [],
  }
  t.same(resolveAll(chain)[key]!.source, { layer: 'meeting', id: MEETING })
  t.equal(resolveAll(chain)[key]!.value, false)
})

t.test('P-SET-3: a fixed lock at the account refuses meeting and user writes and keeps their values inactive', async (t) => {
  const key = 'recording.cloud.enabled'
  const chain: Chain = {
    values: [value('account', ACCOUNT, key, false), value('meeting', MEETING, key, true)],
    locks: [lock('account', ACCOUNT, key, 'fixed')],
  }
  for (const layer of ['meeting', 'user', 'group'] as const) {
    t.throws(() => assertWritable(def(key), chain, layer, true), { code: 'setting_locked', status: 409 }, layer)
    t.equal(assertWritable(def(key), chain, layer, false), 'held', `${layer}: the locked value itself is no conflict, and not written`)
  }
  t.equal(assertWritable(def(key), chain, 'account', true), 'write', 'the lock binds only the layers below it')
  const effective = resolveAll(chain)[key]!
  t.equal(effective.value, false)
  t.same(effective.overridden, [{ layer: 'meeting', id: MEETING, value: true, reason: 'fixed_lock' }])
  t.match(effective.lock, { kind: 'fixed', layer: 'account', id: ACCOUNT })
})

t.test('a floor lock at a group lets a meeting only be more private than the group value', async (t) => {
  const key = 'meeting.screen_share'
  const chain: Chain = {
    values: [value('group', GROUP_LOW, key, 'host_only', { rank: 0 })],
    locks: [lock('group', GROUP_LOW, key, 'floor', 0)],
  }
  t.throws(() => assertWritable(def(key), chain, 'meeting', 'all'), { code: 'setting_floor' })
  t.doesNotThrow(() => assertWritable(def(key), chain, 'meeting', 'host_only'))
})

t.test('group rank decides per key; the winning group brings its lock', async (t) => {
  const key = 'recording.auto_delete_days'
  const chain: Chain = {
    values: [value('group', GROUP_LOW, key, 7, { rank: 1 }), value('group', GROUP_HIGH, key, 90, { rank: 5 })],
    locks: [lock('group', GROUP_HIGH, key, 'floor', 5)],
  }
  const effective = resolveAll(chain)[key]!
  t.equal(effective.value, 90)
  t.same(effective.source, { layer: 'group', id: GROUP_HIGH })
  t.throws(() => assertWritable(def(key), chain, 'user', 120), { code: 'setting_floor' }, 'longer retention is less private')
  t.doesNotThrow(() => assertWritable(def(key), chain, 'user', 30))
})

t.test('P-SET-5: a privacy-signal value applies even under a lock that forced the key on', async (t) => {
  const key = 'privacy.targeted_ads'
  const chain: Chain = {
    values: [value('account', ACCOUNT, key, true), value('user', USER, key, false, { origin: 'gpc_signal' })],
    locks: [lock('account', ACCOUNT, key, 'fixed')],
  }
  const effective = resolveAll(chain)[key]!
  t.equal(effective.value, false)
  t.same(effective.source, { layer: 'user', id: USER, origin: 'gpc_signal' })
})

t.test('P-DSR-4: a restricted user resolves the keys a restriction stops to their private value, their choice kept as overridden; others keep theirs', async (t) => {
  const values = [value('user', USER, 'privacy.analytics', true), value('user', USER, 'privacy.non_essential_cookies', true), value('account', ACCOUNT, 'meeting.join_muted', true)]
  const restricted = resolveAll({ values, locks: [], userStatus: 'restricted', userId: USER })
  t.equal(restricted['privacy.analytics']!.value, false)
  t.same(restricted['privacy.analytics']!.source, { layer: 'user', id: USER, origin: 'restriction' })
  t.same(restricted['privacy.analytics']!.overridden, [{ layer: 'user', id: USER, value: true, reason: 'restriction' }])
  t.equal(restricted['privacy.marketing_email']!.value, false, 'already private: nothing to hold off')
  t.same(restricted['privacy.marketing_email']!.overridden, [])
  t.equal(restricted['privacy.non_essential_cookies']!.value, true, 'a key the restriction does not cover')
  t.equal(restricted['meeting.join_muted']!.value, true)
  const active = resolveAll({ values, locks: [], userStatus: 'active', userId: USER })
  t.equal(active['privacy.analytics']!.value, true, 'an active user gets their choice')
  t.doesNotThrow(() => assertWritable(def('privacy.analytics'), { values, locks: [], userStatus: 'restricted', userId: USER }, 'user', true), 'a restricted user may still record a choice')
})
