import { and, eq, inArray, type Placeholder, type SQL, sql } from 'drizzle-orm'
import { type Db, type Executor, rowsOf } from '../../../db/client.js'
import { accounts, consentRecords, settingLocks, settingValues } from '../../../db/schema/index.js'
import { type ConsentInsert, insertClientDetails } from '../consents/consents.repository.js'
import type { Layer } from './settings.catalog.js'
import type { Chain, ChainLock, ChainValue } from './settings.resolve.js'
import { type CacheBus, type Invalidation, ScopedCache } from '../../lib/cache.js'

/** Which layers a chain includes: the account always, then optionally one group or a user's groups, a user, a meeting. */
export interface ChainScope {
  accountId: string
  groupId?: string
  userId?: string
  meetingId?: string
}

export interface ChainRow {
  row_kind: 'value' | 'lock' | 'user'
  layer: Layer
  scope_id: string
  key: string
  value: unknown
  origin: ChainValue['origin'] | null
  kind: ChainLock['kind'] | null
  by: string
  at: string | Date
  rank: number | null
}

type Param = string | null | SQL | Placeholder

/**
 * Every value and lock of a chain in one statement, whatever the number of keys and groups; for
 * a user chain also the user's status, so callers need no second query to know they exist.
 * The parameters may be values, placeholders or subqueries, so other statements can embed the
 * chain (the consent gate reads a meeting's chain with its facts in one round trip).
 * Columns are qualified on purpose: an unqualified name inside a union would bind to the wrong table.
 */
export function chainRowsQuery(scope: { accountId: Param; userId: Param; meetingId: Param; groupId?: string | undefined }): SQL {
  const { accountId, userId: user, meetingId: meeting } = scope
  const groupIds = scope.groupId
    ? sql`select ${scope.groupId}::uuid`
    : sql`select gm.group_id from group_members gm where gm.account_id = ${accountId}::uuid and gm.user_id = ${user}::uuid`
  return sql`
    select 'value' as row_kind, v.layer, v.scope_id, v.key, v.value, v.origin, null::text as kind,
           v.updated_by as by, v.updated_at as at, g.rank
      from setting_values v
      left join groups g on v.layer = 'group' and g.account_id = v.account_id and g.id = v.scope_id
     where v.account_id = ${accountId}::uuid
       and ((v.layer = 'account' and v.scope_id = ${accountId}::uuid)
         or (v.layer = 'group' and v.scope_id in (${groupIds}))
         or (v.layer = 'user' and v.scope_id = ${user}::uuid)
         or (v.layer = 'meeting' and v.scope_id = ${meeting}::uuid))
    union all
    select 'lock', l.layer, l.scope_id, l.key, null, null, l.kind, l.locked_by, l.locked_at, g.rank
      from setting_locks l
      left join groups g on l.layer = 'group' and g.account_id = l.account_id and g.id = l.scope_id
     where l.account_id = ${accountId}::uuid
       and ((l.layer = 'account' and l.scope_id = ${accountId}::uuid)
         or (l.layer = 'group' and l.scope_id in (${groupIds})))
    union all
    select 'user', 'user', u.id, u.status, null, null, null, null, null, null
      from users u
     where u.account_id = ${accountId}::uuid and u.id = ${user}::uuid`
}

export function toChain(rows: ChainRow[]): Chain {
  const chain: Chain = { values: [], locks: [] }
  for (const row of rows) {
    if (row.row_kind === 'user') {
      chain.userStatus = row.key
      chain.userId = row.scope_id
      continue
    }
    const common = { scopeId: row.scope_id, key: row.key, by: row.by, at: new Date(row.at), rank: row.rank === null ? null : Number(row.rank) }
    if (row.row_kind === 'value') chain.values.push({ ...common, layer: row.layer, value: row.value, origin: row.origin ?? 'explicit' })
    else chain.locks.push({ ...common, layer: row.layer as ChainLock['layer'], kind: row.kind! })
  }
  return chain
}

/** A user's or meeting's chain as one JSON value, so the union can be a prepared statement. */
const chainSelect = (executor: Executor) =>
  executor
    .select({
      rows: sql<ChainRow[]>`(select coalesce(json_agg(c), '[]'::json) from (${chainRowsQuery({
        accountId: sql.placeholder('accountId'),
        userId: sql.placeholder('userId'),
        meetingId: sql.placeholder('meetingId'),
      })}) c)`,
    })
    .from(accounts)
    .where(eq(accounts.id, sql.placeholder('accountId')))

