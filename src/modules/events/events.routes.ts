import type {} from 'fastify-sse-v2'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { isUuid } from '../../lib/ids.js'
import { NotFoundError } from '../../lib/errors.js'
import { CLOSING_EVENTS } from './events.catalog.js'
import { eventBody } from './webhooks.service.js'

const HEARTBEAT_MS = 15_000
const MeetingParams = z.strictObject({ meetingId: z.uuid() })
const StreamHeaders = z.object({ 'last-event-id': z.string().max(15).regex(/^\d{1,15}$/).optional().describe('Resume after this event (its cursor)') })

const routes: FastifyPluginAsyncZod = async (app) => {
  const { events, relay } = app.services
  const meetings = app.services.repositories.meetings

  app.get('/meetings/:meetingId/events', {
    // A stream is not work in flight: it waits on the database's notifications, not a query.
    config: { stream: true },
    schema: {
      operationId: 'streamMeetingEvents',
      tags: ['events'],
      summary: 'The meeting’s events as they commit (Server-Sent Events)',
      description:
        'Each message: `id` the event’s cursor, `event` its type, `data` the same JSON a webhook receives. The recorder role, the host, cohosts and admins see all of the meeting’s events; an attendee sees meeting-level events and their own. `Last-Event-ID` resumes after a cursor. A `heartbeat` event comes every 15 seconds; the stream ends after `meeting.ended` or `meeting.cancelled`.',
      params: MeetingParams,
      headers: StreamHeaders,
      response: { 200: z.string().describe('text/event-stream') },
    },
    handler: async (request, reply) => {
      const principal = request.principal
      const meeting = await meetings.findById(principal.accountId, request.params.meetingId)
      if (!meeting) throw new NotFoundError('Meeting')
      const seesAll = principal.roles.includes('admin') || principal.roles.includes('recorder') || meeting.hostUserId === principal.subject
      let own: string | null = null
      if (!seesAll) {
        const participant = isUuid(principal.subject) ? await meetings.participantOfUser(principal.accountId, meeting.id, principal.subject) : undefined
        if (!participant) throw new NotFoundError('Meeting')
        if (participant.role !== 'cohost') own = participant.id
      }
      const closed = new AbortController()
      request.raw.on('close', () => closed.abort())
      let last = Number(request.headers['last-event-id'] ?? 0)
      const accountId = principal.accountId
      reply.sse(
        (async function* stream() {
          while (!closed.signal.aborted) {
            const rows = await events.meetingEventsAfter(accountId, meeting.id, last, own, 100)
            for (const row of rows) {
              last = row.cursor!
              yield { id: String(row.cursor), event: row.type, data: JSON.stringify(eventBody(row)) }
              if (CLOSING_EVENTS.has(row.type)) return
            }
            if (rows.length === 100) continue
            const before = last
            await relay.next(HEARTBEAT_MS, closed.signal)
            if (!closed.signal.aborted && before === last && !(await events.meetingEventsAfter(accountId, meeting.id, last, own, 1)).length) {
              yield { event: 'heartbeat', data: '{}' }
            }
          }
        })(),
      )
    },
  })
}

export default routes
