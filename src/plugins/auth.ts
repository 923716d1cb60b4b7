import fastifyJwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import type { Config } from '../config.js'
import { type Principal, type Role, ROLES } from '../lib/access.js'
import { UnauthorizedError } from '../lib/errors.js'
import { isUuid } from '../lib/ids.js'
import { resolveVerificationKey } from '../lib/jwt-keys.js'

// Bearer JWT on every route that does not declare `config: { public: true }`. The claims are
// checked by a schema after the signature, so a well-signed token with a malformed role list is
// still refused.

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal
  }
  interface FastifyContextConfig {
    /** The route needs no bearer token (health, docs, well-known documents). */
    public?: boolean
  }
}

const ClaimsSchema = z.object({
  sub: z.string().min(1).max(200),
  acc: z.uuid(),
  roles: z.array(z.enum(ROLES)).min(1),
  exp: z.number(),
  iat: z.number(),
})
type Claims = z.infer<typeof ClaimsSchema>
/** Verified tokens kept at most (the map starts over when full). */
const VERIFIED_TOKENS = 10_000
/** Longer authorization headers are verified every time, never kept (bounds the map's memory). */
const KEPT_TOKEN_LENGTH = 4_096


export interface AuthOptions {
  config: Config
  /** The status and roles of the user a token names, or undefined when there is no such user. */
  userStanding: (accountId: string, userId: string) => Promise<{ status: string; roles: string[] } | undefined>
}

export default fp<AuthOptions>(
  async (app, { config, userStanding }) => {
    const key = resolveVerificationKey(config)
    const verifyOptions = {
      algorithms: [key.algorithm],
      // fast-jwt checks iss/aud only when present, so a configured one is also a required claim.
      requiredClaims: [
        'sub',
        'acc',
        'roles',
        'exp',
        'iat',
        ...(config.jwt.issuer ? ['iss'] : []),
        ...(config.jwt.audience ? ['aud'] : []),
      ],
      ...(config.jwt.issuer ? { allowedIss: config.jwt.issuer } : {}),
      ...(config.jwt.audience ? { allowedAud: config.jwt.audience } : {}),
    }
    await app.register(fastifyJwt, {
      secret: key.algorithm === 'HS256' ? key.secret : { public: key.publicKey },
      sign: key.algorithm === 'HS256' ? { algorithm: 'HS256' } : { algorithm: key.algorithm },
      verify: verifyOptions,
    })

    app.decorateRequest('principal', null as unknown as Principal)

    // A client sends the same token on every request: the claims of a token that passed every
    // check below are kept by its text (bounded, and never past its exp), so a repeat costs a map
    // lookup instead of a decode, a hash, a signature check and a schema. Who the token's user
    // is now is still checked on every request.
    const verified = new Map<string, Claims>()

    async function claimsOf(request: FastifyRequest): Promise<Claims> {
      const header = request.headers.authorization
      const token = header?.startsWith('Bearer ') && header.length <= KEPT_TOKEN_LENGTH ? header.slice(7) : undefined
      const kept = token === undefined ? undefined : verified.get(token)
      if (kept) {
        if (kept.exp * 1000 > Date.now()) return kept
        verified.delete(token!)
      }
      let payload: unknown
      try {
        payload = await request.jwtVerify()
      } catch (error) {
        const code = (error as { code?: string }).code
        throw new UnauthorizedError(
          code === 'FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'
            ? 'The bearer token has expired'
            : code === 'FST_JWT_NO_AUTHORIZATION_IN_HEADER'
              ? 'A bearer token is required'
              : 'The bearer token is not valid',
        )
      }
      const claims = ClaimsSchema.safeParse(payload)
      if (!claims.success) throw new UnauthorizedError('The bearer token claims are not valid')
      const { exp, iat } = claims.data
      // A leaked long-lived token is a standing key: lifetimes beyond the configured maximum are refused.
      if (exp - iat > config.jwt.maxAgeSeconds) throw new UnauthorizedError('The bearer token lives longer than this service accepts')
      if (token !== undefined) {
        if (verified.size >= VERIFIED_TOKENS) verified.clear()
        verified.set(token, claims.data)
      }
      return claims.data
    }

    async function authenticate(request: FastifyRequest) {
      try {
        await verify(request)
      } catch (error) {
        // Failed authentications count against the client's address (429 once over its limit).
        if (error instanceof UnauthorizedError) await app.limits.failedAuthentication(request)
        throw error
      }
    }

    async function verify(request: FastifyRequest) {
      const { sub, acc, roles } = await claimsOf(request)
      // A token outlives a cancellation or a demotion: a user subject must still exist, not be
      // cancelled, and holds only the token's roles that their row still has, so cancelling or
      // demoting an admin ends their power at once (P-DSR-5). Service principals (platform, a
      // recorder whose subject is not a user id) have no user row and keep their token's roles.
      let granted: readonly Role[] = roles
      if (isUuid(sub) && !roles.includes('platform')) {
        const user = await userStanding(acc, sub)
        if (user === undefined || user.status === 'cancelled') throw new UnauthorizedError('The token\'s user is not active')
        granted = roles.filter((role) => user.roles.includes(role))
      }
      request.principal = { subject: sub, accountId: acc, roles: granted }
    }

    app.addHook('onRoute', (route) => {
      if (route.config?.public) return
      const existing = route.onRequest ? (Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]) : []
      route.onRequest = [authenticate, ...existing]
    })
  },
  { name: 'auth', dependencies: ['rate-limits'] },
)
