import { createSigner } from 'fast-jwt'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.js'

export type VerificationKey = { algorithm: 'HS256'; secret: string } | { algorithm: 'RS256' | 'ES256'; publicKey: string }

/**
 * The key that verifies bearer tokens. With HS256 and no JWT_SECRET, a secret is generated into
 * the data folder at first start (mode 0600) and reused afterwards, so a developer's tokens
 * survive restarts.
 */
export function resolveVerificationKey(config: Pick<Config, 'jwt' | 'dataDir'>): VerificationKey {
  const jwt = config.jwt
  if (jwt.algorithm !== 'HS256') return { algorithm: jwt.algorithm, publicKey: jwt.publicKey }
  if (jwt.secret) return { algorithm: 'HS256', secret: jwt.secret }
  const file = path.join(config.dataDir, 'jwt-secret')
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true })
    writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' })
  }
  return { algorithm: 'HS256', secret: readFileSync(file, 'utf8').trim() }
}

export interface TokenClaims {
  sub: string
  acc: string
  roles: string[]
}

/**
 * Signs a development token with the configured HS256 secret, or with a private key (PEM) for
 * RS256/ES256. The service itself never signs bearer tokens in production: an identity provider does.
 */
export function signToken(
  config: Pick<Config, 'jwt' | 'dataDir'>,
  claims: TokenClaims,
  options: { expiresInSeconds?: number; privateKey?: string } = {},
): string {
  const key = options.privateKey ?? (resolveVerificationKey(config) as { secret?: string }).secret
  if (!key) throw new Error(`Signing a ${config.jwt.algorithm} token needs its private key (--key file.pem)`)
  const sign = createSigner({
    key,
    algorithm: config.jwt.algorithm,
    expiresIn: (options.expiresInSeconds ?? 3600) * 1000,
    ...(config.jwt.issuer ? { iss: config.jwt.issuer } : {}),
    ...(config.jwt.audience ? { aud: config.jwt.audience } : {}),
  })
  return sign({ ...claims })
}
