import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import { CreateLegalHoldSchema, LegalHoldPageSchema, LegalHoldParamsSchema, LegalHoldSchema, ListLegalHoldsQuerySchema } from './legal-holds.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.legalHolds

  app.post('/accounts/:accountId/legal-holds', {
    schema: {
      operationId: 'createLegalHold',
      tags: ['retention'],
      summary: "Suspend deletion of a user's or a meeting's data (admins; P-RET-2)",
      description:
        'While the hold runs, the purge skips every row it covers and reports them as withheld with the hold id. An unknown user or meeting is 404; `until` not after `from` is 400; an unreleased hold on the same subject over the same period is 409 `hold_exists` naming it.',
      params: AccountParamsSchema,
      body: CreateLegalHoldSchema,
      response: { 201: LegalHoldSchema },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/legal-holds', {
    schema: {
      operationId: 'listLegalHolds',
      tags: ['retention'],
      summary: "The account's legal holds, running and released (admins)",
      params: AccountParamsSchema,
      querystring: ListLegalHoldsQuerySchema,
      response: { 200: LegalHoldPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.get('/accounts/:accountId/legal-holds/:holdId', {
    schema: {
      operationId: 'getLegalHold',
      tags: ['retention'],
      summary: 'One legal hold (admins)',
      params: LegalHoldParamsSchema,
      response: { 200: LegalHoldSchema },
    },
    handler: (request) => service.get(request.principal, request.params.accountId, request.params.holdId),
  })

  app.delete('/accounts/:accountId/legal-holds/:holdId', {
    schema: {
      operationId: 'releaseLegalHold',
      tags: ['retention'],
      summary: 'Release a legal hold: its data is eligible for deletion at the next purge (admins)',
      params: LegalHoldParamsSchema,
      response: { 200: LegalHoldSchema },
    },
    handler: (request) => service.release(request.principal, request.params.accountId, request.params.holdId),
  })
}

export default routes
