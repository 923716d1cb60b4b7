import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DomainError } from '../../lib/errors.js'
import { problemResponse } from '../../plugins/problem.js'

const READY_DEADLINE_MS = 1000

const routes: FastifyPluginAsyncZod = async (app) => {
  app.get('/health', {
    config: { public: true },
    schema: {
      operationId: 'getHealth',
      tags: ['operations'],
      summary: 'The process is up',
      response: { 200: z.object({ status: z.literal('ok') }) },
    },
    handler: async () => ({ status: 'ok' as const }),
  })

  app.get('/ready', {
    config: { public: true },
    schema: {
      operationId: 'getReadiness',
      tags: ['operations'],
      summary: 'The database is reachable and its migrations are current',
      response: {
        200: z.object({ status: z.literal('ready'), database: z.enum(['postgres', 'pglite']) }),
        503: problemResponse('The database is unreachable or has pending migrations'),
      },
    },
    handler: async () => {
      // A probe answers within its deadline: while PostgreSQL restarts, queries wait for the
      // driver to reconnect, and a readiness check that waited too would never say "not ready".
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), READY_DEADLINE_MS)
      })
      const current = await Promise.race([app.database.migrationsCurrent().catch(() => false), deadline]).finally(() => clearTimeout(timer))
      if (!current) throw new DomainError(503, 'not_ready', 'The database is unreachable or has pending migrations')
      return { status: 'ready' as const, database: app.database.kind }
    },
  })
}

export default routes
