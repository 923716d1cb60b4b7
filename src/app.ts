import { sql } from 'drizzle-orm'
import Fastify, { type FastifyInstance } from 'fastify'
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import { type Database, rowsOf } from '../db/client.js'
import type { Config } from './config.js'
import { CACHE_CHANNEL, decodeInvalidation } from './lib/cache.js'
import { loggableError } from './lib/errors.js'
import { type Clock, databaseClock } from './lib/clock.js'
import accountsRoutes from './modules/accounts/accounts.routes.js'
import auditRoutes from './modules/audit/audit.routes.js'
import groupsRoutes from './modules/groups/groups.routes.js'
import meetingsRoutes from './modules/meetings/meetings.routes.js'
import participantsRoutes from './modules/meetings/participants.routes.js'
import consentsRoutes from './modules/consents/consents.routes.js'
import gateRoutes from './modules/gate/gate.routes.js'
import noticesRoutes from './modules/notices/notices.routes.js'
import recordingsRoutes from './modules/recordings/recordings.routes.js'
import transcriptsRoutes from './modules/transcripts/transcripts.routes.js'
import attentionRoutes from './modules/attention/attention.routes.js'
import monitoringRoutes from './modules/monitoring/monitoring.routes.js'
import idempotency from './modules/idempotency/idempotency.plugin.js'
import healthRoutes from './modules/health/health.routes.js'
import usersRoutes from './modules/users/users.routes.js'
import settingsRoutes from './modules/settings/settings.routes.js'
import supportRoutes from './modules/support/support.routes.js'
import legalHoldsRoutes from './modules/legal-holds/legal-holds.routes.js'
import privacyRoutes from './modules/privacy/privacy.routes.js'
import webhooksRoutes from './modules/events/webhooks.routes.js'
import eventsRoutes from './modules/events/events.routes.js'
import { EVENTS_CHANNEL } from './modules/events/events.catalog.js'
import { FastifySSEPlugin } from 'fastify-sse-v2'
import privacySignals from './modules/settings/settings.signals.js'
import auth from './plugins/auth.js'
import database from './plugins/database.js'
import openapi from './plugins/openapi.js'
import problem, { clientErrorResponse, routerProblem, sendProblem } from './plugins/problem.js'
import securityHeadersPlugin, { securityHeaders } from './plugins/security-headers.js'
import inFlight from './plugins/in-flight.js'
import rateLimits from './plugins/rate-limits.js'
import { compiledSerializerCompiler } from './plugins/serializer.js'
import { createServices } from './services.js'

export interface AppOptions {
  config: Config
  /** An open, migrated database; the caller closes it. */
  database: Database
  clock?: Clock
  /** false silences the logger (tests); a stream receives its lines instead of stdout. */
  logger?: false | { stream: NodeJS.WritableStream }
}

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.email',
  '*.displayName',
  '*.guardianConsent',
  '*.birthDate',
]

