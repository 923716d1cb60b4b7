import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PrivacySignals } from './settings.service.js'

// Global Privacy Control and Do-Not-Track (P-SET-5): any authenticated request of a user that
// carries exactly `Sec-GPC: 1` or `DNT: 1` turns the signalled keys off before the route runs,
// even when the request then fails validation (preValidation runs after authentication).

export function signalsOf(request: FastifyRequest): PrivacySignals {
  return {
    gpc: request.headers['sec-gpc'] === '1',
    dnt: request.headers.dnt === '1',
    userAgent: request.headers['user-agent'],
  }
}

export default fp(
  async (app) => {
    app.addHook('preValidation', async (request) => {
      if (!request.principal) return
      const signals = signalsOf(request)
      if (signals.gpc || signals.dnt) await app.services.settings.applySignals(request.principal, signals)
    })

    app.withTypeProvider<ZodTypeProvider>().get(
      '/.well-known/gpc.json',
      {
        config: { public: true },
        schema: {
          operationId: 'getGpcStatement',
          tags: ['privacy-signals'],
          summary: 'The Global Privacy Control support statement',
          response: { 200: z.object({ gpc: z.boolean(), lastUpdate: z.iso.date() }) },
        },
      },
      async () => ({ gpc: true, lastUpdate: '2026-11-22' }),
    )
  },
  { name: 'privacy-signals' },
)
