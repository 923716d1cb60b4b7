import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.js'

export interface ReceiptKey {
  privateKey: KeyObject
  kid: string
  /** The public half as a JWK, for /.well-known/jwks.json. */
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA'; use: 'sig' }
}

/**
 * The keys of consent receipts: the current one signs new receipts; retired ones are still
 * published, so every receipt ever issued verifies, and sign again only a replayed answer of a
 * record they signed (Ed25519 is deterministic: the replay is the receipt first returned).
 */
export interface ReceiptKeyring {
  current: ReceiptKey
  /** Every key by its id, the current one included. */
  byKid: ReadonlyMap<string, ReceiptKey>
  /** Public keys, the current one first. */
  jwks: ReceiptKey['publicJwk'][]
}

function toReceiptKey(pem: string): ReceiptKey {
  const privateKey = createPrivateKey(pem)
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string }
  // The RFC 7638 thumbprint: a verifier tells keys apart across rotations.
  const kid = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url')
  return { privateKey, kid, publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } }
}

/**
 * RECEIPT_SIGNING_KEY when configured (every process of a deployment needs the same one), else a
 * key generated into the data folder at first start (the embedded mode only: config refuses a
 * shared database without a configured key). RECEIPT_RETIRED_KEYS are the keys rotated out.
 */
export function resolveReceiptKeys(config: Pick<Config, 'receiptSigningKey' | 'receiptRetiredKeys' | 'dataDir'>): ReceiptKeyring {
  let pem = config.receiptSigningKey
  if (!pem) {
    const file = path.join(config.dataDir, 'receipt-signing-key.pem')
    if (!existsSync(file)) {
      mkdirSync(config.dataDir, { recursive: true })
      const { privateKey } = generateKeyPairSync('ed25519')
      try {
        writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
      } catch (error) {
        // Another process of the same data folder wrote it first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
    }
    pem = readFileSync(file, 'utf8')
  }
  const current = toReceiptKey(pem)
  const byKid = new Map<string, ReceiptKey>([[current.kid, current]])
  for (const retired of config.receiptRetiredKeys) {
    const key = toReceiptKey(retired)
    if (!byKid.has(key.kid)) byKid.set(key.kid, key)
  }
  return { current, byKid, jwks: [...byKid.values()].map((key) => key.publicJwk) }
}