/** Who a write at a layer changes: a user's chains, a meeting's, or (account, group) the account's. */
function changed(accountId: string, layer: Layer, scopeId: string): Invalidation {
  if (layer === 'user') return { accountId, userId: scopeId }
  if (layer === 'meeting') return { accountId, meetingId: scopeId }
  return { accountId }
}

export function createSettingsRepository(db: Db, cache: CacheBus) {
  const chainStatement = chainSelect(db).prepare('settings_chain')
  // The user and meeting chains every settings read resolves: from memory outside transactions.
  const chains = new ScopedCache<Chain>(cache, 20_000)
  return {
    /**
     * Every value and lock of a chain in one round trip, whatever the number of keys and groups;
     * for a user chain also the user's status, so callers need no second query to know they exist.
     * Columns are qualified on purpose: an unqualified name inside a union would bind to the wrong table.
     */
    async loadChain(scope: ChainScope, tx: Executor = db): Promise<Chain> {
      if (scope.groupId) {
        const result = await tx.execute(chainRowsQuery({ accountId: scope.accountId, userId: scope.userId ?? null, meetingId: scope.meetingId ?? null, groupId: scope.groupId }))
        return toChain(rowsOf<ChainRow>(result))
      }
      // The user and meeting chains are the hot reads: a prepared statement, planned once per
      // connection, and cached; a transaction reads its own view, never the cache.
      const params = { accountId: scope.accountId, userId: scope.userId ?? null, meetingId: scope.meetingId ?? null }
      if (tx !== db) {
        const [row] = await chainSelect(tx).prepare('settings_chain').execute(params)
        return toChain(row?.rows ?? [])
      }
      const tags = { accountId: scope.accountId, ...(scope.userId ? { userId: scope.userId } : {}), ...(scope.meetingId ? { meetingId: scope.meetingId } : {}) }
      return chains.load(`${params.accountId}:${params.userId ?? ''}:${params.meetingId ?? ''}`, tags, async () => {
        const [row] = await chainStatement.execute(params)
        return toChain(row?.rows ?? [])
      })
    },

    /** Serialises settings writes of one account, so a lock and a lower write cannot pass each other. */
    async lockAccount(tx: Executor, accountId: string) {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${accountId}, 7))`)
    },

    async upsertValue(tx: Executor, row: typeof settingValues.$inferInsert) {
      cache.touch(tx, changed(row.accountId, row.layer, row.scopeId))
      await tx
        .insert(settingValues)
        .values(row)
        .onConflictDoUpdate({
          target: [settingValues.accountId, settingValues.layer, settingValues.scopeId, settingValues.key],
          set: { value: sql`excluded.value`, origin: sql`excluded.origin`, updatedBy: sql`excluded.updated_by`, updatedAt: sql`excluded.updated_at` },
        })
    },

    async deleteValues(tx: Executor, accountId: string, layer: Layer, scopeId: string, keys: string[]) {
      if (keys.length === 0) return
      cache.touch(tx, changed(accountId, layer, scopeId))
      await tx
        .delete(settingValues)
        .where(
          and(
            eq(settingValues.accountId, accountId),
            eq(settingValues.layer, layer),
            eq(settingValues.scopeId, scopeId),
            inArray(settingValues.key, keys),
          ),
        )
    },

    async upsertLock(tx: Executor, row: typeof settingLocks.$inferInsert) {
      cache.touch(tx, changed(row.accountId, row.layer, row.scopeId))
      await tx
        .insert(settingLocks)
        .values(row)
        .onConflictDoUpdate({
          target: [settingLocks.accountId, settingLocks.layer, settingLocks.scopeId, settingLocks.key],
          set: { kind: sql`excluded.kind`, lockedBy: sql`excluded.locked_by`, lockedAt: sql`excluded.locked_at` },
        })
    },

    async deleteLocks(tx: Executor, accountId: string, layer: 'account' | 'group', scopeId: string, keys: string[]) {
      if (keys.length === 0) return
      cache.touch(tx, changed(accountId, layer, scopeId))
      await tx
        .delete(settingLocks)
        .where(
          and(
            eq(settingLocks.accountId, accountId),
            eq(settingLocks.layer, layer),
            eq(settingLocks.scopeId, scopeId),
            inArray(settingLocks.key, keys),
          ),
        )
    },

    async insertConsentRecords(tx: Executor, rows: ConsentInsert[]) {
      if (rows.length === 0) return
      await tx.insert(consentRecords).values(rows.map(({ userAgent: _ua, clientNetwork: _net, ...row }) => row))
      await insertClientDetails(tx, rows.map((row) => ({ accountId: row.accountId, recordId: row.id, userAgent: row.userAgent, clientNetwork: row.clientNetwork })))
    },
  }
}

export type SettingsRepository = ReturnType<typeof createSettingsRepository>
