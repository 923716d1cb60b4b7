import http from 'node:http'
import { generateKeyPairSync } from 'node:crypto'
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { postgres } from '../../db/postgres.js'
import { loadConfig } from '../../src/config.js'
import { signToken } from '../../src/lib/jwt-keys.js'
import { buildService, SERVICE_NODE_FLAGS } from '../../src/cli/build.js'
import type { LoadJob, LoadResult } from './load.js'
import type { StormJob, StormResult } from './storm.js'

// `npm run bench [-- --quick]`: measures the hot paths against a ceiling taken in the same run:
// each run of a scenario follows a run of its ceiling, and its ratio is the median of those pairs.
// It makes a fresh PostgreSQL database (on DATABASE_URL's server, or the local one), starts the
// service and the ceiling server as separate processes, seeds through the API, drives load
// with autocannon (and the storm driver) from other processes, prints a table, writes
// test/bench/results/latest.json, and stops and drops everything it made.
// `--workers N`: the service runs as N node:cluster workers on one port (WEB_CONCURRENCY=N),
// each with its own pool; results go to latest-workers-N.json (or latest-quick-workers-N.json).

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const quick = process.argv.includes('--quick')
/** `--only TEXT`: the ceilings and only the scenarios whose name contains TEXT ('sustained', 'join storm' included). */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
const wanted = (name: string) => !only || name.startsWith('ceiling') || name.includes(only)
/** `--profile DIR`: the service writes a V8 CPU profile there when it stops (node --cpu-prof). */
const profileDir = process.argv.includes('--profile') ? path.resolve(process.argv[process.argv.indexOf('--profile') + 1] ?? 'profiles') : undefined
const workers = process.argv.includes('--workers') ? Number(process.argv[process.argv.indexOf('--workers') + 1]) : 1
if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error('--workers takes a whole number from 1 to 64')
const RUN_SECONDS = quick ? 2 : 10
const RUNS = 3
const SUSTAINED_SECONDS = quick ? 10 : 60
const STORM_PARTICIPANTS = quick ? 2_000 : 10_000
const CONNECTIONS = 50
const POOL = 10
const SECRET = 'bench-secret-not-for-production-0123456789abcdef'

const children: ChildProcess[] = []
const config = loadConfig({ JWT_SECRET: SECRET, PGLITE_DIR: 'memory://' })
const token = (sub: string, acc: string, roles: string[]) => signToken(config, { sub, acc, roles }, { expiresInSeconds: 4 * 3600 })
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const log = (line: string) => process.stderr.write(`${line}\n`)

/** A TypeScript file runs under the tsx loader; a built .mjs file runs as it is. */
function spawnTs(file: string, env: Record<string, string>, args: string[] = [], nodeArgs: string[] = []): ChildProcess {
  const loader = file.endsWith('.ts') ? ['--import', 'tsx'] : []
  // The compiled service runs as `npm start` runs it.
  const service = file.endsWith('.mjs') ? SERVICE_NODE_FLAGS : []
  const child = spawn(process.execPath, [...service, ...nodeArgs, ...loader, file, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return child
}

function firstLine(child: ChildProcess, match: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      const found = buffer.split('\n').find((line) => match.test(line))
      if (found) {
        child.stdout!.off('data', onData)
        // The rest goes on to the terminal: an unread pipe would fill and stall the child's writes.
        child.stdout!.pipe(process.stderr)
        resolve(found)
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited with ${code}: ${buffer}`)))
  })
}

async function runJson<T>(file: string, job: unknown): Promise<T> {
  const child = spawnTs(file, {}, [JSON.stringify(job)])
  const line = await firstLine(child, /^\{/)
  await new Promise((resolve) => child.once('exit', resolve))
  return JSON.parse(line) as T
}

async function api(base: string, method: string, url: string, bearer: string, body?: unknown, expect = [200, 201]) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  const parsed = text ? JSON.parse(text) : undefined
  if (!expect.includes(response.status)) throw new Error(`${method} ${url}: ${response.status} ${text}`)
  return parsed
}

/** Runs `times` in parallel batches of at most `width` (seeding without flooding the pool). */
async function inBatches<T>(count: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) {
      const i = next++
      results[i] = await work(i)
    }
  }))
  return results
}

/** The service's peak resident memory: with workers, the primary's and every worker's added up. */
function peakRssMb(pid: number): number {
  const peak = (id: number | string) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${id}/status`, 'utf8'))![1]) / 1024
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
  return peak(pid) + children.reduce((sum, child) => sum + peak(child), 0)
}

