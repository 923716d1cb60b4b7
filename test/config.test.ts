import { spawnSync } from 'node:child_process'
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createVerifier } from 'fast-jwt'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { resolveVerificationKey } from '../src/lib/jwt-keys.js'
import { resolveReceiptKeys } from '../src/lib/receipt-key.js'

// tap instruments child processes for coverage; these children run the sources through tsx
// (esbuild), whose line mapping differs from the test loader's, and merging both skews the
// report. Excluding every file in the children keeps coverage to the in-process runs.
process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./'

const tsx = (script: string, args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  })

t.test('defaults: embedded database in the data folder, migrated at start', async (t) => {
  const config = loadConfig({})
  t.equal(config.database.kind, 'pglite')
  t.equal(config.migrateOnStart, true)
  t.equal(config.demoBootstrap, true)
  t.equal(config.port, 3000)
  t.equal(config.jwt.algorithm, 'HS256')
})

const RECEIPT_PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
const SERVED = { DATABASE_URL: 'postgres://u@localhost/db', JWT_SECRET: 'a-secret-of-at-least-thirty-two-characters', RECEIPT_SIGNING_KEY: RECEIPT_PEM }

t.test('DATABASE_URL selects PostgreSQL and the deploy step migrates', async (t) => {
  const config = loadConfig(SERVED)
  t.same(config.database, { kind: 'postgres', url: 'postgres://u@localhost/db', poolMax: 10 })
  t.equal(config.migrateOnStart, false)
  t.equal(config.demoBootstrap, false)
  t.equal(loadConfig({ ...SERVED, MIGRATE_ON_START: 'true' }).migrateOnStart, true)
})

t.test('with a shared database, keys are configured, never generated: one line names the missing one', async (t) => {
  const { JWT_SECRET: _secret, ...noSecret } = SERVED
  t.throws(() => loadConfig(noSecret), { name: 'ConfigError', message: /^Invalid configuration: JWT_SECRET: required with DATABASE_URL/ })
  const { RECEIPT_SIGNING_KEY: _key, ...noReceiptKey } = SERVED
  t.throws(() => loadConfig(noReceiptKey), { name: 'ConfigError', message: /^Invalid configuration: RECEIPT_SIGNING_KEY: required with DATABASE_URL/ })
  t.equal(loadConfig({ DATABASE_URL: SERVED.DATABASE_URL }, { requireKeys: false }).database.kind, 'postgres', 'tools that sign nothing (the migration CLI) need none')
  const publicPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string
  t.throws(() => loadConfig({ JWT_PUBLIC_KEY: publicPem, JWT_AUDIENCE: 'consentry' }), { message: /^Invalid configuration: JWT_ISSUER: required with JWT_PUBLIC_KEY/ })
  t.throws(() => loadConfig({ JWT_PUBLIC_KEY: publicPem, JWT_ISSUER: 'https://idp' }), { message: /^Invalid configuration: JWT_AUDIENCE: required with JWT_PUBLIC_KEY/ })
  const { JWT_SECRET: _s, ...withPublicKey } = { ...SERVED, JWT_PUBLIC_KEY: publicPem, JWT_ISSUER: 'https://idp', JWT_AUDIENCE: 'consentry' }
  t.equal(loadConfig(withPublicKey).jwt.algorithm, 'ES256', 'a public key with issuer and audience serves PostgreSQL')
  t.equal(loadConfig({}).jwt.maxAgeSeconds, 86400)
  t.throws(() => loadConfig({ JWT_MAX_AGE_SECONDS: '10' }), { message: /^Invalid configuration: JWT_MAX_AGE_SECONDS: / })
})

t.test('npm start with DATABASE_URL and no JWT_SECRET stops with one line naming it', async (t) => {
  const result = tsx('src/server.ts', [], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'consentry-cfg-')) })
  t.equal(result.status, 1)
  t.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
  t.match(result.stderr, /^Invalid configuration: JWT_SECRET: required with DATABASE_URL/)
})

