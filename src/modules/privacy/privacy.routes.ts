import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import {
  AccountRequestParamsSchema,
  ExportDocumentSchema,
  FileForSubjectSchema,
  FileOwnRequestSchema,
  ListRequestsQuerySchema,
  OwnRequestsSchema,
  PatchRequestSchema,
  PrivacyRequestPageSchema,
  PrivacyRequestSchema,
  RequestParamsSchema,
} from './privacy.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.privacy
  const tags = ['privacy requests']

  app.post('/me/privacy-requests', {
    schema: {
      operationId: 'filePrivacyRequest',
      tags,
      summary: 'File a privacy request about yourself (P-DSR-1…7)',
      description:
        'Verified on receipt (your token is the verification) and worked in the background; due by the account’s deadline. A second open request of the same type is 409 `request_open` naming it. `cancel_account` refuses your tokens at once.',
      body: FileOwnRequestSchema,
      response: { 201: PrivacyRequestSchema, 409: problemResponse('request_open: a request of this type is still open (requestId names it)') },
    },
    handler: async (request, reply) => reply.code(201).send(await service.fileOwn(request.principal, request.body)),
  })

  app.get('/me/privacy-requests', {
    schema: { operationId: 'listOwnPrivacyRequests', tags, summary: 'Your privacy requests, newest first, each with its history', response: { 200: OwnRequestsSchema } },
    handler: (request) => service.listOwn(request.principal),
  })

  app.get('/me/privacy-requests/:requestId/export', {
    schema: {
      operationId: 'downloadOwnPrivacyExport',
      tags,
      summary: 'The document answering your access or portability request (audited)',
      params: RequestParamsSchema,
      response: { 200: ExportDocumentSchema },
    },
    handler: (request) => service.downloadOwn(request.principal, request.params.requestId),
  })

  app.post('/me/privacy-requests/:requestId/lift', {
    schema: {
      operationId: 'liftOwnRestriction',
      tags,
      summary: 'End your completed restriction or objection: processing that depended on it resumes',
      params: RequestParamsSchema,
      response: { 200: PrivacyRequestSchema, 409: problemResponse('not_liftable: only a completed restriction or objection that still stands') },
    },
    handler: (request) => service.liftOwn(request.principal, request.params.requestId),
  })

  app.get('/me/export', {
    schema: { operationId: 'exportMe', tags, summary: 'Everything held about you, now, as the access request’s document (audited)', response: { 200: ExportDocumentSchema } },
    handler: (request) => service.exportNow(request.principal),
  })

  app.get('/accounts/:accountId/privacy-requests', {
    schema: {
      operationId: 'listPrivacyRequests',
      tags,
      summary: 'The account’s privacy requests by due date, with the count of overdue ones (admins)',
      params: AccountParamsSchema,
      querystring: ListRequestsQuerySchema,
      response: { 200: PrivacyRequestPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.post('/accounts/:accountId/privacy-requests', {
    schema: {
      operationId: 'filePrivacyRequestForSubject',
      tags,
      summary: 'File a request for a user or a guest, as the controller (admins; P-GOV-1)',
      description: 'It starts when an admin marks it verified (PATCH status verified). A guest is named by meeting and participant, for access and erasure.',
      params: AccountParamsSchema,
      body: FileForSubjectSchema,
      response: { 201: PrivacyRequestSchema, 409: problemResponse('request_open: a request of this type is still open for the subject (requestId names it)') },
    },
    handler: async (request, reply) => reply.code(201).send(await service.fileForSubject(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/privacy-requests/:requestId', {
    schema: { operationId: 'getPrivacyRequest', tags, summary: 'One privacy request with its history (admins)', params: AccountRequestParamsSchema, response: { 200: PrivacyRequestSchema } },
    handler: (request) => service.get(request.principal, request.params.accountId, request.params.requestId),
  })

  app.patch('/accounts/:accountId/privacy-requests/:requestId', {
    schema: {
      operationId: 'updatePrivacyRequest',
      tags,
      summary: 'Move a request on, extend its deadline once, or lift a restriction (admins)',
      description: 'An invalid move is 409 `invalid_transition`; a second extension is 409 `already_extended`.',
      params: AccountRequestParamsSchema,
      body: PatchRequestSchema,
      response: { 200: PrivacyRequestSchema, 409: problemResponse('invalid_transition, already_extended, request_closed or not_liftable') },
    },
    handler: (request) => service.patch(request.principal, request.params.accountId, request.params.requestId, request.body),
  })

  app.get('/accounts/:accountId/privacy-requests/:requestId/export', {
    schema: { operationId: 'downloadPrivacyExport', tags, summary: 'The export of an access or portability request (admins; audited)', params: AccountRequestParamsSchema, response: { 200: ExportDocumentSchema } },
    handler: (request) => service.download(request.principal, request.params.accountId, request.params.requestId),
  })
}

export default routes