/**
 * CPU time spent so far, in milliseconds: the service (with its workers) and every PostgreSQL
 * process on this machine (null when the database runs elsewhere). Taken around a scenario's runs
 * and divided by its requests, it splits a request's cost between the two (the rest of a
 * request's time is waiting: the load generator, the network, locks).
 */
function cpuMs(servicePid: number): { service: number; postgres: number | null } {
  const TICK_MS = 10 // USER_HZ is 100 on Linux
  const ticks = (id: number | string) => {
    try {
      const fields = readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1]!.split(' ')
      return (Number(fields[11]) + Number(fields[12])) * TICK_MS
    } catch {
      return 0 // the process ended between the listing and the read
    }
  }
  const children = readFileSync(`/proc/${servicePid}/task/${servicePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
  let postgres = 0
  let found = false
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let comm = ''
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim()
    } catch {
      continue
    }
    if (comm === 'postgres') {
      found = true
      postgres += ticks(entry)
    }
  }
  return { service: ticks(servicePid) + children.reduce((sum, child) => sum + ticks(child), 0), postgres: found ? postgres : null }
}

/** The machine's busy and idle CPU time so far (all cores), from /proc/stat. */
function machineCpuMs(): { busy: number; idle: number } {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map((f) => Number(f) * 10)
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle! + iowait! }
}

/**
 * How long a withdrawal takes to reach a recorder: from its 201 to its arrival on the meeting's
 * SSE stream and at a webhook receiver on loopback, while a consent POST load runs beside it.
 */
async function eventLatency(base: string, admin: { token: string }, acc: string, host: { token: string }, meetingId: string, people: { id: string; client: { token: string } }[], versionId: string, background: () => Promise<unknown>) {
  const webhookArrivals = new Map<string, number>()
  const receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { recordId?: string } }
      if (body.data.recordId) webhookArrivals.set(body.data.recordId, performance.now())
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`
  await api(base, 'POST', `/v1/accounts/${acc}/webhooks`, admin.token, { url: hookUrl, eventTypes: ['consent.withdrawn'] })
  const streamArrivals = new Map<string, number>()
  const stream = http.get(`${base}/v1/meetings/${meetingId}/events`, { headers: { authorization: `Bearer ${host.token}` } }, (response) => {
    let buffer = ''
    response.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8')
      let split: number
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, split))?.[1]
        buffer = buffer.slice(split + 2)
        // Heartbeats carry {} and the closing message plain text: only events have a record id.
        const recordId = data?.startsWith('{') ? (JSON.parse(data) as { data?: { recordId?: string } }).data?.recordId : undefined
        if (recordId) streamArrivals.set(recordId, performance.now())
      }
    })
  })
  const sent = new Map<string, number>()
  const load = background()
  for (const person of people) {
    const answer = await api(base, 'POST', `/v1/meetings/${meetingId}/consents`, person.client.token, { participantId: person.id, scope: 'recording', decision: 'withdrawn', method: 'click_continue' })
    sent.set(answer.id as string, performance.now())
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const deadline = performance.now() + 10_000
  while ((streamArrivals.size < sent.size || webhookArrivals.size < sent.size) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  await load
  stream.destroy()
  receiver.close()
  const summary = (arrivals: Map<string, number>) => {
    const delays = [...sent].filter(([id]) => arrivals.has(id)).map(([id, at]) => arrivals.get(id)! - at).sort((a, b) => a - b)
    const q = (p: number) => (delays.length ? Math.round(delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]! * 10) / 10 : null)
    return { samples: sent.size, arrived: delays.length, p50: q(0.5), p99: q(0.99), met: delays.length === sent.size && (q(0.99) ?? Infinity) < 1000 }
  }
  return { stream: summary(streamArrivals), webhook: summary(webhookArrivals) }
}

/** Resident memory now and at its peak, in MB (the process alone). */
function residentMb(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1])
  return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
}

/**
 * The newcomer's first impression: `npm start`'s compiled service on the embedded database in a
 * new data folder (its setup runs in a child process), under a load of effective-settings reads
 * at 20 connections, then started again on the same folder.
 */
