import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponse } from '../../plugins/problem.js'
import {
  CreateNoticeSchema,
  ListNoticesQuerySchema,
  NoticePageSchema,
  NoticeParamsSchema,
  NoticeSchema,
  PublishVersionSchema,
} from './notices.schemas.js'

const AccountParams = z.strictObject({ accountId: z.uuid() })

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.notices

  app.post('/accounts/:accountId/notices', {
    schema: {
      operationId: 'createNotice',
      tags: ['notices'],
      summary: 'Create a notice of a kind and locale, publishing its version 1 (admin)',
      params: AccountParams,
      body: CreateNoticeSchema,
      response: { 201: NoticeSchema, 409: problemResponse('notice_exists: the account has a notice of this kind and locale') },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/notices', {
    schema: {
      operationId: 'listNotices',
      tags: ['notices'],
      summary: "The account's notices with their current version (admin)",
      params: AccountParams,
      querystring: ListNoticesQuerySchema,
      response: { 200: NoticePageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.post('/accounts/:accountId/notices/:noticeId/versions', {
    schema: {
      operationId: 'publishNoticeVersion',
      tags: ['notices'],
      summary: 'Publish a new immutable version of a notice (admin)',
      params: NoticeParamsSchema,
      body: PublishVersionSchema,
      response: { 201: NoticeSchema, 409: problemResponse('notice_unchanged: the current version has this text and title') },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await service.publish(request.principal, request.params.accountId, request.params.noticeId, request.body)),
  })
}

export default routes
