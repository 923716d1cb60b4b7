import { readFileSync } from 'node:fs'
import { createRequire, Module } from 'node:module'
import path from 'node:path'
import type postgresDefault from 'postgres'

// postgres.js 3.4.9 with one reviewed change, carried here because npm runs no install scripts on
// these machines (no patch-package). Its internal Queue's remove() searches from index 0, but
// shift() only advances an index and leaves the consumed front in place until the queue empties.
// Under sustained load with more queries than connections the connection queues never empty, so
// every remove() scans an ever longer dead prefix: measured here, 14.5k → 5.5k queries/s over
// 250k queries. The fix searches from the live head: `xs.indexOf(x, index)`.
//
// The CommonJS build resolves './queue.js' through require's cache, so the fixed Queue is placed
// there before the client is loaded. Only the version the fix was reviewed against is patched;
// test/db/postgres.test.ts fails on any other, so an upgrade is reviewed again.

export const PATCHED_VERSION = '3.4.9'

const require = createRequire(import.meta.url)
const entry = require.resolve('postgres')
const packageDir = path.resolve(path.dirname(entry), '..', '..')
export const installedVersion = (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string }).version
const queueFile = path.join(path.dirname(entry), 'queue.js')

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

if (installedVersion === PATCHED_VERSION && !require.cache[queueFile]) {
  const patched = new Module(queueFile)
  patched.filename = queueFile
  patched.exports = Queue
  patched.loaded = true
  require.cache[queueFile] = patched
}

/** Whether the client below runs with the fixed Queue. */
export const queuePatched = require.cache[queueFile]?.exports === Queue

export const postgres = require('postgres') as typeof postgresDefault
