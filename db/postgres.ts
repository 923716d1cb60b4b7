import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import postgres from 'postgres'

// postgres.js is installed from db/vendor/postgres-3.4.9-consentry.tgz: the registry's 3.4.9 with
// reviewed fixes applied to all of its builds (db/vendor/build-postgres.mjs makes the tarball and
// holds the replacements). No release has them. The package keeps its version, so drizzle-orm's
// peer range accepts it, and names its fixes in a `consentry` field that this module checks when
// the service starts: a version bump or a plain registry install fails here, not under load.
//
// - queue-remove-from-head: Queue.remove() searched from index 0, but shift() only advances an
//   index and leaves the consumed front in place until the queue empties. Under sustained load
//   the queues never empty, so every remove() scanned an ever longer dead prefix: measured here,
//   14.5k → 5.5k queries/s over 250k queries.
// - begin-reserves-its-connection: a transaction's BEGIN reserved its connection as the last
//   term of an && chain that also asked whether the pipeline had room; when BEGIN filled it, the
//   client failed with UNSAFE_TRANSACTION while PostgreSQL kept the transaction open, and pool
//   queries ran inside it (upstream #1189, open PR #1218). Under the join storm this lost
//   acknowledgements.
// - drain-leaves-reserved-connection: a socket 'drain' handed an idle connection to the pool even
//   while a transaction held it between two statements (upstream #823).
// - write-after-close: a transaction's ROLLBACK (or a reserved query) executed on a connection
//   whose backend had just gone scheduled a write that ran after the socket was dropped and threw
//   from a timer: `Cannot read properties of null (reading 'write')` ended the process whenever
//   PostgreSQL's connections were terminated under load (upstream #1154, #1066, #1208; open PRs
//   #1168, #1209). Such a query now fails with CONNECTION_CLOSED at once, and a write pending when
//   the socket closed no longer stalls the next session's startup until connect_timeout.
// - close-settles-session: a closed session's unanswered query and last error stayed in place, so
//   the reconnected session's first query failed with the old backend's error; and a type fetch
//   cut off by the loss of its connection rejected with no handler, which also ends the process.

/** The fixes this code relies on; the installed package must name each of them. */
export const REQUIRED_FIXES = [
  'queue-remove-from-head',
  'begin-reserves-its-connection',
  'drain-leaves-reserved-connection',
  'write-after-close',
  'close-settles-session',
] as const

export interface PostgresManifest {
  version: string
  consentry?: { fixes?: string[] }
}

/** The package.json of the postgres.js that `import 'postgres'` loads here. */
export const manifestFile = fileURLToPath(new URL('../package.json', import.meta.resolve('postgres')))
export const installed = JSON.parse(readFileSync(manifestFile, 'utf8')) as PostgresManifest

/** Throws, in one line, when the manifest lacks any fix this code relies on. */
export function checkFixes(manifest: PostgresManifest, where: string): void {
  const missing = REQUIRED_FIXES.filter((fix) => !manifest.consentry?.fixes?.includes(fix))
  if (missing.length > 0) {
    throw new Error(
      `postgres ${manifest.version} at ${where} lacks Consentry's fixes (${missing.join(', ')}): install db/vendor/postgres-3.4.9-consentry.tgz with npm ci`,
    )
  }
}

checkFixes(installed, manifestFile)

export { postgres }
