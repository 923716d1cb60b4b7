import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { ExtractTablesWithRelations, Logger } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { lockFolder } from './folder-lock.js'
import { postgres } from './postgres.js'
import * as schema from './schema/index.js'

// The two drivers behind one function. Everything above this file sees a `Db` and never
// knows whether PostgreSQL or the embedded PGlite answers.

export type Schema = typeof schema
export type Db = PgDatabase<PgQueryResultHKT, Schema>
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>
/** A query runs on the database or inside a transaction the service opened. */
export type Executor = Db | Tx

export type DatabaseTarget = { kind: 'postgres'; url: string; poolMax: number } | { kind: 'pglite'; dir: string }

export interface Database {
  kind: DatabaseTarget['kind']
  db: Db
  /** Applies pending migrations; on PostgreSQL under an advisory lock, so several processes may call it. */
  migrate(): Promise<void>
  /** True when every migration in db/migrations has been applied. */
  migrationsCurrent(): Promise<boolean>
  /**
   * LISTENs on `channel` over a connection of its own. `onConnect` runs each time listening
   * starts (again), `onLost` as soon as that connection drops (it is re-established by itself).
   * Resolves to a function that stops listening.
   */
  listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>
  close(): Promise<void>
}

export interface ListenHandlers {
  onMessage(payload: string): void
  onConnect(): void
  onLost(): void
}

export interface OpenOptions {
  /** Called with each SQL statement sent; tests count round trips with it. */
  onQuery?: (query: string) => void
}

export const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations')
const MIGRATION_LOCK_KEY = 0x636f6e73 // "cons"

export async function openDatabase(target: DatabaseTarget, options: OpenOptions = {}): Promise<Database> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query) => options.onQuery!(query) }
    : undefined
  return target.kind === 'postgres' ? openPostgres(target, logger) : openPglite(target, logger)
}

async function openPostgres(target: Extract<DatabaseTarget, { kind: 'postgres' }>, logger?: Logger): Promise<Database> {
  const client = postgres(target.url, { max: target.poolMax, onnotice: () => {} })
  const db = drizzlePostgres({ client, schema, ...(logger ? { logger } : {}) }) as unknown as Db
  return {
    kind: 'postgres',
    db,
    async migrate() {
      // One dedicated connection holds the session-level lock for the whole run.
      const lockClient = postgres(target.url, { max: 1, onnotice: () => {} })
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`
        await migratePostgres(drizzlePostgres({ client: lockClient }), { migrationsFolder })
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`
      } finally {
        await lockClient.end()
      }
    },
    migrationsCurrent: () => migrationsCurrent(db),
    listen: (channel, handlers) => listenPostgres(target.url, channel, handlers),
    close: () => client.end({ timeout: 5 }),
  }
}

/**
 * A dedicated connection (postgres.js's own listen() hides when its connection drops, and a
 * listener must know: whatever was sent meanwhile is lost). After a drop it listens again,
 * retrying with a growing pause.
 */
async function listenPostgres(url: string, channel: string, handlers: ListenHandlers): Promise<() => Promise<void>> {
  let stopped = false
  let retry: NodeJS.Timeout | undefined
  const client = postgres(url, {
    max: 1,
    // Named so an operator (and the tests) can tell this process's listener apart.
    connection: { application_name: `consentry-listen-${process.pid}` },
    idle_timeout: null,
    max_lifetime: null,
    onnotice: () => {},
    onnotify: (name: string, payload: string) => {
      if (name === channel) handlers.onMessage(payload)
    },
    onclose: () => {
      if (stopped) return
      handlers.onLost()
      schedule(250)
    },
    // postgres.js's typings lack onclose and a null idle_timeout (no idle close), both in its docs.
  } as unknown as Parameters<typeof postgres>[1])
  const start = async () => {
    await client.unsafe(`listen "${channel.replace(/"/g, '""')}"`)
    handlers.onConnect()
  }
  const schedule = (pause: number) => {
    clearTimeout(retry)
    retry = setTimeout(() => {
      start().catch(() => {
        if (!stopped) schedule(Math.min(pause * 2, 5_000))
      })
    }, pause)
    retry.unref()
  }
  await start()
  return async () => {
    stopped = true
    clearTimeout(retry)
    await client.end({ timeout: 1 })
  }
}

// The embedded database lives in this process's memory, and WebAssembly memory once touched is
// never given back: PostgreSQL's default 128 MB of shared buffers filled as data was read (an
// embedded restart measured 463 MB resident, 317 MB with these). A newcomer's data fits in 16 MB.
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB', '-c', 'work_mem=2MB', '-c', 'maintenance_work_mem=16MB', '-c', 'temp_buffers=2MB']

async function openPglite(target: Extract<DatabaseTarget, { kind: 'pglite' }>, logger?: Logger): Promise<Database> {
  const inMemory = target.dir.startsWith('memory://')
  if (!inMemory) mkdirSync(target.dir, { recursive: true })
  const unlock = inMemory ? () => {} : lockFolder(target.dir)
  const client = new PGlite(inMemory ? undefined : target.dir, { startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] })
  await client.waitReady
  const db = drizzlePglite({ client, schema, ...(logger ? { logger } : {}) }) as unknown as Db
  return {
    kind: 'pglite',
    db,
    migrate: () => migratePglite(drizzlePglite({ client }), { migrationsFolder }),
    migrationsCurrent: () => migrationsCurrent(db),
    // In-process: the connection cannot drop while the database is open.
    async listen(channel, handlers) {
      const unlisten = await client.listen(channel, handlers.onMessage)
      handlers.onConnect()
      return () => unlisten()
    },
    close: async () => {
      await client.close()
      unlock()
    },
  }
}

interface Journal {
  entries: { when: number }[]
}

// The newest migration this code ships, read once: /ready is polled and must not read files.
const latestMigration = Math.max(
  ...(JSON.parse(readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as Journal).entries.map(
    (entry) => entry.when,
  ),
)

async function migrationsCurrent(db: Db): Promise<boolean> {
  try {
    const rows = await db.execute(
      sql`select max(created_at) as created_at from drizzle.__drizzle_migrations`,
    )
    const applied = Number(rowsOf<{ created_at: string | number }>(rows)[0]?.created_at)
    return Number.isFinite(applied) && applied >= latestMigration
  } catch {
    return false
  }
}

/**
 * A PostgreSQL array literal, for `= any(${pgArray(ids)}::uuid[])`: drizzle's sql template turns a
 * JavaScript array into a parenthesised list of parameters, which is not an array.
 */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`
}

/** `execute` answers an array on postgres.js and `{ rows }` on PGlite. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? [])
}

/** Services open transactions through this, so a change and its audit entry commit together. */
export type InTransaction = <T>(work: (tx: Tx) => Promise<T>) => Promise<T>

export function transactionRunner(db: Db): InTransaction {
  return (work) => db.transaction(work)
}
