import { createHash } from 'node:crypto'
import { canonicalJson } from '../../lib/canonical-json.js'

// The hash chain of the audit trail. An entry's hash covers its previous entry's hash and
// every field of its own, in a canonical form (jsonb does not keep key order).

export const GENESIS_HASH = '0'.repeat(64)

export interface ChainedFields {
  accountId: string
  seq: number
  id: string
  at: Date
  actorType: 'user' | 'platform' | 'system'
  actorId: string
  action: string
  targetType: string
  targetId: string
  details: Record<string, unknown>
}

export function entryHash(prevHash: string, e: ChainedFields): string {
  const body = canonicalJson([
    prevHash,
    e.accountId,
    e.seq,
    e.id,
    e.at.toISOString(),
    e.actorType,
    e.actorId,
    e.action,
    e.targetType,
    e.targetId,
    e.details,
  ])
  return createHash('sha256').update(body).digest('hex')
}