const SECURITY_HEADERS = securityHeaders()

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: config.logLevel,
            redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
            // A request is logged by method and path: no query string (it may carry an email),
            // no client address (personal data); the request id ties the lines together.
            serializers: {
              req: (request: { method: string; url: string; id?: string }) => ({ id: request.id, method: request.method, path: request.url.split('?')[0] }),
              res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
            },
            ...(options.logger ? { stream: options.logger.stream } : {}),
          },
    bodyLimit: config.bodyLimit,
    // Behind a load balancer the client is the forwarded address (consents keep its network).
    trustProxy: config.trustProxy,
    // Two parameters with the same name, or a JSON body with __proto__, are refused rather than merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    // What fails before routing answers problem+json with the usual headers too.
    frameworkErrors: (error, _request, reply) => {
      reply.headers(SECURITY_HEADERS)
      void sendProblem(reply, routerProblem(error))
    },
    clientErrorHandler: (error, socket) => {
      if ((error as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return
      if (socket.writable) socket.write(clientErrorResponse(error as { code?: string }, SECURITY_HEADERS))
      socket.destroy(error)
    },
  }).withTypeProvider<ZodTypeProvider>()
  // Bodies are JSON only: fastify's text/plain parser would turn a text body into a 400 instead of a 415.
  app.removeContentTypeParser('text/plain')
  // Many clients set Content-Type: application/json on every POST, body or not: an empty JSON
  // body is no body, as if the header were absent. A route without a body schema takes it; a
  // route with one still refuses it (400 validation_failed), exactly as it refuses a missing body.
  const parseJson = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning!, app.initialConfig.onConstructorPoisoning!)
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) return done(null, undefined)
    parseJson(request, body as string, done)
  })
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(compiledSerializerCompiler)

  // Order matters: /docs is registered before auth, so it is the only part that needs no token
  // without saying so; every later route is authenticated unless it declares `public`.
  await app.register(problem)
  await app.register(securityHeadersPlugin)
  await app.register(inFlight, { max: config.maxInFlight, ...config.inFlightQueue, ...config.pressure })
  await app.register(rateLimits, config.rateLimits)
  await app.register(openapi)
  await app.register(database, { database: options.database })
  // Without an injected clock (tests move one by hand), instants come from the database's clock.
  const clock = options.clock ?? (await serverClock(app, options.database))
  const services = createServices(options.database, clock, config, (error, source) => app.log.error({ error: loggableError(error), source }, `${source} failed`))
  app.addHook('onClose', async () => services.stop())
  app.decorate('services', services)
  // Other processes' writes reach this process's caches through the database (src/lib/cache.ts).
  const unlisten = await options.database.listen(CACHE_CHANNEL, {
    onMessage: (payload) => {
      const change = decodeInvalidation(payload)
      if (change) services.cache.invalidate(change)
    },
    onConnect: () => services.cache.reset(true),
    onLost: () => services.cache.reset(false),
  })
  app.addHook('onClose', async () => unlisten())
  // Events stamped by another process wake this process's streams.
  // A lost listener only delays them: each stream reads the outbox again at its heartbeat.
  const unlistenEvents = await options.database.listen(EVENTS_CHANNEL, {
    onMessage: (payload) => void services.relay.wake(Number(payload)),
    onConnect: () => void services.relay.wake(0),
    onLost: () => undefined,
  })
  app.addHook('onClose', async () => unlistenEvents())
  await app.register(auth, { config, userStanding: services.repositories.users.standingOf })

  await app.register(privacySignals)
  await app.register(idempotency, { repository: services.repositories.idempotency, clock })
  await app.register(healthRoutes)
  await app.register(accountsRoutes, { prefix: '/v1' })
  await app.register(usersRoutes, { prefix: '/v1' })
  await app.register(groupsRoutes, { prefix: '/v1' })
  await app.register(settingsRoutes, { prefix: '/v1' })
  await app.register(meetingsRoutes, { prefix: '/v1' })
  await app.register(participantsRoutes, { prefix: '/v1' })
  await app.register(noticesRoutes, { prefix: '/v1' })
  // Consents also serve /.well-known/jwks.json, so they carry their own /v1 paths.
  await app.register(consentsRoutes)
  await app.register(gateRoutes, { prefix: '/v1' })
  await app.register(recordingsRoutes, { prefix: '/v1' })
  await app.register(transcriptsRoutes, { prefix: '/v1' })
  await app.register(attentionRoutes, { prefix: '/v1' })
  await app.register(monitoringRoutes, { prefix: '/v1' })
  await app.register(auditRoutes, { prefix: '/v1' })
  await app.register(supportRoutes, { prefix: '/v1' })
  await app.register(legalHoldsRoutes, { prefix: '/v1' })
  await app.register(privacyRoutes, { prefix: '/v1' })
  await app.register(webhooksRoutes, { prefix: '/v1' })
  await app.register(FastifySSEPlugin, { retryDelay: 3000 })
  await app.register(eventsRoutes, { prefix: '/v1' })
  return app
}

async function serverClock(app: FastifyInstance, database: Database): Promise<Clock> {
  const clock = await databaseClock(async () => {
    const [row] = rowsOf<{ now: string | Date }>(await database.db.execute(sql`select clock_timestamp() as now`))
    return new Date(row!.now)
  })
  app.addHook('onClose', async () => clock.stop())
  return clock
}