t.test('TRUST_PROXY: off by default, true, or the proxies\' addresses', async (t) => {
  t.equal(loadConfig({}).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.10' }).trustProxy, ['10.0.0.0/8', '192.168.1.10'])
  t.throws(() => loadConfig({ TRUST_PROXY: 'the balancer' }), { message: /^Invalid configuration: TRUST_PROXY: / })
})

t.test('retired receipt keys are published beside the current one', async (t) => {
  const retired = [generateKeyPairSync('ed25519'), generateKeyPairSync('ed25519')].map((pair) => pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
  const keys = resolveReceiptKeys(loadConfig({ RECEIPT_SIGNING_KEY: RECEIPT_PEM, RECEIPT_RETIRED_KEYS: retired.join('\n') }))
  t.equal(keys.jwks.length, 3)
  t.equal(keys.jwks[0]!.kid, keys.current.kid, 'the current key first')
  t.equal(keys.byKid.size, 3)
  t.throws(() => loadConfig({ RECEIPT_RETIRED_KEYS: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----' }), { message: /^Invalid configuration: RECEIPT_RETIRED_KEYS: / })
})

t.test('a bad value names its variable', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'abc' }, /^Invalid configuration: PORT: /],
    [{ PORT: '70000' }, /^Invalid configuration: PORT: /],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid configuration: DATABASE_URL: /],
    [{ JWT_SECRET: 'short' }, /^Invalid configuration: JWT_SECRET: /],
    [{ JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----' }, /^Invalid configuration: JWT_PUBLIC_KEY: /],
    [{ JWT_ALGORITHM: 'RS256' }, /^Invalid configuration: JWT_PUBLIC_KEY: required/],
    [{ JWT_ALGORITHM: 'none' }, /^Invalid configuration: JWT_ALGORITHM: /],
    [{ LOG_LEVEL: 'loud' }, /^Invalid configuration: LOG_LEVEL: /],
    [{ JOIN_URL_BASE: 'not a url' }, /^Invalid configuration: JOIN_URL_BASE: /],
    [{ BODY_LIMIT: '-1' }, /^Invalid configuration: BODY_LIMIT: /],
    [{ MIGRATE_ON_START: 'maybe' }, /^Invalid configuration: MIGRATE_ON_START: /],
    [{ RECEIPT_SIGNING_KEY: 'not a key' }, /^Invalid configuration: RECEIPT_SIGNING_KEY: /],
    [{ RECEIPT_SIGNING_KEY: '-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----' }, /^Invalid configuration: RECEIPT_SIGNING_KEY: not a readable Ed25519/],
    [{ RECEIPT_SIGNING_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }, /Ed25519/],
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('receipts are signed with RECEIPT_SIGNING_KEY when set, else with a key generated into the data folder once', async (t) => {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const configured = resolveReceiptKeys(loadConfig({ RECEIPT_SIGNING_KEY: pem, DATA_DIR: mkdtempSync(path.join(tmpdir(), 'consentry-rk-')) })).current
  t.equal(configured.publicJwk.x, (createPublicKey(pem).export({ format: 'jwk' }) as { x: string }).x, 'the configured key')
  const dataDir = mkdtempSync(path.join(tmpdir(), 'consentry-rk-'))
  const first = resolveReceiptKeys(loadConfig({ DATA_DIR: dataDir })).current
  const second = resolveReceiptKeys(loadConfig({ DATA_DIR: dataDir })).current
  t.equal(first.kid, second.kid, 'the generated key is reused')
  t.not(first.kid, configured.kid)
  t.equal(statSync(path.join(dataDir, 'receipt-signing-key.pem')).mode & 0o777, 0o600, 'readable by its owner only')
})

t.test('the server stops with one line and exit code 1 on a bad value', async (t) => {
  const result = tsx('src/server.ts', [], { PORT: 'not-a-port', DATA_DIR: mkdtempSync(path.join(tmpdir(), 'consentry-cfg-')) })
  t.equal(result.status, 1)
  const lines = result.stderr.trim().split('\n')
  t.equal(lines.length, 1, result.stderr)
  t.match(lines[0], /^Invalid configuration: PORT: /)
})

t.test('without JWT_SECRET a secret is generated into the data folder once and reused', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'consentry-key-'))
  const config = loadConfig({ DATA_DIR: dataDir })
  const first = resolveVerificationKey(config)
  const second = resolveVerificationKey(config)
  t.same(first, second)
  const file = path.join(dataDir, 'jwt-secret')
  t.equal(readFileSync(file, 'utf8').trim(), (first as { secret: string }).secret)
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only')
})

t.test('npm run token prints a token signed with the configured key', async (t) => {
  const secret = 'token-cli-secret-0123456789-0123456789-abcdef'
  const acc = '01a2053f-42b2-7fe1-a32b-35a84704cd76'
  const result = tsx('src/cli/token.ts', ['--sub', 'u1', '--acc', acc, '--roles', 'admin,member', '--ttl', '120'], {
    JWT_SECRET: secret,
  })
  t.equal(result.status, 0, result.stderr)
  const claims = createVerifier({ key: secret, algorithms: ['HS256'] })(result.stdout.trim())
  t.match(claims, { sub: 'u1', acc, roles: ['admin', 'member'] })
  t.ok(claims.exp - claims.iat <= 120)

  const bad = tsx('src/cli/token.ts', ['--sub', 'u1', '--acc', acc, '--roles', 'root'], { JWT_SECRET: secret })
  t.equal(bad.status, 1)
  t.match(bad.stderr, /--roles/)
})

t.test('npm run token -- --help explains itself; an unknown flag prints the usage and fails', async (t) => {
  for (const flag of ['--help', '-h']) {
    const help = tsx('src/cli/token.ts', [flag], {})
    t.equal(help.status, 0, `${flag} exits 0`)
    t.match(help.stdout, /^Usage: npm run token -- --sub <id> --acc <accountId> --roles <roles>/, `${flag} prints the usage`)
    t.match(help.stdout, /--ttl <seconds>/)
    t.equal(help.stderr, '')
  }
  const unknown = tsx('src/cli/token.ts', ['--user', 'u1'], {})
  t.equal(unknown.status, 1)
  t.match(unknown.stderr, /Unknown option '--user'/)
  t.match(unknown.stderr, /Usage: npm run token/)
  t.equal(unknown.stdout, '', 'no token')
})

t.test('BLOB_STORE=s3: S3_BUCKETS maps data regions to buckets (a name, or one with its own region or endpoint); a bad map names the variable', async (t) => {
  t.same(loadConfig({}).blobStore, { kind: 'fs' }, 'the filesystem by default')
  const config = loadConfig({
    BLOB_STORE: 's3',
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'eu-central-1',
    S3_BUCKETS: '{"eu":"rec-eu","sg":{"bucket":"rec-sg","region":"ap-southeast-1","endpoint":"https://s3.example.test"}}',
  })
  t.same(config.blobStore, {
    kind: 's3',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    awsRegion: 'eu-central-1',
    buckets: { eu: { bucket: 'rec-eu' }, sg: { bucket: 'rec-sg', region: 'ap-southeast-1', endpoint: 'https://s3.example.test' } },
  })
  for (const [buckets, message] of [
    [undefined, /^Invalid configuration: S3_BUCKETS: required with BLOB_STORE=s3/],
    ['{eu:', /^Invalid configuration: S3_BUCKETS: not JSON/],
    ['["rec-eu"]', /^Invalid configuration: S3_BUCKETS: a JSON object/],
    ['{"mars":"rec-mars"}', /^Invalid configuration: S3_BUCKETS: "mars" is not a data region/],
    ['{"eu":"Not_A_Bucket"}', /^Invalid configuration: S3_BUCKETS: eu: a bucket name/],
    ['{"eu":{"bucket":"rec-eu","acl":"public"}}', /^Invalid configuration: S3_BUCKETS: eu: /],
  ] as const) {
    t.throws(() => loadConfig({ BLOB_STORE: 's3', ...(buckets === undefined ? {} : { S3_BUCKETS: buckets }) }), { name: 'ConfigError', message }, String(buckets))
  }
  t.throws(() => loadConfig({ BLOB_STORE: 'nfs' }), { message: /^Invalid configuration: BLOB_STORE: / })
  t.throws(() => loadConfig({ BLOB_STORE: 's3', S3_BUCKETS: '{}', S3_ENDPOINT: 'not a url' }), { message: /^Invalid configuration: S3_ENDPOINT: / })
})

t.test('SERVED_REGIONS: a comma list of data regions (unset: all); WEB_CONCURRENCY: more than one worker needs PostgreSQL', async (t) => {
  t.equal(loadConfig({}).servedRegions, undefined)
  t.same(loadConfig({ SERVED_REGIONS: 'eu, uk' }).servedRegions, ['eu', 'uk'])
  t.throws(() => loadConfig({ SERVED_REGIONS: 'eu,mars' }), { message: /^Invalid configuration: SERVED_REGIONS: .*"mars"/ })
  t.throws(() => loadConfig({ SERVED_REGIONS: ' , ' }), { message: /^Invalid configuration: SERVED_REGIONS: / })
  t.equal(loadConfig({}).webConcurrency, 1)
  t.equal(loadConfig({ ...SERVED, WEB_CONCURRENCY: '4' }).webConcurrency, 4)
  t.throws(() => loadConfig({ WEB_CONCURRENCY: '2' }), { message: /^Invalid configuration: WEB_CONCURRENCY: more than one worker needs DATABASE_URL/ })
  t.throws(() => loadConfig({ ...SERVED, WEB_CONCURRENCY: '0' }), { message: /^Invalid configuration: WEB_CONCURRENCY: / })
})

t.test("npm start runs the compiled service with the heap bounds the bench measured (src/cli/build.ts's SERVICE_NODE_FLAGS)", async (t) => {
  const { SERVICE_NODE_FLAGS } = await import('../src/cli/build.js')
  const scripts = (JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
  t.match(scripts.start, `node ${SERVICE_NODE_FLAGS.join(' ')} node_modules/.cache/consentry/server.mjs`)
  t.ok(SERVICE_NODE_FLAGS.some((flag) => flag.startsWith('--max-old-space-size=')), 'the old space is capped')
})
