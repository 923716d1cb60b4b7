import t from 'tap'
import { CacheBus, decodeInvalidation, ScopedCache } from '../../src/lib/cache.js'

// The in-memory caches' own rules, without a database: what an invalidation drops, that a load
// racing an invalidation does not store what it read, and that nothing is kept while the
// listener is down.

const A = 'acc-a'
const B = 'acc-b'

t.test('an invalidation drops the entries of its scope only', async (t) => {
  const bus = new CacheBus()
  bus.reset(true)
  const cache = new ScopedCache<string>(bus, 100)
  let reads = 0
  const load = (key: string, tags: { accountId: string; userId?: string; meetingId?: string }) => cache.load(key, tags, async () => `${key}#${++reads}`)
  await load('a-u1', { accountId: A, userId: 'u1' })
  await load('a-u2', { accountId: A, userId: 'u2' })
  await load('a-m1', { accountId: A, userId: 'u1', meetingId: 'm1' })
  await load('b-u1', { accountId: B, userId: 'u1' })
  t.equal(reads, 4)
  t.equal(await load('a-u1', { accountId: A, userId: 'u1' }), 'a-u1#1', 'a hit reads nothing')

  bus.invalidate({ accountId: A, userId: 'u1' })
  t.equal(cache.size, 2, "u1's own entry and the meeting chain u1 hosts are gone")
  t.equal(await load('a-u2', { accountId: A, userId: 'u2' }), 'a-u2#2', "u2's stays")
  t.equal(await load('b-u1', { accountId: B, userId: 'u1' }), 'b-u1#4', 'the same user id in another account stays')
  bus.invalidate({ accountId: A, meetingId: 'm1' })
  bus.invalidate({ accountId: A })
  t.equal(cache.size, 1, 'an account-wide change drops everything of the account')
  t.equal(await load('b-u1', { accountId: B, userId: 'u1' }), 'b-u1#4')
})

t.test('a load that raced an invalidation is answered but not kept', async (t) => {
  const bus = new CacheBus()
  bus.reset(true)
  const cache = new ScopedCache<string>(bus, 100)
  let release!: () => void
  const slow = cache.load('k', { accountId: A, userId: 'u1' }, () => new Promise((resolve) => (release = () => resolve('read before the write'))))
  bus.invalidate({ accountId: A, userId: 'u1' })
  release()
  t.equal(await slow, 'read before the write', 'the caller gets what it read')
  t.equal(cache.size, 0, 'but it is not cached: the write committed after it was read')
  t.equal(await cache.load('k', { accountId: A, userId: 'u1' }, async () => 'fresh'), 'fresh')
})

t.test('nothing is cached while the listener is down, and everything goes when it drops', async (t) => {
  const bus = new CacheBus()
  const cache = new ScopedCache<number>(bus, 100)
  let reads = 0
  const load = () => cache.load('k', { accountId: A }, async () => ++reads)
  await load()
  await load()
  t.equal(reads, 2, 'before the listener ever connected, every lookup reads')
  bus.reset(true)
  await load()
  await load()
  t.equal(reads, 3, 'listening: cached')
  bus.reset(false)
  t.equal(cache.size, 0, 'the listener dropped: everything goes')
  await load()
  await load()
  t.equal(reads, 5, 'and nothing is cached until it is back')
})

t.test('the cache is bounded; undefined is never cached; payloads decode or are ignored', async (t) => {
  const bus = new CacheBus()
  bus.reset(true)
  const cache = new ScopedCache<number | undefined>(bus, 3)
  for (let i = 0; i < 5; i++) await cache.load(`k${i}`, { accountId: A }, async () => i)
  t.equal(cache.size, 3, 'the oldest entries were evicted')
  await cache.load('none', { accountId: A }, async () => undefined)
  t.equal(cache.size, 3, 'a miss is not kept (the row may be created next)')
  t.same(decodeInvalidation('a:x'), { accountId: 'x' })
  t.same(decodeInvalidation('u:x:y'), { accountId: 'x', userId: 'y' })
  t.same(decodeInvalidation('m:x:z'), { accountId: 'x', meetingId: 'z' })
  t.equal(decodeInvalidation('u:x'), undefined)
  t.equal(decodeInvalidation('garbage'), undefined)
  t.equal(decodeInvalidation('q:x:y'), undefined)
})
