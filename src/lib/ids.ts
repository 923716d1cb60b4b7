import { randomFillSync } from 'node:crypto'

// Random bytes are drawn 256 ids at a time: a draw per id was a measurable share of a busy join
// path (three ids per join), and the pool is as random as the draw.
const POOL_IDS = 256
const pool = Buffer.alloc(16 * POOL_IDS)
let used = POOL_IDS

// UUIDv7 (RFC 9562): time-ordered, so primary keys index well and cursor pagination by id
// returns rows in creation order.
export function newId(now = Date.now()): string {
  if (used === POOL_IDS) {
    randomFillSync(pool)
    used = 0
  }
  const bytes = pool.subarray(16 * used, 16 * ++used)
  bytes.writeUIntBE(now, 0, 6)
  bytes[6] = (bytes[6]! & 0x0f) | 0x70
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Token subjects are user ids for people and free-form names for services. */
export const isUuid = (value: string) => UUID.test(value)
