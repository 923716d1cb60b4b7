import { canonicalJson } from '../../lib/canonical-json.js'
import { ConflictError, jsonPointer } from '../../lib/errors.js'
import { atLeastAsPrivate, CATALOG, CATALOG_BY_KEY, type Layer, mostPrivateValue, type SettingDefinition } from './settings.catalog.js'

// Settings resolution, in one place. Given the rows of one chain (account → the user's groups →
// user → meeting), it answers every key's effective value and why, and whether a write at a
// layer is allowed. Pure: the repository loads the chain in one query, nothing here touches I/O.
//
// Rules:
// - Layers apply top-down: platform default, account, group, user, meeting.
// - A user in several groups takes, per key, the group with the highest rank among those that
//   set a value or a lock for that key (ties: the lower id, which for UUIDv7 ids is the group
//   created first). That group's value and lock apply.
// - A `fixed` lock keeps every lower value inactive; a `floor` lock keeps lower values that are less
//   private than the value in force at the lock's layer inactive. Inactive values are kept and
//   reported as overridden, never deleted.
// - A value written by a privacy signal (Sec-GPC, DNT) is the user's legal opt-out, and a user's
//   most private choice on a key marked userRestrictionWins (permissions, privacy choices) is
//   theirs to make: both apply even under a lock.
// - While a user's processing is restricted (a restriction or an objection, P-DSR-4), the keys
//   marked stopsWhileRestricted (marketing, profiling) resolve to their most private value; what
//   was set stays, reported as overridden, and applies again once the restriction is lifted.

export interface ChainValue {
  layer: Layer
  scopeId: string
  key: string
  value: unknown
  origin: 'explicit' | 'gpc_signal' | 'dnt_signal'
  by: string
  at: Date
  /** The group's rank, for group rows. */
  rank: number | null
}

export interface ChainLock {
  layer: 'account' | 'group'
  scopeId: string
  key: string
  kind: 'fixed' | 'floor'
  by: string
  at: Date
  rank: number | null
}

export interface Chain {
  values: ChainValue[]
  locks: ChainLock[]
  /** When the chain was loaded for a user: that user's status, or undefined if there is no such user. */
  userStatus?: string | undefined
  /** That user's id. */
  userId?: string | undefined
}

export interface ActiveLock {
  kind: 'fixed' | 'floor'
  layer: 'account' | 'group'
  id: string
  by: string
  since: string
  /** The value in force at the lock's layer: what a floor compares against. */
  value: unknown
}

export interface EffectiveSetting {
  value: unknown
  source: { layer: Layer | 'platform'; id: string | null; origin?: ChainValue['origin'] | 'restriction' }
  lock: Omit<ActiveLock, 'value'> | null
  overridden: { layer: Layer | 'platform'; id: string | null; value: unknown; reason: 'fixed_lock' | 'floor_lock' | 'restriction' }[]
}

const ORDER: Layer[] = ['account', 'group', 'user', 'meeting']

function overridesLocks(definition: SettingDefinition, layer: Layer, value: unknown, origin: ChainValue['origin']): boolean {
  if (origin !== 'explicit') return true
  return layer === 'user' && definition.userRestrictionWins === true && value === mostPrivateValue(definition)
}

function winningGroup(key: string, chain: Chain): string | undefined {
  let best: { id: string; rank: number } | undefined
  for (const row of [...chain.values, ...chain.locks]) {
    if (row.layer !== 'group' || row.key !== key) continue
    const rank = row.rank ?? 0
    if (!best || rank > best.rank || (rank === best.rank && row.scopeId < best.id)) best = { id: row.scopeId, rank }
  }
  return best?.id
}

