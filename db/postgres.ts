import { readFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import path from 'node:path'
import { compileFunction } from 'node:vm'
import type postgresDefault from 'postgres'

// postgres.js 3.4.9 with reviewed fixes, carried here because npm runs no install scripts on these
// machines (no patch-package). The CommonJS build resolves its own modules through require's
// cache, so the fixed modules are placed there before the client is loaded. Only the version the
// fixes were reviewed against is patched, and each fix must find exactly the code it replaces;
// test/db/postgres.test.ts fails on any other version, so an upgrade is reviewed again.
//
// 1. Queue.remove() searches from index 0, but shift() only advances an index and leaves the
//    consumed front in place until the queue empties. Under sustained load the connection
//    queues never empty, so every remove() scans an ever longer dead prefix: measured here,
//    14.5k → 5.5k queries/s over 250k queries. The fix searches from the live head:
//    `xs.indexOf(x, index)`.
// 2. A transaction's BEGIN reserves its connection in execute() as the last term of an && chain
//    that also asks whether the connection's pipeline has room. When BEGIN filled the pipeline
//    (or the socket's buffer), the chain stopped before the reservation: the client failed with
//    UNSAFE_TRANSACTION while PostgreSQL kept the transaction open, and the connection went back
//    to the pool, so unrelated queries ran inside it, their commits deferred to whatever later
//    ended it (upstream issue #1189, open pull request #1218). Under the join storm this lost
//    acknowledgements: a join's participant was invisible to the consent that followed it. The
//    fix reserves the connection whenever BEGIN was written; the chain's value for BEGIN stays
//    what it always was (the reservation hook returns nothing, so false).
// 3. A socket 'drain' handed an idle connection back to the pool even while a transaction held
//    it between two of its statements (upstream #823). The fix leaves a reserved connection to
//    its holder.

export const PATCHED_VERSION = '3.4.9'

const require = createRequire(import.meta.url)
const entry = require.resolve('postgres')
const sourceDir = path.dirname(entry)
const packageDir = path.resolve(sourceDir, '..', '..')
export const installedVersion = (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version
const queueFile = path.join(sourceDir, 'queue.js')
const connectionFile = path.join(sourceDir, 'connection.js')

/** postgres.js's Queue, unchanged but for the start of remove()'s search. */
export function Queue<T>(initial: T[] = []) {
  let xs: (T | undefined)[] = initial.slice()
  let index = 0

  return {
    get length() {
      return xs.length - index
    },
    remove: (x: T) => {
      const at = xs.indexOf(x, index)
      return at === -1 ? null : (xs.splice(at, 1), x)
    },
    push: (x: T) => (xs.push(x), x),
    shift: () => {
      const out = xs[index++]
      if (index === xs.length) {
        index = 0
        xs = []
      } else {
        xs[index - 1] = undefined
      }
      return out
    },
  }
}

/** The reviewed changes to connection.js: each `from` must occur exactly once in the installed file. */
export const CONNECTION_FIXES = [
  {
    name: 'BEGIN reserves its connection even when it fills the pipeline',
    from: `      build(q)
      return write(toBuffer(q))
        && !q.describeFirst
        && !q.cursorFn
        && sent.length < max_pipeline
        && (!q.options.onexecute || q.options.onexecute(connection))`,
    to: `      build(q)
      const written = write(toBuffer(q))
      if (q.options.onexecute) return (q.options.onexecute(connection), false)
      return written
        && !q.describeFirst
        && !q.cursorFn
        && sent.length < max_pipeline`,
  },
  {
    name: 'a drained socket does not return a reserved connection to the pool',
    from: `  function drain() {
    !query && onopen(connection)
  }`,
    to: `  function drain() {
    !query && !connection.reserved && onopen(connection)
  }`,
  },
] as const

/** The installed connection.js with the fixes applied; throws when any no longer fits. */
export function fixedConnectionSource(source: string): string {
  let fixed = source
  for (const fix of CONNECTION_FIXES) {
    const at = fixed.indexOf(fix.from)
    if (at === -1 || fixed.indexOf(fix.from, at + 1) !== -1) throw new Error(`postgres.js fix "${fix.name}" does not fit ${connectionFile}; review db/postgres.ts`)
    fixed = fixed.slice(0, at) + fix.to + fixed.slice(at + fix.from.length)
  }
  return fixed
}

function cache(file: string, exports: unknown) {
  const fixed = new Module(file)
  fixed.filename = file
  fixed.exports = exports
  fixed.loaded = true
  require.cache[file] = fixed
}

let fixedConnection: unknown
if (installedVersion === PATCHED_VERSION && !require.cache[connectionFile]) {
  cache(queueFile, Queue)
  // connection.js compiled from its fixed source as CommonJS, requiring its siblings (the fixed
  // queue among them) through the same cache.
  const module = { exports: {} as unknown }
  const load = compileFunction(fixedConnectionSource(readFileSync(connectionFile, 'utf8')), ['exports', 'require', 'module', '__filename', '__dirname'], {
    filename: connectionFile,
  })
  load(module.exports, createRequire(connectionFile), module, connectionFile, sourceDir)
  fixedConnection = module.exports
  cache(connectionFile, fixedConnection)
}

/** Whether the client below runs with the fixed modules. */
export const queuePatched = require.cache[queueFile]?.exports === Queue
export const connectionPatched = fixedConnection !== undefined && require.cache[connectionFile]?.exports === fixedConnection

export const postgres = require('postgres') as typeof postgresDefault
