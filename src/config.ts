import { createPrivateKey, createPublicKey } from 'node:crypto'
import path from 'node:path'
import { z } from 'zod'
import { DATA_REGIONS } from '../db/schema/accounts.js'
import type { S3Bucket } from './lib/s3-blob-store.js'

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
  JWT_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(30 * 86400).default(86400),
  RECEIPT_SIGNING_KEY: optionalString.pipe(
    z.string().includes('-----BEGIN', { message: 'must be a PEM private key (Ed25519, PKCS#8)' }).optional(),
  ),
  RECEIPT_RETIRED_KEYS: optionalString.pipe(
    z.string().includes('-----BEGIN', { message: 'must be one or more PEM private keys (Ed25519, PKCS#8)' }).optional(),
  ),
  TRUST_PROXY: optionalString,
  JOIN_URL_BASE: z.url().default('https://meet.invalid/j/').describe('Prefix of the join link given to each meeting'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  MAX_IN_FLIGHT: z.coerce.number().int().min(0).max(100_000).default(256),
  MAX_QUEUED: z.coerce.number().int().min(0).max(100_000).default(1024),
  MAX_QUEUE_WAIT_MS: z.coerce.number().int().min(1).max(60_000).default(5000),
  MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  MAX_HEAP_SHARE: z.coerce.number().min(0).max(1).default(0.9),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(1200),
  RATE_LIMIT_ANON_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(300),
  PASSCODE_FAILURES_PER_MINUTE: z.coerce.number().int().min(0).max(10_000).default(10),
  PURGE_INTERVAL_MINUTES: z.coerce.number().int().min(0).max(7 * 24 * 60).default(60),
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false']).default('false'),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(11),
  UPLOAD_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024 * 1024)
    .default(2 * 1024 * 1024 * 1024),
  BLOB_STORE: z.enum(['fs', 's3']).default('fs'),
  S3_ENDPOINT: optionalString.pipe(z.url().optional()),
  S3_FORCE_PATH_STYLE: booleanFlag,
  S3_BUCKETS: optionalString,
  AWS_REGION: optionalString,
  SERVED_REGIONS: optionalString,
  WEB_CONCURRENCY: optionalString.pipe(z.coerce.number<string | undefined>().int().min(1).max(64).optional()),
})

export type JwtConfig = (
  | { algorithm: 'HS256'; secret: string | undefined; issuer?: string; audience?: string }
  | { algorithm: 'RS256' | 'ES256'; publicKey: string; issuer?: string; audience?: string }
) & {
  /** The longest lifetime (exp − iat) a token may claim; longer ones, and tokens without iat, are refused. */
  maxAgeSeconds: number
}

/** fastify's trustProxy: off, every hop, or the proxies' addresses and CIDRs. */
export type TrustProxy = boolean | string[]

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
  /** Keys that signed receipts before a rotation: still published, and used again for a replayed answer. */
  receiptRetiredKeys: string[]
  /** Whether X-Forwarded-For names the client (behind a load balancer) or the socket does. */
  trustProxy: TrustProxy
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL']
  bodyLimit: number
  uploadLimit: number
  /** Requests a process works on at once; more wait in inFlightQueue, past it 503 with Retry-After (0: no limit). */
  maxInFlight: number
  /** Requests that wait for a slot past maxInFlight, and for how long, before they are shed. */
  inFlightQueue: { queue: number; queueWaitMs: number }
  /** Load shed with 503 on event-loop delay (ms) and on heap use (share of its limit); 0 turns each off. */
  pressure: { maxEventLoopDelayMs: number; maxHeapShare: number }
  /** Per minute: per principal, per address before authentication, passcode failures per meeting and address (0: off). */
  rateLimits: { perPrincipal: number; anonymousPerAddress: number; passcodeFailures: number }
  /** Minutes between purges on the job runner (0: the service never purges by itself). */
  purgeIntervalMinutes: number
  /** Webhook delivery: private targets allowed (development), the time limit, attempts before the endpoint is disabled. */
  webhooks: { allowPrivate: boolean; timeoutMs: number; maxAttempts: number }
  /** Where recording bytes go: the data folder, or one S3 bucket per data region (P-RES-1). */
  blobStore: BlobStoreConfig
  /** The data regions this deployment's database holds accounts of; undefined: all. */
  servedRegions: string[] | undefined
  /** Worker processes `npm start` runs on one port (PostgreSQL only when more than one). */
  webConcurrency: number
}

