import t from 'tap'
import { isUuid, newId } from '../../src/lib/ids.js'

t.test('ids are UUIDv7: the instant first, version 7, RFC variant, and never repeat across refills of the random pool', async (t) => {
  const at = Date.UTC(2026, 11, 6, 8, 0, 0, 123)
  const ids = Array.from({ length: 1000 }, () => newId(at))
  t.equal(new Set(ids).size, ids.length, 'all distinct, past several refills of the pool')
  for (const id of [ids[0]!, ids[255]!, ids[256]!, ids[999]!]) {
    t.ok(isUuid(id), id)
    t.equal(id[14], '7', 'version 7')
    t.match(id[19]!, /[89ab]/, 'RFC 9562 variant')
    t.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), at, 'the first 48 bits are the instant')
  }
  t.ok(newId(at + 1) > ids[999]!, 'a later instant sorts after')
})
