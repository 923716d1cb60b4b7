import underPressure from '@fastify/under-pressure'
import { getHeapStatistics } from 'node:v8'
import fp from 'fastify-plugin'
import { DomainError } from '../lib/errors.js'

// Memory bounded by design: a process holds at most `max` requests at once. Past that, work only
// waits for the database pool while its buffers and promises grow the heap (a join storm at 500
// connections took 260 MB); a request over the bound is answered at once with 503 and
// Retry-After, which a client retries, instead of queuing. @fastify/under-pressure sheds the same
// way when the event loop lags or the heap nears its limit; not on RSS, which counts the embedded
// database's memory too. /health and /ready always answer.

export interface InFlightOptions {
  max: number
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

export default fp<InFlightOptions>(
  async (app, { max, retryAfterSeconds = 1, maxEventLoopDelayMs, maxHeapShare }) => {
    await app.register(underPressure, {
      maxEventLoopDelay: maxEventLoopDelayMs,
      maxHeapUsedBytes: maxHeapShare > 0 ? Math.floor(getHeapStatistics().heap_size_limit * maxHeapShare) : 0,
      maxRssBytes: 0,
      maxEventLoopUtilization: 0,
      exposeStatusRoute: false,
      pressureHandler: (request, _reply, type) =>
        EXEMPT.has(request.url) ? undefined : Promise.reject(new UnderPressureError(retryAfterSeconds, type === 'eventLoopDelay' ? 'event loop delay' : 'heap')),
    })
    let inFlight = 0
    app.decorate('inFlight', () => inFlight)
    // A request is given back once: when its answer is sent, or when its client leaves first.
    const release = async (request: object) => {
      if (counted.delete(request)) inFlight--
    }
    app.addHook('onRequest', async (request, reply) => {
      // Event streams stay open for hours, waiting on notifications rather than working.
      if (max <= 0 || EXEMPT.has(request.url) || (request.routeOptions.config as { stream?: boolean }).stream) return
      if (inFlight >= max) throw new OverloadedError(retryAfterSeconds)
      inFlight++
      counted.add(request)
      // The response's close always comes (after its last byte, or when the client left while the
      // handler still ran, which onResponse and onRequestAbort both miss): the bench's clients,
      // closing at the end of a run, leaked a slot per request in flight until every answer was 503.
      reply.raw.once('close', () => void release(request))
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
  }
}
