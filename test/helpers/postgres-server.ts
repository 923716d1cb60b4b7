import { createRequire } from 'node:module'
import net from 'node:net'
import type { Test } from 'tap'
import { postgres } from '../../db/postgres.js'

// The tests of the postgres.js fixes talk to a real PostgreSQL server in every run: the suite's
// (DATABASE_URL) or, on PGlite runs, the local one, which CI and the development machines run.
// They need no schema, use their own connections, and terminate only backends they opened.

export const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

type Postgres = typeof postgres
export type Sql = ReturnType<Postgres>
type Options = NonNullable<Parameters<Postgres>[1]>
/** Options postgres.js reads that its typings leave out. */
export interface Untyped {
  max_pipeline?: number
  socket?: () => net.Socket
}

/** The package's two Node builds: `import` (the service's) and `require`. */
export const builds: [string, Postgres][] = [
  ['import', postgres],
  ['require', createRequire(import.meta.url)('postgres') as Postgres],
]

/**
 * A client whose sockets the test holds, in the order the connections opened them: a test can
 * act on one (destroy it, as a dropped network would) at the moment it needs.
 */
export function clientWithSockets(t: Test, options: Options & Untyped = {}, build: Postgres = postgres) {
  const { hostname, port } = new URL(serverUrl)
  const sockets: net.Socket[] = []
  const socket = () => {
    const s = net.connect(Number(port || 5432), hostname)
    sockets.push(s)
    return s
  }
  const sql = build(serverUrl, { onnotice: () => {}, ...options, ...({ socket } as object) })
  t.teardown(() => sql.end({ timeout: 5 }))
  return { sql, sockets }
}

/** A second client to observe and terminate the first's backends. */
export function observer(t: Test): Sql {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  return sql
}

/** Resolves with what the promise settled to (a value, or the error's code), or rejects after ms. */
export function settled<T>(promise: PromiseLike<T>, ms = 10_000): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    Promise.resolve(promise).then(
      (value) => value,
      (error: { code?: string; message?: string }) => String(error.code ?? error.message),
    ),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** Errors that reached the process (uncaught, or rejected with no handler) while the test ran. */
export function escapes(t: Test): unknown[] {
  const seen: unknown[] = []
  const record = (error: unknown) => void seen.push(error)
  process.on('uncaughtException', record)
  process.on('unhandledRejection', record)
  t.teardown(() => {
    process.off('uncaughtException', record)
    process.off('unhandledRejection', record)
  })
  return seen
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
