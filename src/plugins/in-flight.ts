import fp from 'fastify-plugin'
import { DomainError } from '../lib/errors.js'

// Memory bounded by design: a process holds at most `max` requests at once. Past that, work only
// waits for the database pool while its buffers and promises grow the heap (a join storm at 500
// connections took 260 MB); a request over the bound is answered at once with 503 and
// Retry-After, which a client retries, instead of queuing. /health and /ready always answer.

export interface InFlightOptions {
  max: number
  /** Seconds a shed client should wait before retrying. */
  retryAfterSeconds?: number
}

export class OverloadedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, 'overloaded', 'The service is at its limit of requests in flight; retry after the pause in Retry-After')
  }
}

const EXEMPT = new Set(['/health', '/ready'])

const counted = new WeakSet<object>()

export default fp<InFlightOptions>(
  async (app, { max, retryAfterSeconds = 1 }) => {
    let inFlight = 0
    app.decorate('inFlight', () => inFlight)
    // A request is given back once: when its answer is sent, or when its client leaves first.
    const release = async (request: object) => {
      if (counted.delete(request)) inFlight--
    }
    app.addHook('onRequest', async (request, reply) => {
      if (max <= 0 || EXEMPT.has(request.url)) return
      if (inFlight >= max) {
        reply.header('retry-after', String(retryAfterSeconds))
        throw new OverloadedError(retryAfterSeconds)
      }
      inFlight++
      counted.add(request)
    })
    app.addHook('onResponse', release)
    app.addHook('onRequestAbort', release)
  },
  { name: 'in-flight' },
)

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests this process is working on now. */
    inFlight: () => number
  }
}
