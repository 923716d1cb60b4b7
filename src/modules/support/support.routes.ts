import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import { CreateSupportGrantSchema, ListSupportGrantsQuerySchema, SupportGrantPageSchema, SupportGrantParamsSchema, SupportGrantSchema } from './support.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.support

  app.post('/accounts/:accountId/support-grants', {
    schema: {
      operationId: 'createSupportGrant',
      tags: ['support access'],
      summary: "Let the operator read this account's recordings and transcripts until a given time (admins; P-REC-6)",
      description: 'While a grant runs, a `platform` principal whose token names this account may read its recordings and transcripts; each read is audited with the grant id. Otherwise the operator gets 404.',
      params: AccountParamsSchema,
      body: CreateSupportGrantSchema,
      response: { 201: SupportGrantSchema },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/support-grants', {
    schema: {
      operationId: 'listSupportGrants',
      tags: ['support access'],
      summary: "The account's support grants, past and running (admins and the operator)",
      params: AccountParamsSchema,
      querystring: ListSupportGrantsQuerySchema,
      response: { 200: SupportGrantPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.delete('/accounts/:accountId/support-grants/:grantId', {
    schema: {
      operationId: 'revokeSupportGrant',
      tags: ['support access'],
      summary: 'End a support grant now (admins)',
      params: SupportGrantParamsSchema,
      response: { 200: SupportGrantSchema },
    },
    handler: (request) => service.revoke(request.principal, request.params.accountId, request.params.grantId),
  })
}

export default routes
