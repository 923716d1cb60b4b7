import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { MeetingParamsSchema } from '../meetings/meetings.schemas.js'
import { DecisionRequestSchema, DecisionSchema } from './gate.schemas.js'
import { gateInput, toDecision } from './gate.service.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const gate = app.services.gate

  app.post('/meetings/:meetingId/recording-decisions', {
    schema: {
      operationId: 'decideRecording',
      tags: ['consent gate'],
      summary: 'Would this capture window be allowed? The same decision a store makes, with every violation; stores nothing',
      description:
        'Runs the one consent decision that recording and transcript stores run, including the switches (recording.cloud.enabled, recording.local.enabled, transcript.enabled) and device permissions. A window still running may be asked about (recorders ask mid-capture).',
      params: MeetingParamsSchema,
      body: DecisionRequestSchema,
      response: { 200: DecisionSchema },
    },
    handler: async (request) => {
      const { scope, ...window } = request.body
      return toDecision(await gate.check(request.principal, request.params.meetingId, gateInput(scope, window, false)))
    },
  })
}

export default routes
