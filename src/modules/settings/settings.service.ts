import { z } from 'zod'
import type { Executor, InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import type { RetentionBounds } from '../retention/retention.catalog.js'
import { ConflictError, DomainError, jsonPointer, NotFoundError, type ProblemItem, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { type AuditRepository, auditActor, SYSTEM_ACTOR } from '../audit/audit.repository.js'
import { canonicalJson } from '../../lib/canonical-json.js'
import type { GroupsRepository } from '../groups/groups.repository.js'
import type { UsersRepository } from '../users/users.repository.js'
import { CATALOG, CATALOG_BY_KEY, mostPrivateValue, SIGNAL_KEYS, type SettingDefinition } from './settings.catalog.js'
import type { ChainScope, SettingsRepository } from './settings.repository.js'
import { accountLayerOf, assertWritable, type Chain, resolveAll, resolveValues } from './settings.resolve.js'
import type { PatchLockableLayer } from './settings.schemas.js'

export type LayerRef =
  | { layer: 'account' }
  | { layer: 'group'; groupId: string }
  | { layer: 'user'; userId: string }
  | { layer: 'meeting'; meetingId: string; hostUserId: string }

/** What the settings engine needs of a meeting: its layer sits below its host's user chain. */
export interface MeetingRef {
  id: string
  hostUserId: string
}

export const PERMISSION_KEYS = ['permissions.camera', 'permissions.microphone', 'permissions.screen_capture'] as const

export interface PrivacySignals {
  gpc: boolean
  dnt: boolean
  userAgent?: string | undefined
}


function scopeOf(accountId: string, ref: LayerRef): { scope: ChainScope; scopeId: string } {
  switch (ref.layer) {
    case 'account':
      return { scope: { accountId }, scopeId: accountId }
    case 'group':
      return { scope: { accountId, groupId: ref.groupId }, scopeId: ref.groupId }
    case 'user':
      return { scope: { accountId, userId: ref.userId }, scopeId: ref.userId }
    case 'meeting':
      return { scope: { accountId, userId: ref.hostUserId, meetingId: ref.meetingId }, scopeId: ref.meetingId }
  }
}

function layerView(chain: Chain, layer: LayerRef['layer'], scopeId: string) {
  const values: Record<string, unknown> = {}
  const locks: Record<string, { kind: 'fixed' | 'floor'; by: string; since: string }> = {}
  for (const row of chain.values) if (row.layer === layer && row.scopeId === scopeId) values[row.key] = row.value
  for (const row of chain.locks) {
    if (row.layer === layer && row.scopeId === scopeId) locks[row.key] = { kind: row.kind, by: row.by, since: row.at.toISOString() }
  }
  return { layer, id: scopeId, values, locks }
}

function privacyOrderOf(definition: SettingDefinition) {
  const order = definition.privacy
  switch (order.kind) {
    case 'boolean':
      return { kind: order.kind, privateValue: order.private }
    case 'enum':
      return { kind: order.kind, mostPrivateFirst: [...order.mostPrivateFirst] }
    case 'number':
      return { kind: order.kind, morePrivate: order.morePrivate }
    case 'none':
      return { kind: order.kind }
  }
}

const catalog = {
  settings: CATALOG.map((definition) => ({
    key: definition.key,
    category: definition.category,
    description: definition.description,
    default: definition.default,
    layers: [...definition.layers],
    privacyOrder: privacyOrderOf(definition),
    userOptIn: definition.userOptIn === true,
    userRestrictionWins: definition.userRestrictionWins === true,
    stopsWhileRestricted: definition.stopsWhileRestricted === true,
    schema: z.toJSONSchema(definition.schema) as Record<string, unknown>,
  })),
}

interface Deps {
  inTransaction: InTransaction
  settings: SettingsRepository
  users: UsersRepository
  groups: GroupsRepository
  audit: AuditRepository
  clock: Clock
}

const withinBounds = (bounds: RetentionBounds, value: number) => value >= bounds.floor && value <= bounds.ceiling

export function createSettingsService({ inTransaction, settings, users, groups, audit, clock }: Deps) {
  async function authorize(principal: Principal, accountId: string, ref: LayerRef, self: boolean) {
    if (!self) requireAccountRole(principal, accountId, ['admin'])
    if (ref.layer === 'group' && !(await groups.findById(accountId, ref.groupId))) throw new NotFoundError('Group')
    if (ref.layer === 'user') {
      const user = isUuid(ref.userId) ? await users.findById(accountId, ref.userId) : undefined
      if (!user || user.status === 'cancelled') throw new NotFoundError('User')
    }
  }

  function validate(ref: LayerRef, body: PatchLockableLayer, signals: PrivacySignals | undefined, self: boolean) {
    const errors: ProblemItem[] = []
    const parsed = new Map<string, unknown>()
    for (const [key, raw] of Object.entries(body.values ?? {})) {
      const pointer = jsonPointer('body', 'values', key)
      const definition = CATALOG_BY_KEY.get(key)
      if (!definition) {
        errors.push({ pointer, detail: `unknown setting ${key}`, code: 'unknown_setting' })
        continue
      }
      if (!definition.layers.includes(ref.layer)) {
        errors.push({ pointer, detail: `${key} cannot be set at the ${ref.layer} layer`, code: 'setting_not_settable' })
        continue
      }
      if (raw === null) {
        parsed.set(key, null)
        continue
      }
      const result = definition.schema.safeParse(raw)
      if (!result.success) {
        errors.push({ pointer, detail: `${key}: ${result.error.issues[0]?.message ?? 'invalid value'}`, code: 'invalid_value' })
      } else if (definition.userOptIn && !self && result.data !== mostPrivateValue(definition)) {
        // Only the user opts in: an admin, at any layer (the user's included), may only set the private value.
        errors.push({ pointer, detail: `${key} is the user's own choice: an admin may only set ${JSON.stringify(mostPrivateValue(definition))}`, code: 'opt_in_reserved_to_user' })
      } else if (definition.retention && !withinBounds(definition.retention, result.data as number)) {
        const bounds = definition.retention
        const bound = (result.data as number) < bounds.floor ? `its floor of ${bounds.floor} ${bounds.unit} (${bounds.floorReason})` : `its ceiling of ${bounds.ceiling} ${bounds.unit}`
        errors.push({ pointer, detail: `${key} is outside ${bound}`, code: 'retention_out_of_bounds' })
      } else parsed.set(key, result.data)
    }
    for (const [key, kind] of Object.entries(body.locks ?? {})) {
      const pointer = jsonPointer('body', 'locks', key)
      const definition = CATALOG_BY_KEY.get(key)
      if (!definition) errors.push({ pointer, detail: `unknown setting ${key}`, code: 'unknown_setting' })
      else if (!definition.layers.includes(ref.layer)) {
        errors.push({ pointer, detail: `${key} cannot be locked at the ${ref.layer} layer`, code: 'setting_not_settable' })
      } else if (kind === 'floor' && definition.privacy.kind === 'none') {
        errors.push({ pointer, detail: `${key} has no privacy order; use a fixed lock`, code: 'floor_not_orderable' })
      }
    }
    if (errors.length > 0 && errors.every((error) => error.code === 'retention_out_of_bounds')) {
      throw new DomainError(400, 'retention_out_of_bounds', errors.map((error) => error.detail).join('; '), errors)
    }
    if (errors.length > 0) throw new ValidationError('Some settings are not valid for this layer', errors)

    // A request that carries a privacy signal cannot opt back in to what the signal opts out of.
    if (ref.layer === 'user' && signals) {
      const signalled = [...(signals.gpc ? SIGNAL_KEYS.gpc : []), ...(signals.dnt ? SIGNAL_KEYS.dnt : [])]
      const conflicts = signalled.filter((key) => parsed.get(key) === true)
      if (conflicts.length > 0) {
        throw new ConflictError(
          'privacy_signal_conflict',
          'This request carries a privacy signal (Sec-GPC or DNT) that opts out of what it asks to turn on',
          conflicts.map((key) => ({ pointer: jsonPointer('body', 'values', key), detail: 'opted out by the request\'s privacy signal', key })),
        )
      }
    }
    return parsed
  }

  async function patch(
    principal: Principal,
    accountId: string,
    ref: LayerRef,
    body: PatchLockableLayer,
    self: boolean,
    signals?: PrivacySignals,
    guard?: (tx: Executor) => Promise<void>,
  ) {
    const parsed = validate(ref, body, signals, self)
    const { scope, scopeId } = scopeOf(accountId, ref)
    const now = clock.now()
    return inTransaction(async (tx) => {
      await settings.lockAccount(tx, accountId)
      // The owner of the layer re-checks its own state here (a meeting that ended meanwhile).
      if (guard) await guard(tx)
      const chain = await settings.loadChain(scope, tx)
      const own = layerView(chain, ref.layer, scopeId)
      const valueChanges: { key: string; old: unknown; new: unknown }[] = []
      for (const [key, value] of parsed) {
        const old = own.values[key] ?? null
        if (value !== null && assertWritable(CATALOG_BY_KEY.get(key)!, chain, ref.layer, value) === 'held') continue
        if (canonicalJson(old) !== canonicalJson(value)) valueChanges.push({ key, old, new: value })
      }
      const lockChanges: { key: string; old: string | null; new: string | null }[] = []
      for (const [key, kind] of Object.entries(body.locks ?? {})) {
        const old = own.locks[key]?.kind ?? null
        if (old !== kind) lockChanges.push({ key, old, new: kind })
      }
      if (valueChanges.length === 0 && lockChanges.length === 0) return own

      const by = principal.subject
      for (const change of valueChanges) {
        if (change.new !== null) {
          await settings.upsertValue(tx, { accountId, layer: ref.layer, scopeId, key: change.key, value: change.new, origin: 'explicit', updatedBy: by, updatedAt: now })
        }
      }
      await settings.deleteValues(tx, accountId, ref.layer, scopeId, valueChanges.filter((c) => c.new === null).map((c) => c.key))
      if (ref.layer === 'account' || ref.layer === 'group') {
        for (const change of lockChanges) {
          if (change.new !== null) {
            await settings.upsertLock(tx, { accountId, layer: ref.layer, scopeId, key: change.key, kind: change.new as 'fixed' | 'floor', lockedBy: by, lockedAt: now })
          }
        }
        await settings.deleteLocks(tx, accountId, ref.layer, scopeId, lockChanges.filter((c) => c.new === null).map((c) => c.key))
      }
      await audit.append(tx, accountId, {
        actor: auditActor(principal),
        action: 'settings.changed',
        targetType: `${ref.layer}_settings`,
        targetId: scopeId,
        details: { layer: ref.layer, values: valueChanges, locks: lockChanges },
      }, now)
      return layerView(await settings.loadChain(scope, tx), ref.layer, scopeId)
    })
  }

  /** Two round trips at most: the auth hook's user check, then this one query. */
  async function effectiveForUser(accountId: string, userId: string) {
    const chain = await settings.loadChain({ accountId, userId })
    if (chain.userStatus === undefined || chain.userStatus === 'cancelled') throw new NotFoundError('User')
    return { subject: { type: 'user' as const, id: userId }, settings: resolveAll(chain) }
  }

  return {
    catalog: () => catalog,

    async getLayer(principal: Principal, accountId: string, ref: LayerRef) {
      await authorize(principal, accountId, ref, false)
      const { scope, scopeId } = scopeOf(accountId, ref)
      return layerView(await settings.loadChain(scope), ref.layer, scopeId)
    },

    async patchLayer(principal: Principal, accountId: string, ref: LayerRef, body: PatchLockableLayer) {
      await authorize(principal, accountId, ref, false)
      return patch(principal, accountId, ref, body, false)
    },

    async effective(principal: Principal, accountId: string, userId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      return effectiveForUser(accountId, userId)
    },

    async getMine(principal: Principal) {
      const ref = { layer: 'user' as const, userId: principal.subject }
      await authorize(principal, principal.accountId, ref, true)
      return layerView(await settings.loadChain(scopeOf(principal.accountId, ref).scope), 'user', principal.subject)
    },

    async patchMine(principal: Principal, body: { values?: Record<string, unknown> | undefined }, signals: PrivacySignals) {
      const ref = { layer: 'user' as const, userId: principal.subject }
      await authorize(principal, principal.accountId, ref, true)
      return patch(principal, principal.accountId, ref, body, true, signals)
    },

    /** A user's effective settings, for services that already checked who asks. */
    effectiveForUser,

    async effectiveMine(principal: Principal) {
      if (!isUuid(principal.subject)) throw new NotFoundError('User')
      return effectiveForUser(principal.accountId, principal.subject)
    },

    // The meeting layer. The meetings service checks who may read or change a meeting, then calls these.
    async getMeetingLayer(accountId: string, meeting: MeetingRef) {
      const ref = { layer: 'meeting' as const, meetingId: meeting.id, hostUserId: meeting.hostUserId }
      return layerView(await settings.loadChain(scopeOf(accountId, ref).scope), 'meeting', meeting.id)
    },

    patchMeetingLayer(
      principal: Principal,
      accountId: string,
      meeting: MeetingRef,
      body: { values?: Record<string, unknown> | undefined },
      guard?: (tx: Executor) => Promise<void>,
    ) {
      return patch(principal, accountId, { layer: 'meeting', meetingId: meeting.id, hostUserId: meeting.hostUserId }, body, false, undefined, guard)
    },

    /** Effective values of account-layer keys (an account rule such as recording.on_erasure). */
    async accountValues<K extends string>(accountId: string, keys: readonly K[], tx?: Executor): Promise<Record<K, unknown>> {
      return resolveValues(await settings.loadChain({ accountId }, tx), keys)
    },

    /** The meeting's effective settings (host's chain plus the meeting layer) in one query. */
    async effectiveForMeeting(accountId: string, meeting: MeetingRef, tx?: Executor) {
      const chain = await settings.loadChain({ accountId, userId: meeting.hostUserId, meetingId: meeting.id }, tx)
      return { subject: { type: 'meeting' as const, id: meeting.id }, settings: resolveAll(chain) }
    },

    /**
     * What a join applies: the meeting's effective settings, and the joiner's own device
     * permissions (P-SET-2): their user chain, or the account layer alone for a guest. The two
     * chains are read at once.
     */
    async forJoin(accountId: string, meeting: MeetingRef, joinerUserId: string | null) {
      const [chain, joinerChain] = await Promise.all([
        settings.loadChain({ accountId, userId: meeting.hostUserId, meetingId: meeting.id }),
        joinerUserId !== null && joinerUserId !== meeting.hostUserId ? settings.loadChain({ accountId, userId: joinerUserId }) : undefined,
      ])
      // Permissions are not set at the meeting layer, so the host's meeting chain gives the host's own.
      const own = joinerUserId === null ? accountLayerOf(chain) : (joinerChain ?? chain)
      return { settings: resolveAll(chain), permissions: resolveValues(own, PERMISSION_KEYS) as Record<(typeof PERMISSION_KEYS)[number], boolean> }
    },

    /**
     * Honours Sec-GPC / DNT for the calling user (P-SET-5): each signalled key still on is turned
     * off at the user layer, with one consent event per key that changed. Nothing is written when
     * the keys are already off, so repeated requests write nothing.
     */
    async applySignals(principal: Principal, signals: PrivacySignals) {
      if (!isUuid(principal.subject)) return
      const keys = [...new Set([...(signals.gpc ? SIGNAL_KEYS.gpc : []), ...(signals.dnt ? SIGNAL_KEYS.dnt : [])])]
      if (keys.length === 0) return
      const scope = { accountId: principal.accountId, userId: principal.subject }
      const stillOn = (chain: Chain) => {
        const effective = resolveAll(chain)
        return keys.filter((key) => effective[key]?.value !== false)
      }
      if (stillOn(await settings.loadChain(scope)).length === 0) return
      const now = clock.now()
      await inTransaction(async (tx) => {
        await settings.lockAccount(tx, principal.accountId)
        const user = await users.findById(principal.accountId, principal.subject, tx)
        if (!user || user.status === 'cancelled') return
        const changed = stillOn(await settings.loadChain(scope, tx))
        if (changed.length === 0) return
        const origin = (key: string) => (signals.gpc && (SIGNAL_KEYS.gpc as readonly string[]).includes(key) ? 'gpc_signal' : 'dnt_signal')
        for (const key of changed) {
          await settings.upsertValue(tx, { ...scope, layer: 'user', scopeId: principal.subject, key, value: false, origin: origin(key), updatedBy: origin(key), updatedAt: now })
        }
        await settings.insertConsentRecords(
          tx,
          changed.map((key) => ({
            accountId: principal.accountId,
            id: newId(now.getTime()),
            userId: principal.subject,
            scope: key,
            decision: 'withdrawn' as const,
            method: origin(key),
            at: now,
            userAgent: signals.userAgent?.slice(0, 300) ?? null,
          })),
        )
        await audit.append(tx, principal.accountId, {
          actor: SYSTEM_ACTOR,
          action: 'settings.privacy_signal',
          targetType: 'user_settings',
          targetId: principal.subject,
          details: { keys: changed, signals: { gpc: signals.gpc, dnt: signals.dnt } },
        }, now)
      })
    },
  }
}

export type SettingsService = ReturnType<typeof createSettingsService>
