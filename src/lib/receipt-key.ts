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
 * The Ed25519 key that signs consent receipts: RECEIPT_SIGNING_KEY when configured (every process
 * of a deployment needs the same one), else a key generated into the data folder at first start.
 * Its id is the RFC 7638 thumbprint, so a verifier can tell keys apart across rotations.
 */
export function resolveReceiptKey(config: Pick<Config, 'receiptSigningKey' | 'dataDir'>): ReceiptKey {
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
  const privateKey = createPrivateKey(pem)
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string }
  const kid = createHash('sha256').update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x })).digest('base64url')
  return { privateKey, kid, publicJwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } }
}
