import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PageQuerySchema } from '../../lib/pagination.js'
import { problemResponse } from '../../plugins/problem.js'
import { EffectiveSettingsSchema, LayerSettingsSchema, PatchLayerSchema } from '../settings/settings.schemas.js'
import {
  CreateMeetingSchema,
  JoinAnswerSchema,
  JoinSchema,
  ListMeetingsQuerySchema,
  MeetingPageSchema,
  MeetingParamsSchema,
  MeetingSchema,
  ParticipantPageSchema,
  ParticipantParamsSchema,
  UpdateMeetingSchema,
} from './meetings.schemas.js'

const TRANSITION_CONFLICT = problemResponse('invalid_transition: the meeting is not in a state that allows this')

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.meetings

  app.post('/meetings', {
    schema: {
      operationId: 'createMeeting',
      tags: ['meetings'],
      summary: 'Schedule a meeting hosted by the caller',
      body: CreateMeetingSchema,
      response: { 201: MeetingSchema },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body)),
  })

  app.get('/meetings', {
    schema: {
      operationId: 'listMeetings',
      tags: ['meetings'],
      summary: 'Meetings the caller hosts or joined (all of the account for admins); from/to give upcoming ones',
      querystring: ListMeetingsQuerySchema,
      response: { 200: MeetingPageSchema },
    },
    handler: (request) => service.list(request.principal, request.query),
  })

  app.get('/meetings/:meetingId', {
    schema: {
      operationId: 'getMeeting',
      tags: ['meetings'],
      summary: 'Read a meeting (host, participants, admins, the recorder)',
      params: MeetingParamsSchema,
      response: { 200: MeetingSchema },
    },
    handler: (request) => service.get(request.principal, request.params.meetingId),
  })

  app.patch('/meetings/:meetingId', {
    schema: {
      operationId: 'updateMeeting',
      tags: ['meetings'],
      summary: "Change a meeting's topic, schedule, time zone or passcode (host or admin)",
      params: MeetingParamsSchema,
      body: UpdateMeetingSchema,
      response: { 200: MeetingSchema, 409: problemResponse('meeting_closed: the meeting ended or was cancelled') },
    },
    handler: (request) => service.update(request.principal, request.params.meetingId, request.body),
  })

  app.delete('/meetings/:meetingId', {
    schema: {
      operationId: 'cancelMeeting',
      tags: ['meetings'],
      summary: 'Cancel a scheduled meeting (host or admin)',
      params: MeetingParamsSchema,
      response: { 200: MeetingSchema, 409: TRANSITION_CONFLICT },
    },
    handler: (request) => service.cancel(request.principal, request.params.meetingId),
  })

  app.post('/meetings/:meetingId/start', {
    schema: {
      operationId: 'startMeeting',
      tags: ['meetings'],
      summary: 'Start a scheduled meeting; the server clock stamps it',
      params: MeetingParamsSchema,
      response: { 200: MeetingSchema, 409: TRANSITION_CONFLICT },
    },
    handler: (request) => service.start(request.principal, request.params.meetingId),
  })

  app.post('/meetings/:meetingId/end', {
    schema: {
      operationId: 'endMeeting',
      tags: ['meetings'],
      summary: 'End a live meeting; every open presence interval closes at the same instant',
      params: MeetingParamsSchema,
      response: { 200: MeetingSchema, 409: TRANSITION_CONFLICT },
    },
    handler: (request) => service.end(request.principal, request.params.meetingId),
  })

  app.get('/meetings/:meetingId/settings', {
    schema: {
      operationId: 'getMeetingSettings',
      tags: ['settings'],
      summary: "The meeting layer's own values (host or admin)",
      params: MeetingParamsSchema,
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) => service.getSettings(request.principal, request.params.meetingId),
  })

  app.patch('/meetings/:meetingId/settings', {
    schema: {
      operationId: 'updateMeetingSettings',
      tags: ['settings'],
      summary: 'Set or remove (null) meeting-layer settings, within the locks of the layers above (host or admin)',
      params: MeetingParamsSchema,
      body: PatchLayerSchema,
      response: {
        200: LayerSettingsSchema,
        409: problemResponse('setting_locked / setting_floor: a lock above forbids it; meeting_closed: the meeting ended or was cancelled'),
      },
    },
    handler: (request) => service.patchSettings(request.principal, request.params.meetingId, request.body),
  })

  app.get('/meetings/:meetingId/settings/effective', {
    schema: {
      operationId: 'getMeetingEffectiveSettings',
      tags: ['settings'],
      summary: "Every key's effective value for the meeting (the host's chain plus the meeting layer), with provenance",
      params: MeetingParamsSchema,
      response: { 200: EffectiveSettingsSchema },
    },
    handler: (request) => service.effectiveSettings(request.principal, request.params.meetingId),
  })

  app.post('/meetings/:meetingId/participants', {
    schema: {
      operationId: 'joinMeeting',
      tags: ['participants'],
      summary: 'Join a live meeting (the caller, or a guest); answers what the client applies on entry',
      params: MeetingParamsSchema,
      body: JoinSchema,
      response: {
        201: JoinAnswerSchema,
        409: problemResponse('meeting_not_live: the meeting is not live; already_present: leave before joining again'),
      },
    },
    handler: async (request, reply) =>
      reply.code(201).send(await service.join(request.principal, request.params.meetingId, request.body)),
  })

  app.get('/meetings/:meetingId/participants', {
    schema: {
      operationId: 'listParticipants',
      tags: ['participants'],
      summary: 'Participants with their presence intervals and total participation (host, cohosts, admins)',
      params: MeetingParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: ParticipantPageSchema },
    },
    handler: (request) => service.participants(request.principal, request.params.meetingId, request.query),
  })

  app.post('/meetings/:meetingId/participants/:participantId/leave', {
    schema: {
      operationId: 'leaveMeeting',
      tags: ['participants'],
      summary: "Close the participant's open presence interval",
      params: ParticipantParamsSchema,
      response: { 204: z.undefined().describe('Left'), 409: problemResponse('not_present: no open stay to close') },
    },
    handler: async (request, reply) => {
      await service.leave(request.principal, request.params.meetingId, request.params.participantId)
      return reply.code(204).send()
    },
  })
}

export default routes
