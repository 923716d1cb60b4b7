import http from 'node:http'

// The join storm, in its own process: `participants` guests join one live meeting and grant the
// recording notice through `connections` sockets; every tenth consent POST is sent twice with the
// same Idempotency-Key at once (a client that timed out and retried). A 409
// idempotency_in_progress is retried after a pause, and a 503 (the service shedding load) after
// its Retry-After, as a client would: neither is a loss, and both are counted.

export interface StormJob {
  base: string
  meetingId: string
  noticeVersionId: string
  /** Member tokens of the clients that join guests (spread over them). */
  tokens: string[]
  participants: number
  connections: number
}

export interface StormResult {
  seconds: number
  participantsPerSecond: number
  acksPerSecond: number
  p50: number
  p99: number
  acked: number
  replayed: number
  /** Answers 503 with Retry-After (load shed by the service), each retried. */
  shed: number
  failures: number
  /** Each failed answer's status and problem code, counted: a failure is explained, never just counted. */
  failureReasons: Record<string, number>
}

const job = JSON.parse(process.argv[2]!) as StormJob
const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections })
const url = new URL(job.base)
const latencies: number[] = []
let replayed = 0
let failures = 0
const failureReasons: Record<string, number> = {}
function fail(what: string, res: { status: number; body: any } | undefined) {
  failures++
  const reason = `${what}: ${res ? `${res.status} ${res.body?.code ?? ''}`.trim() : 'still in progress after 60 s'}`
  failureReasons[reason] = (failureReasons[reason] ?? 0) + 1
}
let acked = 0
let shed = 0

/** POSTs, retrying after Retry-After while the service sheds load (503). */
async function post(path: string, token: string, body: unknown, key?: string): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  for (;;) {
    const res = await send(path, token, body, key)
    if (res.status !== 503) return res
    shed++
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers['retry-after'] ?? 1) * 1000))
  }
}

function send(path: string, token: string, body: unknown, key?: string): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  const payload = JSON.stringify(body)
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(key ? { 'idempotency-key': key } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          latencies.push(performance.now() - started)
          const text = Buffer.concat(chunks).toString('utf8')
          resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: response.headers })
        })
      },
    )
    request.on('error', reject)
    request.end(payload)
  })
}

// A client whose retry finds the first request still running waits and asks again, with a growing
// pause, for as long as a client would (the first may queue behind the storm for seconds).
const IN_PROGRESS_PATIENCE_MS = 60_000

async function consent(token: string, participantId: string, key: string): Promise<void> {
  const giveUpAt = performance.now() + IN_PROGRESS_PATIENCE_MS
  for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
    const res = await post(`/v1/meetings/${job.meetingId}/consents`, token, { participantId, scope: 'recording', decision: 'granted', noticeVersionId: job.noticeVersionId, method: 'click_continue' }, key)
    if (res.status === 201) {
      if (res.headers['idempotent-replayed'] === 'true') replayed++
      else acked++
      return
    }
    if (res.status !== 409 || res.body?.code !== 'idempotency_in_progress') return fail('consent', res)
    if (performance.now() > giveUpAt) return fail('consent', undefined)
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
}

async function one(i: number) {
  const token = job.tokens[i % job.tokens.length]!
  const joined = await post(`/v1/meetings/${job.meetingId}/participants`, token, { guest: { displayName: `Guest ${i}` } }, `storm-join-${i}`)
  if (joined.status !== 201) {
    fail('join', joined)
    return
  }
  const key = `storm-consent-${i}`
  const participantId = joined.body.participantId as string
  await (i % 10 === 0 ? Promise.all([consent(token, participantId, key), consent(token, participantId, key)]) : consent(token, participantId, key))
}

const started = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: job.connections }, async () => {
    while (next < job.participants) await one(next++)
  }),
)
const seconds = (performance.now() - started) / 1000
latencies.sort((a, b) => a - b)
const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10
const result: StormResult = {
  seconds,
  participantsPerSecond: job.participants / seconds,
  acksPerSecond: acked / seconds,
  p50: at(0.5),
  p99: at(0.99),
  acked,
  replayed,
  shed,
  failures,
  failureReasons,
}
console.log(JSON.stringify(result))
agent.destroy()
