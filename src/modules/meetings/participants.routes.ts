import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { PageQuerySchema } from '../../lib/pagination.js'
import { problemResponse } from '../../plugins/problem.js'
import { MeetingParamsSchema } from './meetings.schemas.js'
import {
  AdmissionSchema,
  ChangeRoleSchema,
  JoinAnswerSchema,
  JoinSchema,
  ParticipantPageSchema,
  ParticipantParamsSchema,
  ParticipantSchema,
} from './participants.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.participants

  app.post('/meetings/:meetingId/participants', {
    // A guest's row carries the request's key (retries are answered from it); a user's join, which
    // reuses the user's row, keeps the stored answer.
    config: { idempotency: (request) => (request.body as { guest?: unknown } | undefined)?.guest !== undefined },
    schema: {
      operationId: 'joinMeeting',
      tags: ['participants'],
      summary: 'Join a live meeting (the caller, or a guest); answers what the client applies on entry',
      description:
        'With meeting.passcode_required on, a meeting that has a passcode needs it (the host and admins excepted). With meeting.waiting_room on (the default), the joiner waits (`waiting: true`, no presence, never captured) until the host, a cohost or an admin admits them; the host, admins, cohosts and guests joined by the host\'s or an admin\'s client enter at once.',
      params: MeetingParamsSchema,
      body: JoinSchema,
      response: {
        201: JoinAnswerSchema,
        403: problemResponse('passcode_invalid: the passcode is missing or wrong; forbidden: the caller may not join this way'),
        429: problemResponse('rate_limited: too many wrong passcodes for this meeting from this address, or too many requests'),
        409: problemResponse('meeting_not_live: the meeting is not live; already_present: in the meeting or its waiting room already, leave first'),
      },
    },
    handler: async (request, reply) => {
      const key = request.headers['idempotency-key']
      // Passcode guesses are limited per meeting and address, before another scrypt hash is spent.
      await app.limits.beforePasscode(request)
      const { answer, replayed } = await service
        .join(request.principal, request.params.meetingId, request.body, typeof key === 'string' ? key : undefined)
        .catch(async (error: { code?: string }) => {
          if (error.code === 'passcode_invalid') await app.limits.passcodeFailed(request)
          throw error
        })
      if (replayed) reply.header('idempotent-replayed', 'true')
      return reply.code(201).send(answer)
    },
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
    handler: (request) => service.list(request.principal, request.params.meetingId, request.query),
  })

  app.post('/meetings/:meetingId/participants/:participantId/admit', {
    schema: {
      operationId: 'admitParticipant',
      tags: ['participants'],
      summary: 'Let a participant in from the waiting room (host, cohost or admin); presence counts from now',
      params: ParticipantParamsSchema,
      response: { 200: AdmissionSchema, 409: problemResponse('not_waiting: the participant is not in the waiting room; meeting_not_live') },
    },
    handler: (request) => service.admit(request.principal, request.params.meetingId, request.params.participantId),
  })

  app.patch('/meetings/:meetingId/participants/:participantId', {
    schema: {
      operationId: 'changeParticipantRole',
      tags: ['participants'],
      summary: 'Make a participant a cohost or an attendee (host or admin)',
      params: ParticipantParamsSchema,
      body: ChangeRoleSchema,
      response: {
        200: ParticipantSchema,
        409: problemResponse("host_role_fixed: the host's role does not change; cohost_needs_user: a guest cannot be a cohost"),
      },
    },
    handler: (request) => service.changeRole(request.principal, request.params.meetingId, request.params.participantId, request.body),
  })

  app.post('/meetings/:meetingId/participants/:participantId/leave', {
    schema: {
      operationId: 'leaveMeeting',
      tags: ['participants'],
      summary: "Close the participant's open presence interval, or take them out of the waiting room",
      params: ParticipantParamsSchema,
      response: { 204: z.undefined().describe('Left'), 409: problemResponse('not_present: neither in the meeting nor in its waiting room') },
    },
    handler: async (request, reply) => {
      await service.leave(request.principal, request.params.meetingId, request.params.participantId)
      return reply.code(204).send()
    },
  })
}

export default routes
