import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema, AccountSchema, CreateAccountSchema, UpdateAccountSchema } from './accounts.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.accounts

  app.post('/accounts', {
    schema: {
      operationId: 'createAccount',
      tags: ['accounts'],
      summary: 'Create an account (tenant); platform operators only',
      body: CreateAccountSchema,
      response: { 201: AccountSchema, 409: problemResponse("region_not_served: this deployment's database does not hold accounts of that data region (SERVED_REGIONS)") },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body)),
  })

  app.get('/accounts/:accountId', {
    schema: {
      operationId: 'getAccount',
      tags: ['accounts'],
      summary: 'Read an account',
      params: AccountParamsSchema,
      response: { 200: AccountSchema },
    },
    handler: (request) => service.get(request.principal, request.params.accountId),
  })

  app.patch('/accounts/:accountId', {
    schema: {
      operationId: 'updateAccount',
      tags: ['accounts'],
      summary: "Change an account's name, minor age threshold or request deadline",
      params: AccountParamsSchema,
      body: UpdateAccountSchema,
      response: { 200: AccountSchema, 409: problemResponse('The data region cannot be changed through the API') },
    },
    handler: (request) => service.update(request.principal, request.params.accountId, request.body),
  })
}

export default routes