export type BlobStoreConfig =
  | { kind: 'fs' }
  | { kind: 's3'; endpoint: string | undefined; forcePathStyle: boolean; awsRegion: string | undefined; buckets: Record<string, S3Bucket> }

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface LoadOptions {
  /**
   * Whether keys must be configured rather than generated. Serving PostgreSQL (several processes,
   * one database) needs every process to verify and sign with the same keys, so `npm start` with
   * DATABASE_URL requires them; tools that sign nothing (the migration CLI) say `false`.
   */
  requireKeys?: boolean
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
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
  const maxAgeSeconds = e.JWT_MAX_AGE_SECONDS
  if (algorithm === 'HS256') {
    if (e.JWT_PUBLIC_KEY) {
      throw new ConfigError('Invalid configuration: JWT_ALGORITHM: HS256 takes JWT_SECRET, not JWT_PUBLIC_KEY')
    }
    jwt = { algorithm, secret: e.JWT_SECRET, maxAgeSeconds, ...claims }
  } else {
    if (!e.JWT_PUBLIC_KEY) {
      throw new ConfigError(`Invalid configuration: JWT_PUBLIC_KEY: required for ${algorithm}`)
    }
    // An identity provider's key signs tokens for other audiences too: only ours may pass.
    if (!e.JWT_ISSUER) throw new ConfigError('Invalid configuration: JWT_ISSUER: required with JWT_PUBLIC_KEY')
    if (!e.JWT_AUDIENCE) throw new ConfigError('Invalid configuration: JWT_AUDIENCE: required with JWT_PUBLIC_KEY')
    jwt = { algorithm, publicKey: e.JWT_PUBLIC_KEY, maxAgeSeconds, ...claims }
  }
  // Generated keys live in one process's data folder: with a shared database, a second process
  // would verify and sign with keys of its own.
  if (!embedded && (options.requireKeys ?? true)) {
    if (algorithm === 'HS256' && !e.JWT_SECRET) {
      throw new ConfigError('Invalid configuration: JWT_SECRET: required with DATABASE_URL (or JWT_PUBLIC_KEY); generated keys are for the embedded database only')
    }
    if (!e.RECEIPT_SIGNING_KEY) {
      throw new ConfigError('Invalid configuration: RECEIPT_SIGNING_KEY: required with DATABASE_URL; a generated key is for the embedded database only')
    }
  }

  const webConcurrency = e.WEB_CONCURRENCY ?? 1
  if (embedded && webConcurrency > 1) {
    throw new ConfigError('Invalid configuration: WEB_CONCURRENCY: more than one worker needs DATABASE_URL (PostgreSQL); the embedded database\'s folder is held by one process')
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
    receiptSigningKey: e.RECEIPT_SIGNING_KEY === undefined ? undefined : checkReceiptKey(e.RECEIPT_SIGNING_KEY, 'RECEIPT_SIGNING_KEY'),
    receiptRetiredKeys: e.RECEIPT_RETIRED_KEYS === undefined ? [] : splitPem(e.RECEIPT_RETIRED_KEYS).map((pem) => checkReceiptKey(pem, 'RECEIPT_RETIRED_KEYS')),
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    logLevel: e.LOG_LEVEL,
    bodyLimit: e.BODY_LIMIT,
    uploadLimit: e.UPLOAD_LIMIT,
    maxInFlight: e.MAX_IN_FLIGHT,
    inFlightQueue: { queue: e.MAX_QUEUED, queueWaitMs: e.MAX_QUEUE_WAIT_MS },
    pressure: { maxEventLoopDelayMs: e.MAX_EVENT_LOOP_DELAY_MS, maxHeapShare: e.MAX_HEAP_SHARE },
    rateLimits: { perPrincipal: e.RATE_LIMIT_PER_MINUTE, anonymousPerAddress: e.RATE_LIMIT_ANON_PER_MINUTE, passcodeFailures: e.PASSCODE_FAILURES_PER_MINUTE },
    purgeIntervalMinutes: e.PURGE_INTERVAL_MINUTES,
    webhooks: { allowPrivate: e.WEBHOOK_ALLOW_PRIVATE === 'true', timeoutMs: e.WEBHOOK_TIMEOUT_MS, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS },
    blobStore:
      e.BLOB_STORE === 's3'
        ? { kind: 's3', endpoint: e.S3_ENDPOINT, forcePathStyle: e.S3_FORCE_PATH_STYLE ?? false, awsRegion: e.AWS_REGION, buckets: parseBuckets(e.S3_BUCKETS) }
        : { kind: 'fs' },
    servedRegions: e.SERVED_REGIONS === undefined ? undefined : parseRegions(e.SERVED_REGIONS),
    webConcurrency,
  }
}