async function embeddedRss(bundle: string) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'consentry-bench-embedded-'))
  const start = async () => {
    const child = spawnTs(bundle, { DATABASE_URL: '', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_ANON_PER_MINUTE: '0' })
    // The start-up lines end with a try-it line: the demo admin's token and the address.
    const tryLine = await firstLine(child, /Try:\s+curl/)
    const [, token, base] = /Bearer ([^"]+)" (http:\/\/[^/]+)\/v1\/me/.exec(tryLine)!
    // Settle: the first background jobs run right after the listening lines.
    await new Promise((resolve) => setTimeout(resolve, 2000))
    return { child, token: token!, base: base!.replace('localhost', '127.0.0.1'), rss: residentMb(child.pid!) }
  }
  const stop = async (child: ChildProcess) => {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
  try {
    const first = await start()
    await stop(first.child)
    const second = await start()
    const job = { url: `${second.base}/v1/me/settings/effective`, method: 'GET' as const, token: second.token, connections: 20, seconds: quick ? 3 : 10 }
    const underLoad = await runJson<LoadResult>('test/bench/load.ts', job)
    const loaded = residentMb(second.child.pid!)
    await stop(second.child)
    return {
      firstStartMb: first.rss.now,
      firstStartPeakMb: first.rss.peak,
      restartMb: second.rss.now,
      underLoadMb: loaded.now,
      peakMb: loaded.peak,
      loadReqPerSecond: Math.round(underLoad.requestsPerSecond),
      loadFailed: underLoad.non2xx + underLoad.errors,
      met: second.rss.now < 300,
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

interface Scenario {
  name: string
  ceiling: 'select' | 'insert'
  runs: LoadResult[]
  /** The ceiling's run just before each of `runs`: the machine's speed drifts within a bench. */
  ceilingRuns: LoadResult[]
  target?: number
  /** CPU milliseconds per request over the runs: the service's and PostgreSQL's (null: not on this machine). */
  cpuPerRequest?: { serviceMs: number; postgresMs: number | null }
}

/**
 * Starts a second service process on the same database, then repeatedly changes a user's roles
 * through the first and polls the second until it answers the change: the time from the first's
 * answer to the second's. Every change goes through the listener (LISTEN/NOTIFY) of the other.
 */
async function invalidationDelay(env: Record<string, string>, base: string, admin: { token: string }, acc: string, subject: { id: string; token: string }) {
  const second = spawnTs(await buildService(ROOT), env)
  const otherBase = /listening on (http:\/\/[^\s]+)/.exec(await firstLine(second, /listening on/))![1]!
  const users = `/v1/accounts/${acc}/users`
  const status = async (url: string, token: string) => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status
  const adminOf = token(subject.id, acc, ['admin', 'member'])
  const delays: number[] = []
  const samples = quick ? 20 : 100
  for (let i = 0; i < samples; i++) {
    const roles = i % 2 === 0 ? ['admin', 'member'] : ['member']
    const expected = roles.includes('admin') ? 200 : 403
    // The other process has the user in memory before the change.
    await status(`${otherBase}${users}`, adminOf)
    await api(base, 'PATCH', `${users}/${subject.id}`, admin.token, { roles })
    const changedAt = performance.now()
    while ((await status(`${otherBase}${users}`, adminOf)) !== expected) {
      if (performance.now() - changedAt > 5_000) throw new Error('the other process never saw the change')
    }
    delays.push(performance.now() - changedAt)
  }
  await api(base, 'PATCH', `${users}/${subject.id}`, admin.token, { roles: ['member'] })
  second.kill('SIGTERM')
  const sorted = [...delays].sort((a, b) => a - b)
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10
  return { samples, p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1)! * 10) / 10 }
}

async function main() {
  const adminUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
  const dbName = `consentry_bench_${process.pid}`
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${dbName}`)
  const benchUrl = new URL(adminUrl.toString())
  benchUrl.pathname = `/${dbName}`
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'consentry-bench-'))
  try {
    const env = {
      DATABASE_URL: benchUrl.toString(),
      DATABASE_POOL_MAX: String(POOL),
      MIGRATE_ON_START: 'true',
      DEMO_BOOTSTRAP: 'false',
      JWT_SECRET: SECRET,
      // A shared database needs a configured receipt key; the bench makes one per run.
      RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      LOG_LEVEL: 'warn',
      // The bench's load comes from one address and a few principals: per-process limits off.
      RATE_LIMIT_PER_MINUTE: '0',
      RATE_LIMIT_ANON_PER_MINUTE: '0',
      // The bench's webhook receiver listens on loopback.
      WEBHOOK_ALLOW_PRIVATE: 'true',
      DATA_DIR: dataDir,
      PORT: '0',
    }
    const service = spawnTs(await buildService(ROOT), { ...env, WEB_CONCURRENCY: String(workers) }, [], profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])
    const base = /listening on (http:\/\/[^\s]+)/.exec(await firstLine(service, /listening on/))![1]!
    const db = postgres(benchUrl.toString(), { max: 2, onnotice: () => {} })
    await db`create table bench_ceiling (id uuid primary key, participant_id uuid not null, at timestamptz not null)`
    const ceiling = spawnTs('test/bench/ceiling.ts', env)
    const ceilingBase = (JSON.parse(await firstLine(ceiling, /^\{/)) as { address: string }).address
    log(`service ${base} (pid ${service.pid}), ceiling ${ceilingBase}`)
    // Any production server analyzes a table as it grows (autovacuum), and plans follow the
    // statistics; this machine's PostgreSQL runs without autovacuum. The bench does its part after
    // each phase that wrote many rows, so plans are chosen as they would be there.
    const analyze = async (after: string) => {
      await db`analyze`
      log(`analyzed after ${after}`)
    }

    // Seed through the API, as a platform would.
    const platform = token('bench-platform', '00000000-0000-4000-8000-000000000000', ['platform'])
    const account = await api(base, 'POST', '/v1/accounts', platform, { name: 'Bench', dataRegion: 'eu' })
    const acc = account.id as string
    const makeUser = async (roles: string[], n: number) => {
      const user = await api(base, 'POST', `/v1/accounts/${acc}/users`, platform, { email: `u${n}@bench.test`, displayName: `User ${n}`, roles })
      return { id: user.id as string, token: token(user.id, acc, roles) }
    }
    const adminUser = await makeUser(['admin', 'member'], 0)
    const host = await makeUser(['member'], 1)
    const recorder = await makeUser(['recorder'], 2)
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => makeUser(['member'], 10 + i)))
    await api(base, 'PATCH', `/v1/accounts/${acc}/settings`, adminUser.token, { values: { 'recording.cloud.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false } })
    for (const [i, rank] of [[1, 10], [2, 20]] as const) {
      const group = await api(base, 'POST', `/v1/accounts/${acc}/groups`, adminUser.token, { name: `Group ${i}`, rank })
      await api(base, 'PUT', `/v1/accounts/${acc}/groups/${group.id}/members/${host.id}`, adminUser.token, undefined, [200, 201, 204])
      await api(base, 'PATCH', `/v1/accounts/${acc}/groups/${group.id}/settings`, adminUser.token, { values: { 'meeting.join_muted': i === 1 } })
    }
    const notice = await api(base, 'POST', `/v1/accounts/${acc}/notices`, adminUser.token, { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' })
    const versionId = notice.currentVersion.id as string
    const liveMeeting = async () => {
      const meeting = await api(base, 'POST', '/v1/meetings', host.token, { topic: 'Bench', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' })
      await api(base, 'POST', `/v1/meetings/${meeting.id}/start`, host.token)
      return meeting.id as string
    }
    const guests = (meetingId: string, count: number) =>
      inBatches(count, POOL, async (i) => {
        const client = clients[i % clients.length]!
        const joined = await api(base, 'POST', `/v1/meetings/${meetingId}/participants`, client.token, { guest: { displayName: `Guest ${i}` } })
        return { id: joined.participantId as string, client }
      })
    const grant = (meetingId: string, people: { id: string; client: { token: string } }[]) =>
      inBatches(people.length, POOL, (i) =>
        api(base, 'POST', `/v1/meetings/${meetingId}/consents`, people[i]!.client.token, { participantId: people[i]!.id, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' }),
      )
    const allowedMeeting = await liveMeeting()
    await grant(allowedMeeting, await guests(allowedMeeting, 100))
    const refusedMeeting = await liveMeeting()
    const refusedPeople = await guests(refusedMeeting, 100)
    await grant(refusedMeeting, refusedPeople.slice(1))
    const consentMeeting = await liveMeeting()
    const consentPeople = await guests(consentMeeting, 1_000)
    const stormMeeting = await liveMeeting()
    await new Promise((resolve) => setTimeout(resolve, 20))
    const window = { scope: 'recording', startedAt: new Date().toISOString(), endedAt: new Date(Date.now() + 3_600_000).toISOString() }
    const check = await api(base, 'POST', `/v1/meetings/${allowedMeeting}/recording-decisions`, recorder.token, window)
    const refusal = await api(base, 'POST', `/v1/meetings/${refusedMeeting}/recording-decisions`, recorder.token, window)
    if (!check.allowed || refusal.allowed || refusal.violations.length !== 1) throw new Error('seeding: the decisions do not answer as expected')
    log('seeded: 2 groups, 3 meetings of 100, 100 and 1,000 participants')
    await analyze('seeding')

    const load = (job: Omit<LoadJob, 'connections' | 'seconds'> & { seconds?: number }) =>
      runJson<LoadResult>('test/bench/load.ts', { connections: CONNECTIONS, seconds: RUN_SECONDS, ...job })
    const ceilingToken = token(host.id, acc, ['member'])
    const ceilingJobs = {
      select: { url: `${ceilingBase}/select/${acc}/${allowedMeeting}`, method: 'GET' as const, token: ceilingToken },
      insert: { url: `${ceilingBase}/insert`, method: 'POST' as const, token: ceilingToken, bodies: consentPeople.map((p) => ({ participantId: p.id })) },
    }
    for (const job of Object.values(ceilingJobs)) await load({ ...job, seconds: 1 }) // warm-up
    const NOT_RUN: LoadResult = { requestsPerSecond: 0, p50: 0, p99: 0, total: 0, non2xx: 0, errors: 0, perSecond: [] }
    /** Each run of a scenario follows a run of its ceiling, so each ratio compares neighbours. */
    const measure = async (name: string, ceilingKind: 'select' | 'insert', job: Parameters<typeof load>[0], target?: number): Promise<Scenario> => {
      const base = { name, ceiling: ceilingKind, ...(target !== undefined ? { target } : {}) }
      if (!wanted(name)) return { ...base, runs: [NOT_RUN], ceilingRuns: [NOT_RUN] }
      await load({ ...job, seconds: 1 }) // warm-up: JIT, prepared statements, pool
      const runs: LoadResult[] = []
      const ceilingRuns: LoadResult[] = []
      let serviceMs = 0
      let postgresMs: number | null = 0
      for (let i = 0; i < RUNS; i++) {
        ceilingRuns.push(await load(ceilingJobs[ceilingKind]))
        const before = cpuMs(service.pid!)
        runs.push(await load(job))
        const after = cpuMs(service.pid!)
        serviceMs += after.service - before.service
        postgresMs = postgresMs === null || after.postgres === null ? null : postgresMs + after.postgres - (before.postgres ?? 0)
      }
      const requests = runs.reduce((sum, r) => sum + r.total, 0)
      const perRequest = (ms: number) => Math.round((ms / Math.max(1, requests)) * 1000) / 1000
      const cpuPerRequest = { serviceMs: perRequest(serviceMs), postgresMs: postgresMs === null ? null : perRequest(postgresMs) }
      const bad = runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0)
      log(`${name}: ${runs.map((r, i) => `${Math.round(r.requestsPerSecond)} (ceiling ${Math.round(ceilingRuns[i]!.requestsPerSecond)})`).join(', ')} req/s${bad ? ` (${bad} failed)` : ''}; CPU per request: service ${cpuPerRequest.serviceMs} ms, PostgreSQL ${cpuPerRequest.postgresMs ?? '?'} ms`)
      return { ...base, runs, ceilingRuns, cpuPerRequest }
    }

    const decisionBody = (meetingId: string) => ({ url: `${base}/v1/meetings/${meetingId}/recording-decisions`, method: 'POST' as const, token: recorder.token, bodies: [window] })
    const scenarios = [
      await measure('effective settings of a user in two groups', 'select', { url: `${base}/v1/me/settings/effective`, method: 'GET', token: host.token }, 0.6),
      await measure('effective settings of a meeting', 'select', { url: `${base}/v1/meetings/${allowedMeeting}/settings/effective`, method: 'GET', token: host.token }, 0.5),
      await measure('recording decision, 100 participants, all consented', 'select', decisionBody(allowedMeeting), 0.25),
      await measure('recording decision, 100 participants, one refused', 'select', decisionBody(refusedMeeting), 0.25),
      await measure(
        'consent POST with receipt and audit (one participant each)',
        'insert',
        {
          url: `${base}/v1/meetings/${consentMeeting}/consents`,
          method: 'POST',
          token: consentPeople[0]!.client.token,
          bodies: consentPeople
            .filter((p) => p.client === consentPeople[0]!.client)
            .map((p) => ({ participantId: p.id, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' })),
          idempotencyKeys: true,
        },
        0.45,
      ),
    ]

    // A change through one process, read through another: how long until the other answers it.
    await analyze('the scenarios')
    log('event delivery: withdrawal to stream and webhook, beside a consent load')
    const eventsMeeting = await liveMeeting()
    const eventPeople = await guests(eventsMeeting, quick ? 20 : 100)
    await grant(eventsMeeting, eventPeople)
    const delivery = !wanted('event delivery')
      ? null
      : await eventLatency(base, adminUser, acc, host, eventsMeeting, eventPeople, versionId, () =>
          load({
            url: `${base}/v1/meetings/${consentMeeting}/consents`,
            method: 'POST',
            token: consentPeople[1]!.client.token,
            bodies: consentPeople
              .filter((p) => p.client === consentPeople[1]!.client)
              .map((p) => ({ participantId: p.id, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' })),
            idempotencyKeys: true,
            seconds: quick ? 3 : 8,
          }),
        )

    log('invalidation delay across two processes')
    const invalidation = !wanted('invalidation') ? null : await invalidationDelay(env, base, adminUser, acc, host)

    await analyze('event delivery')
    log(`sustained: ${SUSTAINED_SECONDS} s of recording decisions`)
    const sustained = !wanted('sustained decisions') ? { perSecond: [] as number[] } : await load({ ...decisionBody(allowedMeeting), seconds: SUSTAINED_SECONDS })
    const slices: number[] = []
    for (let i = 0; i + 10 <= sustained.perSecond.length; i += 10) slices.push(sustained.perSecond.slice(i, i + 10).reduce((a, b) => a + b, 0) / 10)

    log(`join storm: ${STORM_PARTICIPANTS} participants at 500 connections`)
    // The storm's ceiling is measured just before it: the machine's speed drifts within a bench.
    const stormCeiling = !wanted('join storm') ? NOT_RUN : await load(ceilingJobs.insert)
    const stormCpuBefore = { ...cpuMs(service.pid!), machine: machineCpuMs() }
    const storm: StormResult = !wanted('join storm')
      ? { seconds: 1, participantsPerSecond: 0, acksPerSecond: 0, p50: 0, p99: 0, acked: 0, replayed: 0, shed: 0, failures: 0, failureReasons: {} }
      : await runJson<StormResult>('test/bench/storm.ts', {
          base,
          meetingId: stormMeeting,
          noticeVersionId: versionId,
          tokens: clients.map((c) => c.token),
          participants: STORM_PARTICIPANTS,
          connections: 500,
        } satisfies StormJob)
    const stormCpuAfter = { ...cpuMs(service.pid!), machine: machineCpuMs() }
    // Per participant (a join and a consent POST): the service's and PostgreSQL's CPU, the rest of
    // the machine's (the storm's own client, the system), and the cores' idle time.
    const perParticipant = (ms: number) => Math.round((ms / STORM_PARTICIPANTS) * 1000) / 1000
    const stormServiceMs = stormCpuAfter.service - stormCpuBefore.service
    const stormPostgresMs = stormCpuAfter.postgres === null || stormCpuBefore.postgres === null ? null : stormCpuAfter.postgres - stormCpuBefore.postgres
    const stormCpu = {
      serviceMs: perParticipant(stormServiceMs),
      postgresMs: stormPostgresMs === null ? null : perParticipant(stormPostgresMs),
      otherMs: perParticipant(stormCpuAfter.machine.busy - stormCpuBefore.machine.busy - stormServiceMs - (stormPostgresMs ?? 0)),
      idleMs: perParticipant(stormCpuAfter.machine.idle - stormCpuBefore.machine.idle),
    }
    const [counts] = await db`select count(*)::int as records, count(distinct participant_id)::int as participants,
      (select count(*)::int from participants where account_id = ${acc} and meeting_id = ${stormMeeting}) as joined
      from consent_records where account_id = ${acc} and meeting_id = ${stormMeeting}`
    const rssMb = peakRssMb(service.pid!)
    log('embedded database: first start, restart, load')
    const embedded = !wanted('embedded') ? null : await embeddedRss(await buildService(ROOT, 'consentry-bench-embedded'))

    // The report.
    const pgVersion = (await db`show server_version`)[0]!.server_version as string
    const commit = (() => {
      try {
        return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
      } catch {
        return 'unknown'
      }
    })()
    const rpsOf = (runs: LoadResult[]) => runs.map((r) => r.requestsPerSecond)
    const ceilingRow = (kind: 'select' | 'insert', name: string) => {
      const runs = scenarios.filter((s) => s.ceiling === kind && s.runs[0] !== NOT_RUN).flatMap((s) => s.ceilingRuns)
      return {
        scenario: name,
        reqPerSecond: runs.length ? Math.round(median(rpsOf(runs))) : 0,
        p50Ms: runs.length ? median(runs.map((r) => r.p50)) : 0,
        p99Ms: runs.length ? median(runs.map((r) => r.p99)) : 0,
        ratio: 1,
        of: kind,
        target: null,
        met: null,
        runs: rpsOf(runs).map(Math.round),
        failed: runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
      }
    }
    const row = (s: Scenario) => {
      const rps = median(rpsOf(s.runs))
      // The median of the paired ratios, not a ratio of medians taken minutes apart.
      const ratio = s.runs[0] === NOT_RUN ? 0 : median(s.runs.map((r, i) => r.requestsPerSecond / s.ceilingRuns[i]!.requestsPerSecond))
      return {
        scenario: s.name,
        reqPerSecond: Math.round(rps),
        p50Ms: median(s.runs.map((r) => r.p50)),
        p99Ms: median(s.runs.map((r) => r.p99)),
        ratio: Math.round(ratio * 100) / 100,
        of: s.ceiling,
        ceilingReqPerSecond: Math.round(median(rpsOf(s.ceilingRuns))),
        target: s.target ?? null,
        met: s.target === undefined ? null : ratio >= s.target,
        cpuPerRequest: s.cpuPerRequest ?? null,
        runs: rpsOf(s.runs).map(Math.round),
        failed: s.runs.reduce((sum, r) => sum + r.non2xx + r.errors, 0),
      }
    }
    const table = [
      ceilingRow('select', 'ceiling: JWT + one prepared SELECT by key (raw postgres.js)'),
      ceilingRow('insert', 'ceiling: JWT + one INSERT (raw postgres.js)'),
      ...scenarios.map(row),
    ]
    const ratioToInsertCeiling = stormCeiling.requestsPerSecond ? Math.round((storm.acksPerSecond / stormCeiling.requestsPerSecond) * 100) / 100 : 0
    const stormRow = {
      participants: STORM_PARTICIPANTS,
      insertCeilingReqPerSecond: Math.round(stormCeiling.requestsPerSecond),
      ratioToInsertCeiling,
      seconds: Math.round(storm.seconds * 10) / 10,
      acksPerSecond: Math.round(storm.acksPerSecond),
      participantsPerSecond: Math.round(storm.participantsPerSecond),
      p50Ms: storm.p50,
      p99Ms: storm.p99,
      consentRecords: counts!.records as number,
      distinctParticipants: counts!.participants as number,
      joined: counts!.joined as number,
      lost: STORM_PARTICIPANTS - (counts!.participants as number),
      duplicates: (counts!.records as number) - (counts!.participants as number),
      replayedRetries: storm.replayed,
      shedAndRetried: storm.shed,
      failures: storm.failures,
      failureReasons: storm.failureReasons,
      cpuPerParticipant: stormCpu,
      target: { ratioToInsertCeiling: 0.3, p99OverP50: 3 },
      met: ratioToInsertCeiling >= 0.3 && storm.p99 <= 3 * storm.p50 && counts!.records === STORM_PARTICIPANTS && counts!.participants === STORM_PARTICIPANTS,
    }
    const sustainedRow = {
      seconds: SUSTAINED_SECONDS,
      slicesReqPerSecond: slices.map(Math.round),
      lowestSliceOfFirst: slices.length ? Math.round((Math.min(...slices) / slices[0]!) * 100) / 100 : null,
      met: slices.length > 0 && Math.min(...slices) >= 0.8 * slices[0]!,
    }
    const results = {
      takenAt: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      commit,
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30) },
      node: process.version,
      postgres: pgVersion,
      settings: { connections: CONNECTIONS, pool: POOL, workers, runSeconds: RUN_SECONDS, runs: RUNS },
      table,
      sustained: sustainedRow,
      storm: stormRow,
      invalidationDelayMs: invalidation,
      eventDeliveryMs: delivery,
      peakRssMb: Math.round(rssMb),
      peakRssMet: rssMb < 200,
      embeddedRssMb: embedded,
    }
    const resultsDir = path.join(ROOT, 'test', 'bench', 'results')
    mkdirSync(resultsDir, { recursive: true })
    const named = `latest${quick || only ? '-quick' : ''}${workers > 1 ? `-workers-${workers}` : ''}.json`
    writeFileSync(path.join(resultsDir, named), `${JSON.stringify(results, null, 2)}\n`)

    const pad = (value: unknown, width: number) => String(value).padEnd(width)
    console.log(`\nConsentry bench, ${results.takenAt} (${results.mode}${workers > 1 ? `, ${workers} workers` : ''}), commit ${commit}, node ${process.version}, PostgreSQL ${pgVersion}, ${results.machine.cpus} cores`)
    console.log(`${pad('scenario', 62)}${pad('req/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('ceiling', 9)}${pad('ratio', 15)}${pad('target', 14)}CPU ms/req (service, PostgreSQL)`)
    for (const r of table) {
      const ceiling = 'ceilingReqPerSecond' in r ? r.ceilingReqPerSecond : ''
      const cpu = 'cpuPerRequest' in r && r.cpuPerRequest ? `${r.cpuPerRequest.serviceMs}, ${r.cpuPerRequest.postgresMs ?? '?'}` : ''
      console.log(`${pad(r.scenario, 62)}${pad(r.reqPerSecond, 8)}${pad(r.p50Ms, 8)}${pad(r.p99Ms, 8)}${pad(ceiling, 9)}${pad(`${r.ratio} of ${r.of}`, 15)}${pad(r.target === null ? '' : `>= ${r.target} ${r.met ? 'met' : 'MISSED'}`, 16)}${cpu}`)
    }
    console.log(`sustained decisions, req/s per 10 s: ${sustainedRow.slicesReqPerSecond.join(', ')} (lowest ${sustainedRow.lowestSliceOfFirst} of the first; target >= 0.8 ${sustainedRow.met ? 'met' : 'MISSED'})`)
    console.log(
      `join storm: ${stormRow.participants} participants in ${stormRow.seconds} s: ${stormRow.acksPerSecond} acks/s (${ratioToInsertCeiling} of the INSERT ceiling's ${stormRow.insertCeilingReqPerSecond} req/s), p50 ${stormRow.p50Ms} ms, p99 ${stormRow.p99Ms} ms; ` +
        `${stormRow.consentRecords} records, ${stormRow.lost} lost, ${stormRow.duplicates} duplicates, ${stormRow.replayedRetries} retries replayed, ${stormRow.shedAndRetried} answers shed (503) and retried` +
        `${stormRow.failures ? `, ${stormRow.failures} failed (${Object.entries(stormRow.failureReasons).map(([reason, n]) => `${n} × ${reason}`).join('; ')})` : ''} (target >= 0.3 of the INSERT ceiling, p99 <= 3 × p50: ${stormRow.met ? 'met' : 'MISSED'})`,
    )
    console.log(
      `join storm, CPU ms per participant (a join and a consent): service ${stormCpu.serviceMs}, PostgreSQL ${stormCpu.postgresMs ?? '?'}, the rest (the storm's client, the system) ${stormCpu.otherMs}, idle ${stormCpu.idleMs}`,
    )
    if (invalidation) console.log(`invalidation across two processes: p50 ${invalidation.p50} ms, p99 ${invalidation.p99} ms, max ${invalidation.max} ms over ${invalidation.samples} changes (a demotion through one, read through the other)`)
    if (delivery) {
      for (const [what, d] of [['SSE stream', delivery.stream], ['webhook receiver', delivery.webhook]] as const) {
        console.log(`withdrawal to ${what}: p50 ${d.p50} ms, p99 ${d.p99} ms, ${d.arrived} of ${d.samples} arrived, beside a consent POST load (target p99 < 1000 ms: ${d.met ? 'met' : 'MISSED'})`)
      }
    }
    if (embedded) {
      console.log(
        `embedded database (npm start's compiled service): RSS ${embedded.firstStartMb} MB after a first start (peak ${embedded.firstStartPeakMb} MB), ${embedded.restartMb} MB after a restart, ` +
          `${embedded.underLoadMb} MB after ${quick ? 3 : 10} s of effective settings at 20 connections (${embedded.loadReqPerSecond} req/s${embedded.loadFailed ? `, ${embedded.loadFailed} failed` : ''}; peak ${embedded.peakMb} MB) (target < 300 MB after a restart: ${embedded.met ? 'met' : 'MISSED'})`,
      )
    }
    console.log(`peak RSS of the service${workers > 1 ? ` (${workers} workers and their primary, added up)` : ''}: ${results.peakRssMb} MB (target < 200 MB: ${results.peakRssMet ? 'met' : 'MISSED'})`)
    await db.end()
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 500))
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    if (process.argv.includes('--keep')) log(`kept database ${dbName}`)
    else await admin.unsafe(`drop database if exists ${dbName} with (force)`)
    await admin.end()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
