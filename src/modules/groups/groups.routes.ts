import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import {
  CreateGroupSchema,
  GroupMemberPageSchema,
  GroupPageSchema,
  GroupParamsSchema,
  GroupSchema,
  MemberParamsSchema,
  PageQuerySchema,
} from './groups.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.groups

  app.post('/accounts/:accountId/groups', {
    schema: {
      operationId: 'createGroup',
      tags: ['groups'],
      summary: 'Create a group (a settings layer between account and user)',
      params: AccountParamsSchema,
      body: CreateGroupSchema,
      response: { 201: GroupSchema, 409: problemResponse('The account already has a group with this name') },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/groups', {
    schema: {
      operationId: 'listGroups',
      tags: ['groups'],
      summary: "List the account's groups",
      params: AccountParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: GroupPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.get('/accounts/:accountId/groups/:groupId/members', {
    schema: {
      operationId: 'listGroupMembers',
      tags: ['groups'],
      summary: "List a group's members",
      params: GroupParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: GroupMemberPageSchema },
    },
    handler: (request) =>
      service.members(request.principal, request.params.accountId, request.params.groupId, request.query),
  })

  app.put('/accounts/:accountId/groups/:groupId/members/:userId', {
    schema: {
      operationId: 'addGroupMember',
      tags: ['groups'],
      summary: 'Add a user to a group (idempotent)',
      params: MemberParamsSchema,
      response: { 204: z.undefined().describe('The user is a member') },
    },
    handler: async (request, reply) => {
      const { accountId, groupId, userId } = request.params
      await service.addMember(request.principal, accountId, groupId, userId)
      return reply.code(204).send()
    },
  })

  app.delete('/accounts/:accountId/groups/:groupId/members/:userId', {
    schema: {
      operationId: 'removeGroupMember',
      tags: ['groups'],
      summary: 'Remove a user from a group',
      params: MemberParamsSchema,
      response: { 204: z.undefined().describe('The user is no longer a member') },
    },
    handler: async (request, reply) => {
      const { accountId, groupId, userId } = request.params
      await service.removeMember(request.principal, accountId, groupId, userId)
      return reply.code(204).send()
    },
  })
}

export default routes
