import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { MeetingParamsSchema } from '../meetings/meetings.schemas.js'
import { MeetingNoticeListSchema, MeetingNoticesQuerySchema } from '../notices/notices.schemas.js'
import { ConsentAnswerSchema, ConsentPageSchema, ConsentStatusSchema, CreateConsentSchema, JwksSchema, ListConsentsQuerySchema } from './consents.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.consents

  app.get('/.well-known/jwks.json', {
    config: { public: true },
    schema: {
      operationId: 'getReceiptKeys',
      tags: ['consents'],
      summary: 'The public keys that verify consent receipts offline',
      response: { 200: JwksSchema },
    },
    handler: async () => service.jwks(),
  })

  app.get('/v1/meetings/:meetingId/notices', {
    schema: {
      operationId: 'listMeetingNotices',
      tags: ['notices'],
      summary: "The current notice versions a participant of this meeting is shown, in the participant's language",
      params: MeetingParamsSchema,
      querystring: MeetingNoticesQuerySchema,
      response: { 200: MeetingNoticeListSchema },
    },
    handler: (request) => service.noticesForMeeting(request.principal, request.params.meetingId, request.query.locale),
  })

  app.post('/v1/meetings/:meetingId/consents', {
    // The record carries the request's key: retries are answered from it (see the service).
    config: { idempotency: 'in-record' },
    schema: {
      operationId: 'recordConsent',
      tags: ['consents'],
      summary: 'Append a consent record (grant, decline, withdrawal, notified) and get its signed receipt',
      params: MeetingParamsSchema,
      body: CreateConsentSchema,
      response: { 201: ConsentAnswerSchema, 409: problemResponse('notice_outdated: a newer version of the notice is published') },
    },
    handler: async (request, reply) => {
      const key = request.headers['idempotency-key']
      const { answer, replayed } = await service.record(request.principal, request.params.meetingId, request.body, {
        userAgent: request.headers['user-agent'],
        ip: request.ip,
        idempotencyKey: typeof key === 'string' ? key : undefined,
      })
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).send(answer)
    },
  })

  app.get('/v1/meetings/:meetingId/consents', {
    schema: {
      operationId: 'listConsents',
      tags: ['consents'],
      summary: "The meeting's consent history; asOf gives the state at an instant",
      params: MeetingParamsSchema,
      querystring: ListConsentsQuerySchema,
      response: { 200: ConsentPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.meetingId, request.query),
  })

  app.get('/v1/meetings/:meetingId/consent-status', {
    schema: {
      operationId: 'getConsentStatus',
      tags: ['consents'],
      summary: "Each participant's current consent per scope",
      params: MeetingParamsSchema,
      response: { 200: ConsentStatusSchema },
    },
    handler: (request) => service.status(request.principal, request.params.meetingId),
  })
}

export default routes
