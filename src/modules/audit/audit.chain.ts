import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
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

export interface AuditCheckpoint {
  accountId: string
  seq: number
  hash: string
  at: Date
  kid: string
  signature: string
}

/** What a checkpoint's signature covers: the account, the last entry cut away, and its hash. */
const checkpointBody = (c: Pick<AuditCheckpoint, 'accountId' | 'seq' | 'hash' | 'at'>) =>
  Buffer.from(canonicalJson(['consentry.audit-checkpoint', c.accountId, c.seq, c.hash, c.at.toISOString()]))

/** Signs where a trail now starts, with the receipt key (Ed25519), so a purge cannot forge a new start unnoticed. */
export function signCheckpoint(key: { privateKey: KeyObject; kid: string }, c: Pick<AuditCheckpoint, 'accountId' | 'seq' | 'hash' | 'at'>): AuditCheckpoint {
  return { ...c, kid: key.kid, signature: sign(null, checkpointBody(c), key.privateKey).toString('base64url') }
}

/** True when the checkpoint was signed by one of the keys (current or retired, found by its id). */
export function checkpointValid(keys: ReadonlyMap<string, { privateKey: KeyObject }>, c: AuditCheckpoint): boolean {
  const key = keys.get(c.kid)
  if (!key) return false
  return verify(null, checkpointBody(c), createPublicKey(key.privateKey), Buffer.from(c.signature, 'base64url'))
}