const isRegion = (value: string): boolean => (DATA_REGIONS as readonly string[]).includes(value)
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

const BucketEntry = z.union([
  z.string().regex(BUCKET_NAME, 'a bucket name'),
  z.strictObject({ bucket: z.string().regex(BUCKET_NAME, 'a bucket name'), region: z.string().min(1).optional(), endpoint: z.url().optional() }),
])

/** `{"eu":"rec-eu","sg":{"bucket":"rec-sg","region":"ap-southeast-1"}}`: data region → bucket. */
function parseBuckets(text: string | undefined): Record<string, S3Bucket> {
  const fail = (why: string) => new ConfigError(`Invalid configuration: S3_BUCKETS: ${why}`)
  if (text === undefined) throw fail('required with BLOB_STORE=s3 (JSON: data region → bucket, e.g. {"eu":"rec-eu"})')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw fail('not JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('a JSON object of data region → bucket')
  const buckets: Record<string, S3Bucket> = {}
  for (const [region, value] of Object.entries(json)) {
    if (!isRegion(region)) throw fail(`${JSON.stringify(region)} is not a data region (${DATA_REGIONS.join(', ')})`)
    const entry = BucketEntry.safeParse(value)
    if (!entry.success) throw fail(`${region}: a bucket name, or { "bucket", "region", "endpoint" }`)
    buckets[region] = typeof entry.data === 'string' ? { bucket: entry.data } : entry.data
  }
  return buckets
}

function parseRegions(text: string): string[] {
  const regions = text.split(',').map((region) => region.trim()).filter(Boolean)
  const bad = regions.find((region) => !isRegion(region))
  if (regions.length === 0 || bad !== undefined) {
    throw new ConfigError(`Invalid configuration: SERVED_REGIONS: data regions separated by commas (${DATA_REGIONS.join(', ')}), not ${JSON.stringify(bad ?? text)}`)
  }
  return regions
}

function inferAlgorithm(pem: string): 'RS256' | 'ES256' {
  try {
    return createPublicKey(pem).asymmetricKeyType === 'ec' ? 'ES256' : 'RS256'
  } catch {
    throw new ConfigError('Invalid configuration: JWT_PUBLIC_KEY: not a readable PEM public key')
  }
}

function checkReceiptKey(pem: string, variable: string): string {
  try {
    if (createPrivateKey(pem).asymmetricKeyType === 'ed25519') return pem
  } catch {
    // reported below
  }
  throw new ConfigError(`Invalid configuration: ${variable}: not a readable Ed25519 private key (PEM)`)
}

/** Several PEM blocks in one variable, one after another. */
function splitPem(text: string): string[] {
  return text.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g) ?? [text]
}

function parseTrustProxy(value: string | undefined): TrustProxy {
  if (value === undefined || value === 'false' || value === '0') return false
  if (value === 'true') return true
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean)
  const address = /^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)(?:\/[0-9]{1,3})?$/i
  const bad = entries.find((entry) => !address.test(entry) && !['loopback', 'linklocal', 'uniquelocal'].includes(entry))
  if (entries.length === 0 || bad !== undefined) {
    throw new ConfigError(`Invalid configuration: TRUST_PROXY: true, false, or the proxies' addresses/CIDRs separated by commas (not ${JSON.stringify(bad ?? value)})`)
  }
  return entries
}
