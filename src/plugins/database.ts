import fp from 'fastify-plugin'
import type { Database } from '../../db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
  }
}

// The app receives an open database (server.ts or the test helper opens it) so that tests can
// share one embedded database across many app instances; closing it is the opener's job.
export default fp<{ database: Database }>(
  async (app, { database }) => {
    app.decorate('database', database)
  },
  { name: 'database' },
)
