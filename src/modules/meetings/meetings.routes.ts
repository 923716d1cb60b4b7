import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { EffectiveSettingsSchema, LayerSettingsSchema, PatchLayerSchema } from '../settings/settings.schemas.js'
import {
  CreatedMeetingSchema,
  CreateMeetingSchema,
  ListMeetingsQuerySchema,
  MeetingPageSchema,
  MeetingParamsSchema,
  MeetingSchema,
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
      description:
        'Where meeting.passcode_required is on (the default) and no passcode is given, the server generates one and returns it in this answer only.',
      body: CreateMeetingSchema,
      response: { 201: CreatedMeetingSchema },
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
      response: {
        200: MeetingSchema,
        409: problemResponse('meeting_closed: the meeting ended or was cancelled; passcode_required: the passcode cannot be removed while meeting.passcode_required is on'),
      },
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
}

export default routes
