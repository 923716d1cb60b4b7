import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { checkFixes, installed, manifestFile, REQUIRED_FIXES } from '../../db/postgres.js'

// postgres.js comes from db/vendor/postgres-3.4.9-consentry.tgz. These tests check that the
// installed copy is that one, in every build and for drizzle-orm too, and test its Queue fix;
// the fixes that need a server are tested in postgres-transactions and postgres-connection-loss.

const require = createRequire(import.meta.url)
const packageDir = path.dirname(manifestFile)
const BUILDS = ['src', 'cjs/src', 'cf/src']

t.test('the installed postgres.js is 3.4.9 naming every fix, and the only copy: for require and for drizzle-orm too', async (t) => {
  t.equal(installed.version, '3.4.9', 'the version drizzle-orm and the fixes were reviewed against')
  t.same(installed.consentry?.fixes, [...REQUIRED_FIXES], 'the marker names the fixes db/postgres.ts relies on')
  t.equal(path.dirname(path.dirname(path.dirname(require.resolve('postgres')))), packageDir, 'require loads the same package')
  const fromDrizzle = createRequire(require.resolve('drizzle-orm/postgres-js')).resolve('postgres')
  t.equal(path.dirname(path.dirname(path.dirname(fromDrizzle))), packageDir, 'and so does drizzle-orm')
})

t.test('db/postgres.ts refuses, in one line, a postgres.js that lacks any fix', async (t) => {
  t.throws(() => checkFixes({ version: '3.4.9' }, 'node_modules/postgres/package.json'), {
    message: `postgres 3.4.9 at node_modules/postgres/package.json lacks Consentry's fixes (${REQUIRED_FIXES.join(', ')}): install db/vendor/postgres-3.4.9-consentry.tgz with npm ci`,
  })
  t.throws(() => checkFixes({ version: '3.4.10', consentry: { fixes: REQUIRED_FIXES.slice(1) } }, 'x'), /^postgres 3\.4\.10 at x lacks Consentry's fixes \(queue-remove-from-head\): /)
  t.doesNotThrow(() => checkFixes({ version: '3.4.9', consentry: { fixes: [...REQUIRED_FIXES] } }, 'x'))
})

t.test("the package's three builds carry the same code: only the module syntax differs", async (t) => {
  // The tests run the import build (and the require build where it is cheap); this holds the
  // require and Cloudflare builds to it.
  const body = (build: string, file: string) => {
    const source = readFileSync(path.join(packageDir, build, file), 'utf8')
    return source.slice(source.search(/^(export default|module\.exports =) \w+$/m)).replace(/^.*\n/, '')
  }
  for (const file of ['connection.js', 'queue.js']) {
    const [first, ...others] = BUILDS.map((build) => body(build, file))
    t.ok(first!.includes('consentry:'), `${file} carries the fixes`)
    for (const [i, other] of others.entries()) t.equal(other, first, `${BUILDS[i + 1]}/${file} equals src/${file}`)
  }
})

/** The installed package's Queue, from each Node build. */
type Queue = <T>(initial?: T[]) => { readonly length: number; push(x: T): T; shift(): T | undefined; remove(x: T): T | null }
const queues: [string, Queue][] = [
  ['import', ((await import(new URL('./queue.js', import.meta.resolve('postgres')).href)) as { default: Queue }).default],
  ['require', require(path.join(path.dirname(require.resolve('postgres')), 'queue.js')) as Queue],
]

for (const [build, Queue] of queues) {
  t.test(`${build}: the Queue keeps its semantics: FIFO, length, remove of live and consumed items`, async (t) => {
    const q = Queue<string>()
    for (const x of ['a', 'b', 'c', 'd']) q.push(x)
    t.equal(q.shift(), 'a')
    t.equal(q.length, 3)
    t.equal(q.remove('a'), null, 'a consumed item is not found again')
    t.equal(q.remove('c'), 'c', 'a live item is removed')
    t.equal(q.length, 2)
    t.equal(q.shift(), 'b')
    t.equal(q.shift(), 'd')
    t.equal(q.length, 0, 'empty again')
    t.equal(q.remove('d'), null)
    const seeded = Queue(['x', 'y'])
    t.equal(seeded.length, 2, 'an initial array is copied in')
    t.equal(seeded.shift(), 'x')
  })

  t.test(`${build}: in a queue that never empties, remove() reads only the live items, not the consumed front`, async (t) => {
    // The Queue copies its initial array with slice(), which builds the copy through the
    // array's species: the copy here is a proxy that counts element reads. Unfixed, remove()
    // scanned from index 0 and read every consumed slot: 100,000 reads here, a slowdown that grew
    // for as long as the load lasted.
    let reads = 0
    const counted = function (length: number) {
      return new Proxy(new Array<number>(length), {
        get: (target, key, receiver) => (typeof key === 'string' && /^\d+$/.test(key) && reads++, Reflect.get(target, key, receiver)),
      })
    }
    const initial: number[] = []
    Object.defineProperty(initial, 'constructor', { value: { [Symbol.species]: counted } })
    const q = Queue(initial)
    q.push(0)
    for (let i = 1; i <= 100_000; i++) {
      q.push(i)
      if (q.shift() !== i - 1) t.fail(`turn ${i} out of order`)
    }
    t.equal(q.length, 1, 'one item is live after 100,000 turns')
    t.ok(reads >= 100_000, 'the probe sees the reads of shift()')
    reads = 0
    t.equal(q.remove(100_000), 100_000, 'the live item is removed')
    t.ok(reads <= 2, `remove() read ${reads} element(s)`)
    t.equal(q.length, 0)
    t.equal(q.remove(99_999), null, 'a consumed item is not found')
  })
}

t.test('the vendored tarball is what package.json installs', async (t) => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; overrides: Record<string, string> }
  t.equal(manifest.dependencies.postgres, 'file:db/vendor/postgres-3.4.9-consentry.tgz')
  t.equal(manifest.overrides.postgres, '$postgres', 'every dependent (drizzle-orm) gets the same copy')
  t.ok(readFileSync(path.join(root, 'db', 'vendor', 'postgres-3.4.9-consentry.tgz')).length > 0)
})
