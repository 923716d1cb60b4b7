import { createHash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { canonicalJson } from '../../lib/canonical-json.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, DomainError, loggableError } from '../../lib/errors.js'
import { problemResponse } from '../../plugins/problem.js'
import type { IdempotencyKey, IdempotencyRepository } from './idempotency.repository.js'

// Idempotency-Key on every authenticated POST (README.md, API): the first request with a key
// runs and its answer is stored; a retry with the same key and the same request gets that answer
// (header `Idempotent-Replayed: true`) and writes nothing; the same key with another request is
// 422. A 5xx answer is not stored, so the retry runs again.
//
// The answer is stored after the change has committed. A process that dies between the two
// leaves a claim without an answer; after STALE_AFTER_MS a retry takes it over and runs again.
//
// A route whose record carries the key itself declares `idempotency: 'in-record'` (the consent
// POST, the join storm's hot path): the record is written with the key in one statement, so it
// needs neither the claim nor the stored answer, and a retry that overlaps the first waits on the
// record's unique key instead of getting 409. Such a route answers retries itself, and 422 for a
// key reused with another request.

const STALE_AFTER_MS = 5 * 60_000

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: IdempotencyKey
  }
  interface FastifyContextConfig {
    /**
     * 'in-record': the route's own record carries the Idempotency-Key; this plugin only documents
     * it. A predicate says so per request (a guest's join is in-record, a user's is not).
     */
    idempotency?: 'in-record' | ((request: FastifyRequest) => boolean)
  }
}

const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .describe('Retrying a POST with the same key returns the first answer and writes nothing new'),
})

/** What a retry must repeat exactly: the path with its query, and the body. */
export function requestHash(url: string, body: unknown): string {
  return createHash('sha256').update(`${url}\n${canonicalJson(body ?? null)}`).digest('hex')
}

export default fp<{ repository: IdempotencyRepository; clock: Clock }>(
  async (app, { repository, clock }) => {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      if (!methods.includes('POST') || route.config?.public) return
      const schema = (route.schema ??= {}) as Record<string, unknown>
      schema.headers ??= IdempotencyHeaders
      const response = (schema.response ??= {}) as Record<string, { description: string }>
      response[422] ??= problemResponse('idempotency_key_reused: this Idempotency-Key was used for another request')
      // A route that keeps some requests' keys in the record still answers others from the store.
      if (route.config?.idempotency === 'in-record') return
      const inProgress = 'idempotency_in_progress: a request with this Idempotency-Key is still running'
      response[409] = response[409] ? { ...response[409], description: `${response[409].description}; ${inProgress}` } : problemResponse(inProgress)
    })

    app.addHook('preHandler', async (request, reply) => {
      const key = request.headers['idempotency-key']
      if (request.method !== 'POST' || typeof key !== 'string' || !request.principal) return
      const inRecord = request.routeOptions.config.idempotency
      if (inRecord === 'in-record' || (typeof inRecord === 'function' && inRecord(request))) return
      const k: IdempotencyKey = { accountId: request.principal.accountId, subject: request.principal.subject, key }
      const hash = requestHash(request.url, request.body)
      const now = clock.now()
      if (await repository.claim(k, hash, now)) {
        request.idempotency = k
        return
      }
      const stored = await repository.find(k)
      if (stored && stored.requestHash !== hash) {
        throw new DomainError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request')
      }
      if (!stored || stored.status === null) {
        if (stored && (await repository.takeOver(k, hash, now, new Date(now.getTime() - STALE_AFTER_MS)))) {
          request.idempotency = k
          return
        }
        throw new ConflictError('idempotency_in_progress', 'A request with this Idempotency-Key is still running; retry later')
      }
      reply.code(stored.status).header('idempotent-replayed', 'true')
      if (stored.contentType) reply.type(stored.contentType)
      return reply.send(stored.responseBody ?? undefined)
    })

    app.addHook('onSend', async (request, reply, payload) => {
      const k = request.idempotency
      if (!k) return payload
      request.idempotency = undefined
      try {
        if (reply.statusCode >= 500) await repository.release(k)
        else {
          const contentType = reply.getHeader('content-type')
          await repository.complete(
            k,
            reply.statusCode,
            typeof contentType === 'string' ? contentType : null,
            typeof payload === 'string' ? payload : null,
          )
        }
      } catch (error) {
        // The change itself succeeded; failing the answer now would make the client retry it.
        request.log.error({ error: loggableError(error) }, 'could not store the idempotent answer')
      }
      return payload
    })
  },
  { name: 'idempotency', dependencies: ['problem'] },
)
