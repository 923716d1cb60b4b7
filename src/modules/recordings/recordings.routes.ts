import { Readable } from 'node:stream'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DomainError } from '../../lib/errors.js'
import { problemResponse } from '../../plugins/problem.js'
import { MeetingParamsSchema } from '../meetings/meetings.schemas.js'
import { CreateRecordingSchema, ListRecordingsQuerySchema, RecordingPageSchema, RecordingParamsSchema, RecordingSchema } from './recordings.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.recordings

  // Content arrives as raw bytes: the stream is handed to the service untouched (never buffered).
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload))

  app.post('/meetings/:meetingId/recordings', {
    schema: {
      operationId: 'createRecording',
      tags: ['recordings'],
      summary: 'Register a recording; the consent gate decides in the same transaction (recorder, host, admin)',
      params: MeetingParamsSchema,
      body: CreateRecordingSchema,
      response: {
        201: RecordingSchema,
        409: problemResponse("consent_missing (errors[] per participant and rule), recording_disabled, or region_storage_unavailable (a cloud recording in a data region with no storage configured; P-RES-1)"),
      },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.meetingId, request.body)),
  })

  app.get('/meetings/:meetingId/recordings', {
    schema: {
      operationId: 'listRecordings',
      tags: ['recordings'],
      summary: "The meeting's recordings (recorder, host, cohosts, admins)",
      params: MeetingParamsSchema,
      querystring: ListRecordingsQuerySchema,
      response: { 200: RecordingPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.meetingId, request.query),
  })

  app.get('/meetings/:meetingId/recordings/:recordingId', {
    schema: {
      operationId: 'getRecording',
      tags: ['recordings'],
      summary: "A recording's metadata and grant",
      params: RecordingParamsSchema,
      response: { 200: RecordingSchema },
    },
    handler: (request) => service.get(request.principal, request.params.meetingId, request.params.recordingId),
  })

  app.delete('/meetings/:meetingId/recordings/:recordingId', {
    schema: {
      operationId: 'deleteRecording',
      tags: ['recordings'],
      summary: 'Delete a recording and its bytes (host, admin); audited',
      params: RecordingParamsSchema,
      response: { 204: z.null().describe('Deleted (also when it already was)') },
    },
    handler: async (request, reply) => {
      await service.remove(request.principal, request.params.meetingId, request.params.recordingId)
      return reply.code(204).send(null)
    },
  })

  app.put('/meetings/:meetingId/recordings/:recordingId/content', {
    // The upload limit is enforced while streaming; no other body may reach a parser unbounded.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    onRequest: async (request) => {
      if (request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'application/octet-stream') {
        throw new DomainError(415, 'unsupported_media_type', 'Recording content is application/octet-stream')
      }
    },
    schema: {
      operationId: 'uploadRecordingContent',
      tags: ['recordings'],
      summary: "Stream a cloud recording's bytes; the gate decides again at commit (recorder, host, admin)",
      consumes: ['application/octet-stream'],
      params: RecordingParamsSchema,
      body: z.any().describe('The recording bytes (application/octet-stream), up to UPLOAD_LIMIT'),
      response: {
        200: RecordingSchema,
        409: problemResponse("consent_missing: the consent rules refuse this capture (errors[] names each participant, rule and instant); content_exists; or region_storage_unavailable: no storage in the account's data region, nothing was stored elsewhere (P-RES-1)"),
        413: problemResponse('upload_too_large: the bytes exceed UPLOAD_LIMIT; nothing was kept'),
      },
    },
    handler: (request) => {
      // Other content types have their own parsers (JSON); only raw bytes are a recording.
      if (!(request.body instanceof Readable)) throw new DomainError(415, 'unsupported_media_type', 'Recording content is application/octet-stream')
      return service.putContent(request.principal, request.params.meetingId, request.params.recordingId, request.body)
    },
  })

  app.get('/meetings/:meetingId/recordings/:recordingId/content', {
    schema: {
      operationId: 'downloadRecordingContent',
      tags: ['recordings'],
      summary: "A stored recording's bytes (host, admin); every read is audited",
      produces: ['application/octet-stream'],
      params: RecordingParamsSchema,
      response: { 200: z.any().describe('The recording bytes; the Digest header carries their sha-256') },
    },
    handler: async (request, reply) => {
      const content = await service.openContent(request.principal, request.params.meetingId, request.params.recordingId)
      return reply
        .type('application/octet-stream')
        .header('content-length', content.size)
        .header('repr-digest', `sha-256=:${Buffer.from(content.sha256, 'hex').toString('base64')}:`)
        .send(content.stream)
    },
  })
}

export default routes
