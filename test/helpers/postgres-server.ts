import net from 'node:net'
import type { Test } from 'tap'
import { postgres } from '../../db/postgres.js'

// The tests of the postgres.js fixes talk to a real PostgreSQL server in every run: the suite's
// (DATABASE_URL) or, on PGlite runs, the local one, which CI and the development machines run.
// They need no schema and use their own connections.

export const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

type Postgres = typeof postgres
export type Sql = ReturnType<Postgres>
type Options = NonNullable<Parameters<Postgres>[1]>
/** Options postgres.js reads that its typings leave out. */
export interface Untyped {
  max_pipeline?: number
  socket?: () => net.Socket
}

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

/** A second client, to look at the first's backends. */
export function observer(t: Test): Sql {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
  t.teardown(() => sql.end({ timeout: 5 }))
  return sql
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
