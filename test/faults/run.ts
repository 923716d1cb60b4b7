import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { postgres } from '../../db/postgres.js'
import { loadConfig } from '../../src/config.js'
import { signToken } from '../../src/lib/jwt-keys.js'
import { buildService, SERVICE_NODE_FLAGS } from '../../src/cli/build.js'

// `npm run faults` (PostgreSQL only; .ci/run runs it after `npm test`, never inside it, since it
// restarts the shared server): the faults a deployment meets, survived. Each phase runs against
// the service built as a deployment runs it, on a fresh database:
//   1. every service connection is terminated during a consent load;
//   2. PostgreSQL is restarted in immediate mode during a consent load;
//   3. the service is killed (SIGKILL) during a join storm, then started again;
//   4. a recording upload is cut mid-stream.
// Answers during an outage must be 503 problem+json with Retry-After (never 500), /ready must go
// 503 and come back, the process must live, and afterwards every acknowledged write must be in
// the database; a cut upload leaves no file and no row. It prints a table and exits 1 on any miss.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const SECRET = 'faults-secret-not-for-production-0123456789abcdef'
const config = loadConfig({ JWT_SECRET: SECRET, PGLITE_DIR: 'memory://' })
const token = (sub: string, acc: string, roles: string[]) => signToken(config, { sub, acc, roles }, { expiresInSeconds: 3600 })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Answer {
  status: number
  body: any
  headers: http.IncomingHttpHeaders
}

/** One request; a network failure (the service gone) is status 0. */
function send(base: string, method: string, url: string, bearer: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve) => {
    const request = http.request(
      new URL(url, base),
      {
        method,
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {
            parsed = text
          }
          resolve({ status: response.statusCode ?? 0, body: parsed, headers: response.headers })
        })
      },
    )
    request.on('error', () => resolve({ status: 0, body: undefined, headers: {} }))
    request.setTimeout(30_000, () => request.destroy())
    request.end(payload)
  })
}

/** Tallies answers; an outage answer must be a 503 problem with Retry-After. */
class Tally {
  readonly counts: Record<string, number> = {}
  badOutageAnswers = 0
  add(answer: Answer) {
    const key = answer.status === 0 ? 'no answer' : `${answer.status}${answer.body?.code ? ` ${answer.body.code}` : ''}`
    if (this.counts[key] === undefined && (answer.status === 0 || answer.status >= 400)) log(`  first ${key}: ${JSON.stringify(answer.body)?.slice(0, 300)}`)
    this.counts[key] = (this.counts[key] ?? 0) + 1
    if (answer.status >= 500) {
      const problem = String(answer.headers['content-type'] ?? '').startsWith('application/problem+json')
      if (answer.status !== 503 || !problem || !answer.headers['retry-after']) this.badOutageAnswers++
    }
  }
  get fiveHundreds() {
    return Object.entries(this.counts).filter(([key]) => key.startsWith('500')).reduce((sum, [, n]) => sum + n, 0)
  }
}

interface Service {
  child: ChildProcess
  base: string
}

