import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import {
  CreateUserSchema,
  ListUsersQuerySchema,
  UpdateUserSchema,
  UserPageSchema,
  UserParamsSchema,
  UserSchema,
} from './users.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.users

  app.post('/accounts/:accountId/users', {
    schema: {
      operationId: 'createUser',
      tags: ['users'],
      summary: 'Create a user of the account',
      params: AccountParamsSchema,
      body: CreateUserSchema,
      response: { 201: UserSchema, 409: problemResponse('Another user of the account has this email') },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/users', {
    schema: {
      operationId: 'listUsers',
      tags: ['users'],
      summary: "List the account's users, oldest first",
      params: AccountParamsSchema,
      querystring: ListUsersQuerySchema,
      response: { 200: UserPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.get('/accounts/:accountId/users/:userId', {
    schema: {
      operationId: 'getUser',
      tags: ['users'],
      summary: 'Read a user',
      params: UserParamsSchema,
      response: { 200: UserSchema },
    },
    handler: (request) => service.get(request.principal, request.params.accountId, request.params.userId),
  })

  app.patch('/accounts/:accountId/users/:userId', {
    schema: {
      operationId: 'updateUser',
      tags: ['users'],
      summary: "Change a user's profile, roles, minor flag, guardian consent or status",
      params: UserParamsSchema,
      body: UpdateUserSchema,
      response: { 200: UserSchema, 409: problemResponse('Another user of the account has this email') },
    },
    handler: (request) =>
      service.update(request.principal, request.params.accountId, request.params.userId, request.body),
  })

  app.delete('/accounts/:accountId/users/:userId', {
    schema: {
      operationId: 'cancelUser',
      tags: ['users'],
      summary: 'Cancel a user: personal fields are anonymised, group memberships end',
      params: UserParamsSchema,
      response: { 204: z.undefined().describe('Cancelled') },
    },
    handler: async (request, reply) => {
      await service.cancel(request.principal, request.params.accountId, request.params.userId)
      return reply.code(204).send()
    },
  })

  app.get('/me', {
    schema: {
      operationId: 'getMe',
      tags: ['users'],
      summary: 'The calling user',
      response: { 200: UserSchema },
    },
    handler: (request) => service.me(request.principal),
  })
}

export default routes
