import fp from 'fastify-plugin'
import type { Database } from '../../db/client.js'
import { createLimiter, holdUntilClosed } from '../lib/limiter.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
  }
  interface FastifyContextConfig {
    /** The route streams a long request body: it runs outside the in-flight limit. */
    streamsBody?: boolean
  }
}

// The app receives an open database (server.ts or the test helper opens it) so that tests can
// share one embedded database across many app instances; closing it is the opener's job.
//
// With `maxInFlight` (the PostgreSQL pool size) at most that many requests run at once and the
// others wait in an O(1) queue here: a request sends its statements one after another, so the
// driver never holds more queries than connections (see src/lib/limiter.ts for why).
export default fp<{ database: Database; maxInFlight?: number | undefined }>(
  async (app, { database, maxInFlight }) => {
    app.decorate('database', database)
    if (!maxInFlight) return
    const limiter = createLimiter(maxInFlight)
    app.addHook('onRequest', async (request, reply) => {
      // An upload streams for as long as the client sends; it must not keep a slot meanwhile.
      if (request.routeOptions.config?.streamsBody) return
      await holdUntilClosed(limiter, reply.raw)
    })
  },
  { name: 'database' },
)