async function startService(bundle: string, env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, bundle], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`  [service] ${chunk}`))
  const base = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the service exited with ${code} before listening`)))
  })
  child.stdout!.resume()
  return { child, base }
}

/** Asynchronous, so the load and the /ready watcher keep running while PostgreSQL is down. */
function restartPostgres(): Promise<void> {
  const version = readdirSync('/etc/postgresql')[0]!
  return new Promise((resolve, reject) => {
    execFile('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart', '-m', 'immediate'], (error) => (error ? reject(error) : resolve()))
  })
}

async function main() {
  const adminUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
  const dbName = `consentry_faults_${process.pid}`
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${dbName}`)
  await admin.end()
  const url = new URL(adminUrl.toString())
  url.pathname = `/${dbName}`
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'consentry-faults-'))
  const env = {
    DATABASE_URL: url.toString(),
    MIGRATE_ON_START: 'true',
    DEMO_BOOTSTRAP: 'false',
    JWT_SECRET: SECRET,
    RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_ANON_PER_MINUTE: '0',
    LOG_LEVEL: 'error',
    DATA_DIR: dataDir,
    PORT: '0',
  }
  const rows: { phase: string; requests: number; acknowledged: number; lost: number; answers: string; fiveHundreds: number; badOutageAnswers: number; alive: boolean; note: string }[] = []
  const failures: string[] = []
  let service: Service | undefined
  let db = postgres(url.toString(), { max: 2, onnotice: () => {} })
  try {
    const bundle = await buildService(ROOT)
    service = await startService(bundle, env)
    log(`service ${service.base} (pid ${service.child.pid}) on ${dbName}`)

    // Seed through the API.
    const platform = token('faults-platform', '00000000-0000-4000-8000-000000000000', ['platform'])
    // Seeding is a client too: it honours a 503's Retry-After, as the load does.
    let seedingRetries = 0
    const must = async (request: () => Promise<Answer>, what: string) => {
      for (let attempt = 0; ; attempt++) {
        const done = await request()
        if (done.status === 503 && attempt < 20) {
          seedingRetries++
          log(`  ${what}: 503 ${done.body?.code}, retrying`)
          await sleep(Number(done.headers['retry-after'] ?? 1) * 250)
          continue
        }
        if (done.status < 200 || done.status >= 300) throw new Error(`${what}: ${done.status} ${JSON.stringify(done.body)}`)
        return done.body
      }
    }
    const base = () => service!.base
    const acc = (await must(() => send(base(), 'POST', '/v1/accounts', platform, { name: 'Faults', dataRegion: 'eu' }), 'account')).id as string
    const user = async (roles: string[], n: number) => {
      const created = await must(() => send(base(), 'POST', `/v1/accounts/${acc}/users`, platform, { email: `f${n}@faults.test`, displayName: `F ${n}`, roles }), 'user')
      return { id: created.id as string, token: token(created.id, acc, roles) }
    }
    const adminUser = await user(['admin', 'member'], 0)
    const host = await user(['member'], 1)
    const recorder = await user(['recorder'], 2)
    await must(() => send(base(), 'PATCH', `/v1/accounts/${acc}/settings`, adminUser.token, { values: { 'recording.cloud.enabled': true, 'meeting.passcode_required': false, 'meeting.waiting_room': false } }), 'settings')
    const notice = await must(() => send(base(), 'POST', `/v1/accounts/${acc}/notices`, adminUser.token, { kind: 'recording', locale: 'en', title: 'Recording', text: 'This meeting is recorded.' }), 'notice')
    const versionId = notice.currentVersion.id as string
    const live = async () => {
      const meeting = await must(() => send(base(), 'POST', '/v1/meetings', host.token, { topic: 'Faults', scheduledStart: new Date().toISOString(), durationMinutes: 60, timeZone: 'UTC' }), 'meeting')
      await must(() => send(base(), 'POST', `/v1/meetings/${meeting.id}/start`, host.token), 'start')
      return meeting.id as string
    }
    const joinGuests = async (meetingId: string, count: number) => {
      const ids: string[] = []
      for (let i = 0; i < count; i += 20) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(20, count - i) }, (_, j) => must(() => send(base(), 'POST', `/v1/meetings/${meetingId}/participants`, host.token, { guest: { displayName: `Guest ${i + j}` } }, { 'idempotency-key': `join-${meetingId}-${i + j}` }), 'join')),
        )
        ids.push(...batch.map((answer) => answer.participantId as string))
      }
      return ids
    }

    /**
     * Consents from `workers` clients for the given participants, each retried with its
     * Idempotency-Key after a 503 (Retry-After) or a lost answer, as a client would. While it
     * runs, `fault` strikes. Answers whether every acknowledged record is in the database.
     */
    const consentLoad = async (phase: string, participants: string[], meetingId: string, fault: () => Promise<string>) => {
      const tally = new Tally()
      const acked = new Map<string, string>()
      let next = 0
      let requests = 0
      const worker = async () => {
        while (next < participants.length) {
          const participantId = participants[next++]!
          for (let attempt = 0; attempt < 60; attempt++) {
            requests++
            const answer = await send(base(), 'POST', `/v1/meetings/${meetingId}/consents`, host.token, { participantId, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' }, { 'idempotency-key': `${phase.replace(/\W+/g, '-')}-${participantId}` })
            tally.add(answer)
            if (answer.status === 201) {
              acked.set(participantId, answer.body.id)
              break
            }
            await sleep(answer.status === 503 ? Number(answer.headers['retry-after'] ?? 1) * 250 : 100)
          }
        }
      }
      const loading = Promise.all(Array.from({ length: 20 }, worker))
      await sleep(300)
      const before = acked.size
      const note = `${await fault()} after ${before} of ${participants.length} acknowledgements`
      await loading
      const ids = [...acked.values()]
      const found = (await db`select count(*)::int as n from consent_records where account_id = ${acc} and id = any(${ids}::uuid[])`)[0]!.n as number
      const alive = service!.child.exitCode === null
      rows.push({ phase, requests, acknowledged: acked.size, lost: ids.length - found, answers: JSON.stringify(tally.counts), fiveHundreds: tally.fiveHundreds, badOutageAnswers: tally.badOutageAnswers, alive, note })
      if (!alive) failures.push(`${phase}: the process died`)
      if (ids.length !== found) failures.push(`${phase}: ${ids.length - found} acknowledged consents missing`)
      if (tally.badOutageAnswers > 0) failures.push(`${phase}: ${tally.badOutageAnswers} outage answers were not 503 problem+json with Retry-After`)
      if (acked.size !== participants.length) failures.push(`${phase}: ${participants.length - acked.size} consents never acknowledged`)
    }

    // 1. Every connection of the service terminated, as a failover does.
    const first = await live()
    await consentLoad('terminate every service connection', await joinGuests(first, 1000), first, async () => {
      const killed = await db`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = ${dbName} and pid <> pg_backend_pid()`
      return `${killed[0]!.n} backends terminated`
    })

    // 2. PostgreSQL restarted in immediate mode (a crash and recovery), /ready watched meanwhile.
    const second = await live()
    const readiness: number[] = []
    let watching = true
    const watcher = (async () => {
      while (watching) {
        readiness.push((await send(base(), 'GET', '/ready', undefined)).status)
        await sleep(100)
      }
    })()
    await consentLoad('restart PostgreSQL (immediate)', await joinGuests(second, 1000), second, async () => {
      await db.end()
      const started = Date.now()
      await restartPostgres()
      db = postgres(url.toString(), { max: 2, onnotice: () => {} })
      return `restarted in ${Date.now() - started} ms`
    })
    watching = false
    await watcher
    const readyCounts = readiness.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {})
    log(`  /ready answers while watched: ${JSON.stringify(readyCounts)}`)
    const sawDown = readiness.includes(503)
    const backUp = readiness.at(-1) === 200
    rows[rows.length - 1]!.note += `; /ready ${sawDown ? 'went 503' : 'never went 503'} and ${backUp ? 'came back' : 'did not come back'}`
    if (!sawDown || !backUp) failures.push('/ready did not go 503 and back')

    // 3. The service killed outright during a join storm; every acknowledged consent survives it.
    const third = await live()
    const stormAcks = new Map<string, string>()
    const tally = new Tally()
    let stormNext = 0
    let killed = false
    const stormWorker = async () => {
      while (!killed) {
        const i = stormNext++
        const joined = await send(base(), 'POST', `/v1/meetings/${third}/participants`, host.token, { guest: { displayName: `Storm ${i}` } }, { 'idempotency-key': `storm-join-${i}` })
        tally.add(joined)
        if (joined.status !== 201) continue
        const consent = await send(base(), 'POST', `/v1/meetings/${third}/consents`, host.token, { participantId: joined.body.participantId, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' }, { 'idempotency-key': `storm-consent-${i}` })
        tally.add(consent)
        if (consent.status === 201) stormAcks.set(joined.body.participantId, consent.body.id)
      }
    }
    const storm = Promise.all(Array.from({ length: 50 }, stormWorker))
    while (stormAcks.size < 300) await sleep(20)
    service.child.kill('SIGKILL')
    killed = true
    await storm
    await new Promise((resolve) => service!.child.exitCode !== null ? resolve(undefined) : service!.child.once('exit', resolve))
    service = await startService(bundle, env)
    const ackIds = [...stormAcks.values()]
    const stormFound = (await db`select count(*)::int as n from consent_records where account_id = ${acc} and id = any(${ackIds}::uuid[])`)[0]!.n as number
    rows.push({ phase: 'SIGKILL during a join storm, then restart', requests: Object.values(tally.counts).reduce((a, b) => a + b, 0), acknowledged: ackIds.length, lost: ackIds.length - stormFound, answers: JSON.stringify(tally.counts), fiveHundreds: tally.fiveHundreds, badOutageAnswers: 0, alive: service.child.exitCode === null, note: 'restarted on the same database' })
    if (stormFound !== ackIds.length) failures.push(`SIGKILL: ${ackIds.length - stormFound} acknowledged consents lost`)

    // 4. An upload cut mid-stream: no file, no row change.
    const fourth = await live()
    const hostJoin = await must(() => send(base(), 'POST', `/v1/meetings/${fourth}/participants`, host.token, {}), 'host joins')
    await must(() => send(base(), 'POST', `/v1/meetings/${fourth}/consents`, host.token, { participantId: hostJoin.participantId, scope: 'recording', decision: 'granted', noticeVersionId: versionId, method: 'click_continue' }), 'grant')
    await sleep(50)
    const startedAt = new Date(Date.now() - 30)
    const recording = await must(() => send(base(), 'POST', `/v1/meetings/${fourth}/recordings`, recorder.token, { kind: 'cloud', startedAt: startedAt.toISOString(), endedAt: new Date().toISOString() }), 'register recording')
    const cut = await new Promise<string>((resolve) => {
      const request = http.request(new URL(`/v1/meetings/${fourth}/recordings/${recording.id}/content`, base()), {
        method: 'PUT',
        headers: { authorization: `Bearer ${recorder.token}`, 'content-type': 'application/octet-stream', 'content-length': String(8 * 1024 * 1024) },
      })
      request.on('error', () => resolve('cut'))
      request.on('response', (response) => resolve(`answered ${response.statusCode}`))
      request.write(randomBytes(2 * 1024 * 1024), () => setTimeout(() => request.destroy(), 200))
    })
    await sleep(500)
    const [after] = await db`select status, storage_key from recordings where account_id = ${acc} and id = ${recording.id}`
    const blobs = path.join(dataDir, 'blobs')
    const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(path.join(dir, entry.name)) : [entry.name])) : [])
    const left = files(blobs)
    const clean = after?.status === 'pending' && after.storage_key === null && left.length === 0
    rows.push({ phase: 'upload cut mid-stream', requests: 1, acknowledged: 0, lost: 0, answers: cut, fiveHundreds: 0, badOutageAnswers: 0, alive: service.child.exitCode === null, note: `recording ${after?.status}, ${left.length} files left in the blob store` })
    if (!clean) failures.push(`cut upload: recording ${after?.status}, ${left.length} files left`)
    await db.end()
  } finally {
    if (service && service.child.exitCode === null) service.child.kill('SIGTERM')
    await sleep(300)
    const cleanup = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} })
    await cleanup.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {})
    await cleanup.end()
    rmSync(dataDir, { recursive: true, force: true })
  }

  const pad = (value: unknown, width: number) => String(value).padEnd(width)
  console.log(`\nConsentry faults, ${new Date().toISOString()}`)
  console.log(`${pad('phase', 44)}${pad('requests', 10)}${pad('acked', 7)}${pad('lost', 6)}${pad('5xx≠503', 9)}${pad('alive', 7)}answers · note`)
  for (const row of rows) {
    console.log(`${pad(row.phase, 44)}${pad(row.requests, 10)}${pad(row.acknowledged, 7)}${pad(row.lost, 6)}${pad(row.badOutageAnswers, 9)}${pad(row.alive ? 'yes' : 'NO', 7)}${row.answers} · ${row.note}`)
  }
  if (failures.length > 0) {
    console.log(`\nFAILED:\n${failures.map((f) => `- ${f}`).join('\n')}`)
    process.exit(1)
  }
  console.log('\nevery fault survived: no 500, no acknowledged write lost, the process alive')
}

await main()
