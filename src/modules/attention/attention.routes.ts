import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { MeetingParamsSchema } from '../meetings/meetings.schemas.js'
import { AttentionEventAnswerSchema, AttentionEventSchema, AttentionSpanPageSchema, ListAttentionQuerySchema, ScreenShareSchema, ScreenShareStateSchema } from './attention.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.attention

  app.put('/meetings/:meetingId/screen-share', {
    schema: {
      operationId: 'setScreenShare',
      tags: ['attention'],
      summary: 'Start or stop the caller’s screen share (host or cohost); attention tracking runs only while one runs',
      params: MeetingParamsSchema,
      body: ScreenShareSchema,
      response: { 200: ScreenShareStateSchema, 409: problemResponse('meeting_not_live or not_present') },
    },
    handler: (request) => service.setScreenShare(request.principal, request.params.meetingId, request.body.active),
  })

  app.post('/meetings/:meetingId/attention-events', {
    schema: {
      operationId: 'reportAttentionEvent',
      tags: ['attention'],
      summary: "A participant's client reports focus lost or regained; refused unless every attention rule holds",
      params: MeetingParamsSchema,
      body: AttentionEventSchema,
      response: {
        201: AttentionEventAnswerSchema,
        409: problemResponse('attention_refused (errors[0].rule names the rule that failed), span_open or no_open_span'),
      },
    },
    handler: async (request, reply) => reply.code(201).send(await service.recordEvent(request.principal, request.params.meetingId, request.body)),
  })

  app.get('/meetings/:meetingId/attention-events', {
    schema: {
      operationId: 'listAttentionSpans',
      tags: ['attention'],
      summary: 'Kept out-of-focus spans: all of them for the host and cohosts (audited), a participant’s own for them',
      params: MeetingParamsSchema,
      querystring: ListAttentionQuerySchema,
      response: { 200: AttentionSpanPageSchema },
    },
    handler: (request) => service.listSpans(request.principal, request.params.meetingId, request.query),
  })
}

export default routes
