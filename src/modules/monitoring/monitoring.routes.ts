import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { DiagnosticsPageSchema, DiagnosticsRecordSchema, DiagnosticsSchema, ListDiagnosticsQuerySchema, MediaMonitoringChangeSchema, MediaMonitoringStateSchema } from './monitoring.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.monitoring

  app.put('/me/media-monitoring', {
    schema: {
      operationId: 'setMediaMonitoring',
      tags: ['media monitoring'],
      summary: 'Opt in to or out of media-traffic diagnostics (a media_monitoring consent record)',
      body: MediaMonitoringChangeSchema,
      response: { 200: MediaMonitoringStateSchema, 409: problemResponse('notice_outdated: a newer version of the notice is published') },
    },
    handler: (request) => service.setOptIn(request.principal, request.body, { userAgent: request.headers['user-agent'], ip: request.ip }),
  })

  app.post('/media-diagnostics', {
    schema: {
      operationId: 'submitMediaDiagnostics',
      tags: ['media monitoring'],
      summary: 'Quality figures of a period; accepted only when the account allows monitoring and the user opted in',
      body: DiagnosticsSchema,
      response: {
        201: DiagnosticsRecordSchema,
        409: problemResponse('monitoring_not_allowed (the account), monitoring_not_opted_in (the user), processing_restricted or minor_without_guardian'),
      },
    },
    handler: async (request, reply) => reply.code(201).send(await service.submit(request.principal, request.body, { ip: request.ip })),
  })

  app.get('/me/media-diagnostics', {
    schema: {
      operationId: 'listMyMediaDiagnostics',
      tags: ['media monitoring'],
      summary: "The caller's own media diagnostics",
      querystring: ListDiagnosticsQuerySchema,
      response: { 200: DiagnosticsPageSchema },
    },
    handler: (request) => service.mine(request.principal, request.query),
  })
}

export default routes
