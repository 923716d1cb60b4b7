import { AsyncLocalStorage } from 'node:async_hooks'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { type Database, openDatabase } from '../../db/client.js'
import { buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import type { Clock } from '../../src/lib/clock.js'
import { signToken } from '../../src/lib/jwt-keys.js'
import { checkResponse } from './openapi.js'

// Tests build the app through its factory and talk to it with inject(). One database per test
// process (PostgreSQL when DATABASE_URL is set, else an in-memory PGlite), shared by every app
// of the file; each test makes its own account, so files run in parallel without truncating.

export const TEST_SECRET = 'test-secret-for-consentry-tests-only-0123456789'

let dataDir: string | undefined
/** One receipt key per test process, configured as a deployment on PostgreSQL must. */
export const TEST_RECEIPT_KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string

export function testConfig(overrides: Record<string, string> = {}): Config {
  dataDir ??= mkdtempSync(path.join(tmpdir(), 'consentry-test-'))
  return loadConfig({
    JWT_SECRET: TEST_SECRET,
    RECEIPT_SIGNING_KEY: TEST_RECEIPT_KEY,
    DATA_DIR: dataDir,
    PGLITE_DIR: 'memory://',
    LOG_LEVEL: 'silent',
    // A loaded test machine lags its event loop by seconds now and then: shedding on lag has a
    // test of its own (test/plugins/rate-limits.test.ts) and is off elsewhere.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // The purge runs across accounts: a test process must not start it on the shared database
    // (test/modules/retention.test.ts runs it, limited to its own accounts).
    PURGE_INTERVAL_MINUTES: '0',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL, DATABASE_POOL_MAX: '4' } : {}),
    ...overrides,
  })
}

let shared: Promise<Database> | undefined
let queryListener: ((query: string) => void) | undefined
const counting = new AsyncLocalStorage<string[]>()

/** The process's database. Migrations ran once in test/setup.ts on PostgreSQL; PGlite migrates here. */
export function testDatabase(): Promise<Database> {
  shared ??= (async () => {
    const database = await openDatabase(testConfig().database, { onQuery: (query) => queryListener?.(query) })
    if (database.kind === 'pglite') await database.migrate()
    t.teardown(() => database.close())
    return database
  })()
  return shared
}

/** Counts the SQL statements sent while `work` runs (round trips, for the effective-read rules). */
export async function countQueries<T>(work: () => Promise<T>): Promise<{ result: T; queries: string[] }> {
  const queries: string[] = []
  // Only what `work` sent, followed through its async context: the audit chainer's sweep and the
  // server clock's sync run on timers of their own and may fall inside the window (a count that
  // caught one failed now and then on a busy machine).
  const listener = (query: string) => {
    if (counting.getStore() === queries && !query.startsWith('select clock_timestamp() as now')) queries.push(query)
  }
  queryListener = listener
  try {
    return { result: await counting.run(queries, work), queries }
  } finally {
    if (queryListener === listener) queryListener = undefined
  }
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  request: (options: RequestOptions) => Promise<TestResponse>
}

export interface RequestOptions {
  method: InjectOptions['method']
  url: string
  token?: string
  body?: unknown
  headers?: Record<string, string>
  /** A raw payload sent as is (for malformed or oversized bodies). */
  payload?: string | Buffer
  /** The socket's address (default 127.0.0.1). */
  remoteAddress?: string
}

export interface TestResponse {
  status: number
  headers: Record<string, unknown>
  body: any
}

/** The body of an answer that must have `status`; anything else throws, naming `what` (setup steps). */
export async function must(res: Promise<Pick<TestResponse, 'status' | 'body'>>, status: number, what: string): Promise<any> {
  const done = await res
  if (done.status !== status) throw new Error(`${what}: ${done.status} ${JSON.stringify(done.body)}`)
  return done.body
}

export async function buildTestApp(
  tap: Test,
  options: { clock?: Clock; env?: Record<string, string> } = {},
): Promise<TestApp> {
  const config = testConfig(options.env)
  const database = await testDatabase()
  const app = await buildApp({ config, database, logger: false, ...(options.clock ? { clock: options.clock } : {}) })
  tap.teardown(() => app.close())
  await app.ready()

  async function request(opts: RequestOptions): Promise<TestResponse> {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    const payload = opts.payload ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body))
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json'
    const response = await app.inject({
      method: opts.method,
      url: opts.url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
      ...(opts.remoteAddress ? { remoteAddress: opts.remoteAddress } : {}),
    })
    const contentType = response.headers['content-type'] as string | undefined
    const body = response.body === '' ? undefined : /json/.test(contentType ?? '') ? response.json() : response.body
    const problems = checkResponse({ method: String(opts.method), url: opts.url, status: response.statusCode, contentType, body })
    if (problems.length > 0) throw new Error(`response does not match openapi/openapi.json:\n${problems.join('\n')}`)
    return { status: response.statusCode, headers: response.headers, body }
  }

  return { app, config, request }
}

export function tokenFor(config: Config, claims: { sub: string; acc: string; roles: string[] }, expiresInSeconds = 600) {
  return signToken(config, claims, { expiresInSeconds })
}

export const PLATFORM_ACCOUNT = '00000000-0000-4000-8000-000000000000'

export interface Tenant {
  accountId: string
  adminId: string
  admin: string
  /** Creates a user with the given roles and returns its id and token. */
  user: (roles?: ('admin' | 'member' | 'recorder')[], extra?: Record<string, unknown>) => Promise<{ id: string; token: string }>
}

/** A fresh account with an admin, made through the API as the platform would. */
export async function createTenant(api: TestApp, input: Record<string, unknown> = {}): Promise<Tenant> {
  const platform = platformToken(api.config)
  const account = await api.request({
    method: 'POST',
    url: '/v1/accounts',
    token: platform,
    body: { name: `Tenant ${Math.random().toString(36).slice(2)}`, dataRegion: 'eu', ...input },
  })
  if (account.status !== 201) throw new Error(`tenant: ${JSON.stringify(account.body)}`)
  const accountId = account.body.id as string
  let n = 0
  const user = async (roles: ('admin' | 'member' | 'recorder')[] = ['member'], extra: Record<string, unknown> = {}) => {
    const created = await api.request({
      method: 'POST',
      url: `/v1/accounts/${accountId}/users`,
      token: platform,
      body: { email: `user${n++}.${Math.random().toString(36).slice(2)}@example.test`, displayName: 'Test User', roles, ...extra },
    })
    if (created.status !== 201) throw new Error(`user: ${JSON.stringify(created.body)}`)
    return { id: created.body.id as string, token: tokenFor(api.config, { sub: created.body.id, acc: accountId, roles }) }
  }
  const admin = await user(['admin', 'member'])
  return { accountId, adminId: admin.id, admin: admin.token, user }
}

export function platformToken(config: Config) {
  return tokenFor(config, { sub: 'platform-operator', acc: PLATFORM_ACCOUNT, roles: ['platform'] })
}