/** Resolves one key down to (not including) `stopAt`, or through every layer. */
function resolveKey(definition: SettingDefinition, chain: Chain, stopAt?: Layer) {
  const key = definition.key
  const group = winningGroup(key, chain)
  const result: EffectiveSetting = { value: definition.default, source: { layer: 'platform', id: null }, lock: null, overridden: [] }
  const locks: ActiveLock[] = []

  for (const layer of ORDER) {
    if (layer === stopAt) break
    const value = chain.values.find(
      (row) => row.key === key && row.layer === layer && (layer !== 'group' || row.scopeId === group),
    )
    if (value) {
      const blocking = overridesLocks(definition, layer, value.value, value.origin)
        ? undefined
        : locks.find((lock) => lock.kind === 'fixed' || !atLeastAsPrivate(definition, value.value, lock.value))
      if (blocking) {
        result.overridden.push({ layer, id: value.scopeId, value: value.value, reason: `${blocking.kind}_lock` })
      } else {
        result.value = value.value
        result.source = { layer, id: value.scopeId, ...(layer === 'user' || value.origin !== 'explicit' ? { origin: value.origin } : {}) }
      }
    }
    const lock = chain.locks.find(
      (row) => row.key === key && row.layer === layer && (layer !== 'group' || row.scopeId === group),
    )
    if (lock) {
      locks.push({ kind: lock.kind, layer: lock.layer, id: lock.scopeId, by: lock.by, since: lock.at.toISOString(), value: result.value })
    }
  }
  const reported = locks.find((lock) => lock.kind === 'fixed') ?? locks[locks.length - 1]
  if (reported) {
    const { value: _floor, ...lock } = reported
    result.lock = lock
  }
  if (definition.stopsWhileRestricted && chain.userStatus === 'restricted' && stopAt === undefined) {
    const stopped = mostPrivateValue(definition)
    if (result.value !== stopped) {
      result.overridden.push({ layer: result.source.layer, id: result.source.id, value: result.value, reason: 'restriction' })
      result.value = stopped
      result.source = { layer: 'user', id: chain.userId ?? null, origin: 'restriction' }
    }
  }
  return { result, locks }
}

// A chain is never changed once built, and a cached chain (settings.repository.ts) is the same
// object for every request until a write invalidates it: its resolution is kept with it, so a
// read served from memory resolves nothing. Callers only read the answer (it is shared).
const resolved = new WeakMap<Chain, Readonly<Record<string, EffectiveSetting>>>()

export function resolveAll(chain: Chain): Readonly<Record<string, EffectiveSetting>> {
  const known = resolved.get(chain)
  if (known) return known
  const settings: Record<string, EffectiveSetting> = {}
  for (const definition of CATALOG) settings[definition.key] = resolveKey(definition, chain).result
  resolved.set(chain, settings)
  return settings
}

/** Only the account layer of a chain: what applies to a guest, who has no groups and no user layer. */
export function accountLayerOf(chain: Chain): Chain {
  return { values: chain.values.filter((v) => v.layer === 'account'), locks: chain.locks.filter((l) => l.layer === 'account') }
}

/** The effective values of some keys only (the gate asks each participant's device permissions). */
export function resolveValues<K extends string>(chain: Chain, keys: readonly K[]): Record<K, unknown> {
  const values = {} as Record<K, unknown>
  for (const key of keys) values[key] = resolveKey(CATALOG_BY_KEY.get(key)!, chain).result.value
  return values
}

/**
 * Whether `value` is to be written at `layer`. Throws 409 `setting_locked` or `setting_floor` when
 * a layer above forbids it. 'held' when a fixed lock above already holds exactly this value: a
 * client that sends back what it read is not in conflict with the lock, and nothing is written
 * (a copy below the lock would come into force, unasked, the day the lock is lifted).
 */
export function assertWritable(definition: SettingDefinition, chain: Chain, layer: Layer, value: unknown): 'write' | 'held' {
  if (overridesLocks(definition, layer, value, 'explicit')) return 'write'
  const { locks } = resolveKey(definition, chain, layer)
  const fixed = locks.find((lock) => lock.kind === 'fixed')
  const pointer = jsonPointer('body', 'values', definition.key)
  if (fixed) {
    if (canonicalJson(value) === canonicalJson(fixed.value)) return 'held'
    throw new ConflictError(
      'setting_locked',
      `${definition.key} is locked at the ${fixed.layer} layer`,
      [{ pointer, detail: `locked (fixed) at the ${fixed.layer} layer`, key: definition.key, lockLayer: fixed.layer, lockId: fixed.id }],
    )
  }
  const floor = locks.find((lock) => !atLeastAsPrivate(definition, value, lock.value))
  if (floor) {
    throw new ConflictError(
      'setting_floor',
      `${definition.key} may only be made more private than the ${floor.layer} layer's value`,
      [
        {
          pointer,
          detail: `less private than the floor set at the ${floor.layer} layer`,
          key: definition.key,
          lockLayer: floor.layer,
          lockId: floor.id,
          floor: floor.value,
        },
      ],
    )
  }
  return 'write'
}
