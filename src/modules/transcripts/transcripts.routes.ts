import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponse } from '../../plugins/problem.js'
import { MeetingParamsSchema } from '../meetings/meetings.schemas.js'
import { CreateTranscriptSchema, ListTranscriptsQuerySchema, TranscriptPageSchema, TranscriptParamsSchema, TranscriptSchema } from './transcripts.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.transcripts

  app.post('/meetings/:meetingId/transcripts', {
    schema: {
      operationId: 'createTranscript',
      tags: ['transcripts'],
      summary: 'Store a transcript; each speaker passes the transcript-scope gate over their segments (recorder, host, admin)',
      params: MeetingParamsSchema,
      body: CreateTranscriptSchema,
      response: { 201: TranscriptSchema, 409: problemResponse('consent_missing (errors[] per speaker and rule) or transcript_disabled') },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.meetingId, request.body)),
  })

  app.get('/meetings/:meetingId/transcripts', {
    schema: {
      operationId: 'listTranscripts',
      tags: ['transcripts'],
      summary: "The meeting's transcripts, without their text",
      params: MeetingParamsSchema,
      querystring: ListTranscriptsQuerySchema,
      response: { 200: TranscriptPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.meetingId, request.query),
  })

  app.get('/meetings/:meetingId/transcripts/:transcriptId', {
    schema: {
      operationId: 'getTranscript',
      tags: ['transcripts'],
      summary: 'A transcript with its segments (host, admin); every read is audited',
      params: TranscriptParamsSchema,
      response: { 200: TranscriptSchema },
    },
    handler: (request) => service.get(request.principal, request.params.meetingId, request.params.transcriptId),
  })

  app.delete('/meetings/:meetingId/transcripts/:transcriptId', {
    schema: {
      operationId: 'deleteTranscript',
      tags: ['transcripts'],
      summary: 'Delete a transcript’s segments (host, admin); audited',
      params: TranscriptParamsSchema,
      response: { 204: z.null().describe('Deleted (also when it already was)') },
    },
    handler: async (request, reply) => {
      await service.remove(request.principal, request.params.meetingId, request.params.transcriptId)
      return reply.code(204).send(null)
    },
  })
}

export default routes
