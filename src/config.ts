import { createPrivateKey, createPublicKey } from 'node:crypto'
import path from 'node:path'
import { z } from 'zod'

// The only reader of process.env. Every setting is parsed once here; a bad value stops the
// process before anything listens, with one line that names the variable.

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .optional()
  .transform((value) => (value === undefined ? undefined : value === 'true' || value === '1'))

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
  ),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  PGLITE_DIR: optionalString,
  MIGRATE_ON_START: booleanFlag,
  DEMO_BOOTSTRAP: booleanFlag,
  JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  JWT_PUBLIC_KEY: optionalString.pipe(
    z.string().includes('-----BEGIN', { message: 'must be a PEM public key' }).optional(),
  ),
  JWT_ALGORITHM: z.enum(['HS256', 'RS256', 'ES256']).optional(),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
  RECEIPT_SIGNING_KEY: optionalString.pipe(
    z.string().includes('-----BEGIN', { message: 'must be a PEM private key (Ed25519, PKCS#8)' }).optional(),
  ),
  JOIN_URL_BASE: z.url().default('https://meet.invalid/j/').describe('Prefix of the join link given to each meeting'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  UPLOAD_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024 * 1024)
    .default(2 * 1024 * 1024 * 1024),
})

export type JwtConfig =
  | { algorithm: 'HS256'; secret: string | undefined; issuer?: string; audience?: string }
  | { algorithm: 'RS256' | 'ES256'; publicKey: string; issuer?: string; audience?: string }

export interface Config {
  port: number
  host: string
  database:
    | { kind: 'postgres'; url: string; poolMax: number }
    | { kind: 'pglite'; dir: string }
  /** Apply pending migrations when the app starts (always on for the embedded database). */
  migrateOnStart: boolean
  /** Create a demo account and print an admin token when the database has no account yet. */
  demoBootstrap: boolean
  dataDir: string
  jwt: JwtConfig
  joinUrlBase: string
  /** Ed25519 private key (PEM) that signs consent receipts; generated into the data folder when unset. */
  receiptSigningKey: string | undefined
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL']
  bodyLimit: number
  uploadLimit: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const variable = String(issue.path[0] ?? 'environment')
    throw new ConfigError(`Invalid configuration: ${variable}: ${issue.message}`)
  }
  const e = parsed.data
  const dataDir = path.resolve(e.DATA_DIR)
  const embedded = e.DATABASE_URL === undefined

  const algorithm = e.JWT_ALGORITHM ?? (e.JWT_PUBLIC_KEY ? inferAlgorithm(e.JWT_PUBLIC_KEY) : 'HS256')
  let jwt: JwtConfig
  const claims = {
    ...(e.JWT_ISSUER ? { issuer: e.JWT_ISSUER } : {}),
    ...(e.JWT_AUDIENCE ? { audience: e.JWT_AUDIENCE } : {}),
  }
  if (algorithm === 'HS256') {
    if (e.JWT_PUBLIC_KEY) {
      throw new ConfigError('Invalid configuration: JWT_ALGORITHM: HS256 takes JWT_SECRET, not JWT_PUBLIC_KEY')
    }
    jwt = { algorithm, secret: e.JWT_SECRET, ...claims }
  } else {
    if (!e.JWT_PUBLIC_KEY) {
      throw new ConfigError(`Invalid configuration: JWT_PUBLIC_KEY: required for ${algorithm}`)
    }
    jwt = { algorithm, publicKey: e.JWT_PUBLIC_KEY, ...claims }
  }

  return {
    port: e.PORT,
    host: e.HOST,
    database: embedded
      ? { kind: 'pglite', dir: e.PGLITE_DIR ?? path.join(dataDir, 'pglite') }
      : { kind: 'postgres', url: e.DATABASE_URL!, poolMax: e.DATABASE_POOL_MAX },
    migrateOnStart: embedded ? true : (e.MIGRATE_ON_START ?? false),
    demoBootstrap: embedded ? (e.DEMO_BOOTSTRAP ?? true) : (e.DEMO_BOOTSTRAP ?? false),
    dataDir,
    jwt,
    joinUrlBase: e.JOIN_URL_BASE,
    receiptSigningKey: e.RECEIPT_SIGNING_KEY === undefined ? undefined : checkReceiptKey(e.RECEIPT_SIGNING_KEY),
    logLevel: e.LOG_LEVEL,
    bodyLimit: e.BODY_LIMIT,
    uploadLimit: e.UPLOAD_LIMIT,
  }
}

function inferAlgorithm(pem: string): 'RS256' | 'ES256' {
  try {
    return createPublicKey(pem).asymmetricKeyType === 'ec' ? 'ES256' : 'RS256'
  } catch {
    throw new ConfigError('Invalid configuration: JWT_PUBLIC_KEY: not a readable PEM public key')
  }
}

function checkReceiptKey(pem: string): string {
  try {
    if (createPrivateKey(pem).asymmetricKeyType === 'ed25519') return pem
  } catch {
    // reported below
  }
  throw new ConfigError('Invalid configuration: RECEIPT_SIGNING_KEY: not a readable Ed25519 private key (PEM)')
}
