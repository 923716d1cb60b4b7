import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { DomainError } from '../lib/errors.js'

// Limits on every door (@fastify/rate-limit, counters in this process's memory: N processes
// allow N times a limit, which the README says). Before authentication a client is its address:
// public routes and failed authentications count there. After it, a client is its principal.
// Passcode failures count per meeting and address, tightly: each costs a scrypt hash, and a
// passcode is short enough to guess.

export interface RateLimitOptions {
  /** Requests per minute of one authenticated principal (0: no limit). */
  perPrincipal: number
  /** Requests per minute of one address on public routes, and its failed authentications (0: no limit). */
  anonymousPerAddress: number
  /** Wrong or missing passcodes per minute for one meeting from one address (0: no limit). */
  passcodeFailures: number
}

export class TooManyRequestsError extends DomainError {
  constructor(
    readonly retryAfterSeconds: number,
    detail = 'Too many requests; retry after the pause in Retry-After',
  ) {
    super(429, 'rate_limited', detail)
  }
}

type Check = (request: FastifyRequest, options?: { increment?: boolean }) => Promise<{ isExceeded?: boolean; remaining?: number; ttlInSeconds?: number }>

export interface Limits {
  /** Counts a failed authentication of the request's address; throws 429 once it is over. */
  failedAuthentication(request: FastifyRequest): Promise<void>
  /** Throws 429 when the address already failed the passcode of the request's meeting too often. */
  beforePasscode(request: FastifyRequest): Promise<void>
  /** Counts a wrong or missing passcode for the request's meeting. */
  passcodeFailed(request: FastifyRequest): Promise<void>
}

const MINUTE = 60_000
const HEALTH = new Set(['/health', '/ready'])

type Counted = { current: number; ttl: number }
type Done = (error: Error | null, result: Counted) => void

/**
 * Fixed-window counters for @fastify/rate-limit. Its LocalStore answers every caller with the one
 * object it keeps mutating, so requests counted in the same tick all read the last count (a burst
 * of six under a limit of five was refused whole); this store answers each with its own snapshot.
 * The oldest windows go past `max` keys, so a flood of addresses cannot grow it without bound.
 */
export class SnapshotStore {
  private readonly windows = new Map<string, { count: number; startedAt: number }>()
  private readonly maxKeys = 50_000

  private window(key: string, timeWindow: number, now: number) {
    const window = this.windows.get(key)
    return window && window.startedAt + timeWindow > now ? window : undefined
  }

  incr(key: string, done: Done, timeWindow: number) {
    const now = Date.now()
    let window = this.window(key, timeWindow, now)
    if (!window) {
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string)
      window = { count: 0, startedAt: now }
      this.windows.delete(key)
      this.windows.set(key, window)
    }
    window.count++
    done(null, { current: window.count, ttl: window.startedAt + timeWindow - now })
  }

  read(key: string, done: Done, timeWindow: number) {
    const now = Date.now()
    const window = this.window(key, timeWindow, now)
    done(null, window ? { current: window.count, ttl: window.startedAt + timeWindow - now } : { current: 0, ttl: 0 })
  }

  child() {
    return this
  }
}

export default fp<RateLimitOptions>(
  async (app, options) => {
    await app.register(fastifyRateLimit, { global: false, timeWindow: MINUTE, store: SnapshotStore as never })
    const limiter = (max: number, key: (request: FastifyRequest) => string): Check | undefined =>
      max > 0 ? (app.createRateLimit({ max, timeWindow: MINUTE, keyGenerator: key }) as unknown as Check) : undefined
    const byAddress = limiter(options.anonymousPerAddress, (request) => `address:${request.ip}`)
    const byPrincipal = limiter(options.perPrincipal, (request) => `principal:${request.principal.accountId}:${request.principal.subject}`)
    const passcodeKey = (request: FastifyRequest) => `passcode:${(request.params as { meetingId?: string }).meetingId ?? ''}:${request.ip}`
    const byPasscode = limiter(options.passcodeFailures, passcodeKey)

    const enforce = async (check: Check | undefined, request: FastifyRequest, increment = true) => {
      if (!check) return
      const result = await check(request, { increment })
      const over = increment ? result.isExceeded : (result.remaining ?? 1) <= 0
      if (over) throw new TooManyRequestsError(Math.max(1, result.ttlInSeconds ?? 60))
    }

    // Public routes count by address before anything else runs; authenticated ones by principal
    // once the token is verified (auth's hook runs at onRequest, this one after it).
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public && !HEALTH.has(request.url)) await enforce(byAddress, request)
    })
    app.addHook('preHandler', async (request) => {
      if (!request.routeOptions.config?.public && request.principal) await enforce(byPrincipal, request)
    })

    const limits: Limits = {
      failedAuthentication: (request) => enforce(byAddress, request),
      beforePasscode: (request) => enforce(byPasscode, request, false),
      passcodeFailed: (request) => enforce(byPasscode, request).catch(() => {}),
    }
    app.decorate('limits', limits)
  },
  { name: 'rate-limits', dependencies: ['problem'] },
)

declare module 'fastify' {
  interface FastifyInstance {
    limits: Limits
  }
}
