import { sign } from 'node:crypto'
import type { ReceiptKey } from '../../lib/receipt-key.js'

export interface ReceiptClaims {
  /** The consent record id. */
  jti: string
  /** The participant the record is about. */
  sub: string
  acc: string
  mtg: string
  scope: string
  decision: string
  method: string
  /** Notice version id and the sha-256 of its text (null for a withdrawal given without one). */
  nv: string | null
  nh: string | null
  /** The record's instant: seconds (iat) and the exact RFC 3339 time. */
  iat: number
  at: string
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')

/**
 * A compact JWS (RFC 7515) signed with Ed25519. Ed25519 signatures are deterministic, so the
 * receipt of a record is the same every time it is produced (a replayed answer matches).
 */
export function signReceipt(key: ReceiptKey, claims: ReceiptClaims): string {
  const input = `${b64({ alg: 'EdDSA', typ: 'consent-receipt+jwt', kid: key.kid })}.${b64(claims)}`
  return `${input}.${sign(null, Buffer.from(input, 'ascii'), key.privateKey).toString('base64url')}`
}
