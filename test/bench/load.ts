import autocannon, { type Request } from 'autocannon'

// One autocannon run, in its own process so the load generator does not share the service's
// event loop. Input: a JSON job in argv[2]. Output: one JSON line with the figures.

export interface LoadJob {
  url: string
  method: 'GET' | 'POST'
  token: string
  connections: number
  seconds: number
  /** POST bodies, used in turn (one per request). */
  bodies?: unknown[]
  /** A fresh Idempotency-Key per request. */
  idempotencyKeys?: boolean
}

export interface LoadResult {
  requestsPerSecond: number
  p50: number
  p99: number
  total: number
  non2xx: number
  errors: number
  /** Completed requests in each second of the run. */
  perSecond: number[]
}

const job = JSON.parse(process.argv[2]!) as LoadJob
let next = 0
const perSecond: number[] = []
const headers: Record<string, string> = { authorization: `Bearer ${job.token}`, 'content-type': 'application/json' }
const instance = autocannon({
  url: job.url,
  method: job.method,
  connections: job.connections,
  duration: job.seconds,
  headers,
  ...(job.bodies
    ? {
        requests: [
          {
            setupRequest: (request: Request): Request => {
              const body = job.bodies![next++ % job.bodies!.length]
              return {
                ...request,
                body: JSON.stringify(body),
                headers: { ...headers, ...(job.idempotencyKeys ? { 'idempotency-key': `bench-${process.pid}-${next}` } : {}) },
              }
            },
          },
        ],
      }
    : {}),
}, (error, result) => {
  if (error) throw error
  const out: LoadResult = {
    requestsPerSecond: result.requests.total / job.seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    perSecond,
  }
  console.log(JSON.stringify(out))
})
// The typings miss the tracker's per-second 'tick' event.
;(instance as unknown as NodeJS.EventEmitter).on('tick', ({ counter }: { counter: number }) => perSecond.push(counter))
