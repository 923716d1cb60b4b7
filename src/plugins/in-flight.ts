import underPressure from '@fastify/under-pressure'
import { getHeapStatistics } from 'node:v8'
import fp from 'fastify-plugin'
import { DomainError } from '../lib/errors.js'

// Memory bounded by design: a process works on at most `max` requests at once. Past that, work
// only waits for the database pool while its buffers and promises grow the heap (a join storm at
// 500 connections took 260 MB). A request over the bound waits in a first-come queue before its
// body is read (a waiting request holds its socket and headers, nothing more) until a slot frees,
// for at most `queueWaitMs`; past `queue` waiting requests, or past that wait, it is answered
// 503 with Retry-After, which a client retries. (Shedding at once made a 500-connection storm's
// clients sleep a second per 503 while the database idled: 19,469 sheds for 10,000 joins.)
// @fastify/under-pressure sheds the same way when the event loop lags or the heap nears its
// limit; not on RSS, which counts the embedded database's memory too. /health and /ready always answer.

export interface InFlightOptions {
  max: number
  /** Requests that may wait for a slot (0: shed at once). */
  queue: number
  /** How long a request waits for a slot before it is shed. */
  queueWaitMs: number
  /** Seconds a shed client should wait before retrying. */
  retryAfterSeconds?: number
  /** Shed while the event loop lags more than this (ms; 0: never). */
  maxEventLoopDelayMs: number
  /** Shed while the heap uses more than this share of its limit (0: never). */
  maxHeapShare: number
}

export class UnderPressureError extends DomainError {
  constructor(
    readonly retryAfterSeconds: number,
    what: string,
  ) {
    super(503, 'under_pressure', `The service is under pressure (${what}); retry after the pause in Retry-After`)
  }
}

export class OverloadedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, 'overloaded', 'The service is at its limit of requests in flight; retry after the pause in Retry-After')
  }
}

const EXEMPT = new Set(['/health', '/ready'])

const counted = new WeakSet<object>()

interface Waiter {
  admit: () => void
  timer: NodeJS.Timeout
}

/** How often the event loop's delay and the heap are sampled: a lag shows (and clears) at the next sample. */
export const PRESSURE_SAMPLE_MS = 1000

export default fp<InFlightOptions>(
  async (app, { max, queue, queueWaitMs, retryAfterSeconds = 1, maxEventLoopDelayMs, maxHeapShare }) => {
    await app.register(underPressure, {
      sampleInterval: PRESSURE_SAMPLE_MS,
      maxEventLoopDelay: maxEventLoopDelayMs,
      maxHeapUsedBytes: maxHeapShare > 0 ? Math.floor(getHeapStatistics().heap_size_limit * maxHeapShare) : 0,
      maxRssBytes: 0,
      maxEventLoopUtilization: 0,
      exposeStatusRoute: false,
      pressureHandler: (request, _reply, type) =>
        EXEMPT.has(request.url) ? undefined : Promise.reject(new UnderPressureError(retryAfterSeconds, type === 'eventLoopDelay' ? 'event loop delay' : 'heap')),
    })
    let inFlight = 0
    const waiting: Waiter[] = []
    app.decorate('inFlight', () => inFlight)
    app.decorate('queued', () => waiting.length)
    // A slot is given back once: when its answer is sent, or when its client leaves first. It
    // passes straight to the first waiting request, so a newcomer never overtakes the queue.
    const release = async (request: object) => {
      if (!counted.delete(request)) return
      const next = waiting.shift()
      if (!next) {
        inFlight--
        return
      }
      clearTimeout(next.timer)
      next.admit()
    }
    app.addHook('onRequest', async (request, reply) => {
      // Event streams stay open for hours, waiting on notifications rather than working.
      if (max <= 0 || EXEMPT.has(request.url) || (request.routeOptions.config as { stream?: boolean }).stream) return
      let waiter: Waiter | undefined
      // The response's close always comes (after its last byte, or when the client left while the
      // handler still ran or while it waited, which onResponse and onRequestAbort both miss): the
      // bench's clients, closing at the end of a run, leaked a slot per request in flight until
      // every answer was 503. Listening before any wait leaves no moment where a close is missed.
      let gone: (() => void) | undefined
      reply.raw.once('close', () => {
        const place = waiter ? waiting.indexOf(waiter) : -1
        if (place < 0) return void release(request)
        waiting.splice(place, 1)
        clearTimeout(waiter!.timer)
        gone?.()
      })
      if (inFlight < max) {
        inFlight++
        counted.add(request)
        return
      }
      if (waiting.length >= queue) throw new OverloadedError(retryAfterSeconds)
      await new Promise<void>((resolve, reject) => {
        gone = () => reject(new OverloadedError(retryAfterSeconds))
        waiter = {
          // The releasing request's slot becomes this one's: inFlight does not change.
          admit: () => {
            counted.add(request)
            resolve()
          },
          timer: setTimeout(() => {
            waiting.splice(waiting.indexOf(waiter!), 1)
            reject(new OverloadedError(retryAfterSeconds))
          }, queueWaitMs),
        }
        waiting.push(waiter)
      })
    })
    app.addHook('onResponse', release)
    app.addHook('onRequestAbort', release)
  },
  { name: 'in-flight', dependencies: ['problem'] },
)

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests this process is working on now. */
    inFlight: () => number
    /** Requests waiting for a slot. */
    queued: () => number
  }
}
