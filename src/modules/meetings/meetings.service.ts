import type { InTransaction, Tx } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, ForbiddenError, NotFoundError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { generatePasscode, hashPasscode } from '../../lib/passcode.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { SettingsService } from '../settings/settings.service.js'
import type { MeetingRow, MeetingStatus, MeetingsRepository } from './meetings.repository.js'
import type { CreateMeeting, ListMeetingsQuery, UpdateMeeting } from './meetings.schemas.js'

const iso = (date: Date | null) => (date ? date.toISOString() : null)

export function toMeeting(row: MeetingRow) {
  return {
    id: row.id,
    accountId: row.accountId,
    hostUserId: row.hostUserId,
    topic: row.topic,
    scheduledStart: row.scheduledStart.toISOString(),
    durationMinutes: row.durationMinutes,
    timeZone: row.timeZone,
    joinUrl: row.joinUrl,
    hasPasscode: row.passcodeHash !== null,
    status: row.status,
    startedAt: iso(row.startedAt),
    endedAt: iso(row.endedAt),
    cancelledAt: iso(row.cancelledAt),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

// The lifecycle, in one table: scheduled → live → ended, scheduled → cancelled.
const TRANSITIONS = {
  start: { from: 'scheduled', to: 'live', stamp: 'startedAt', action: 'meeting.started' },
  end: { from: 'live', to: 'ended', stamp: 'endedAt', action: 'meeting.ended' },
  cancel: { from: 'scheduled', to: 'cancelled', stamp: 'cancelledAt', action: 'meeting.cancelled' },
} as const satisfies Record<string, { from: MeetingStatus; to: MeetingStatus; stamp: string; action: string }>

const invalidTransition = (from: MeetingStatus, to: MeetingStatus) =>
  new ConflictError('invalid_transition', `A ${from} meeting cannot become ${to}`, [{ detail: `status is ${from}`, from, to }])

const CLOSED: ReadonlySet<MeetingStatus> = new Set(['ended', 'cancelled'])

function assertOpen(meeting: MeetingRow, what: 'changed' | 'settings') {
  if (!CLOSED.has(meeting.status)) return
  throw new ConflictError(
    'meeting_closed',
    what === 'changed' ? `A ${meeting.status} meeting cannot be changed` : `A ${meeting.status} meeting's settings cannot be changed`,
  )
}

interface Deps {
  inTransaction: InTransaction
  meetings: MeetingsRepository
  settings: SettingsService
  audit: AuditRepository
  clock: Clock
  joinUrlBase: string
  /** Work of other modules that ends with the meeting, in the same transaction (its screen share). */
  onEnd: (tx: Tx, meeting: MeetingRow, at: Date) => Promise<void>
}

export function createMeetingsService({ inTransaction, meetings, settings, audit, clock, joinUrlBase, onEnd }: Deps) {
  const isAdmin = (principal: Principal) => principal.roles.includes('admin')

  /**
   * The meeting of the caller's account, or 404: a meeting id alone never finds another account's.
   * `cached`: for reads that need only what never changes (the host, for the settings chain).
   */
  async function load(principal: Principal, meetingId: string, cached = false): Promise<MeetingRow> {
    const meeting = await (cached ? meetings.findCached(principal.accountId, meetingId) : meetings.findById(principal.accountId, meetingId))
    if (!meeting) throw new NotFoundError('Meeting')
    return meeting
  }

  /** Host and admins manage a meeting; a participant or the recorder may read it; others get 404. */
  async function loadFor(principal: Principal, meetingId: string, need: 'read' | 'manage', cached = false): Promise<MeetingRow> {
    const meeting = await load(principal, meetingId, cached)
    if (isAdmin(principal) || meeting.hostUserId === principal.subject) return meeting
    if (need === 'read') {
      if (principal.roles.includes('recorder')) return meeting
      if (isUuid(principal.subject) && (await meetings.participantOfUser(principal.accountId, meetingId, principal.subject))) return meeting
      throw new NotFoundError('Meeting')
    }
    const participant = isUuid(principal.subject) ? await meetings.participantOfUser(principal.accountId, meetingId, principal.subject) : undefined
    if (participant) throw new ForbiddenError('Only the host or an admin can change this meeting')
    throw new NotFoundError('Meeting')
  }

  async function transition(principal: Principal, meetingId: string, kind: keyof typeof TRANSITIONS) {
    const step = TRANSITIONS[kind]
    const meeting = await loadFor(principal, meetingId, 'manage')
    if (meeting.status !== step.from) throw invalidTransition(meeting.status, step.to)
    const now = clock.now()
    const row = await inTransaction(async (tx) => {
      const moved = await meetings.transition(tx, meeting.accountId, meeting.id, step.from, { status: step.to, [step.stamp]: now, updatedAt: now })
      if (!moved) throw invalidTransition((await meetings.findById(meeting.accountId, meeting.id, tx))!.status, step.to)
      const closedStays = kind === 'end' ? await meetings.closeAllStays(tx, meeting.accountId, meeting.id, now) : 0
      // Whoever still waits to be admitted leaves with the meeting's end.
      if (kind === 'end') await meetings.clearWaiting(tx, meeting.accountId, meeting.id)
      if (kind === 'end') await onEnd(tx, moved, now)
      await audit.append(tx, meeting.accountId, {
        actor: auditActor(principal),
        action: step.action,
        targetType: 'meeting',
        targetId: meeting.id,
        details: { from: step.from, to: step.to, ...(kind === 'end' ? { closedStays } : {}) },
      }, now)
      return moved
    })
    return toMeeting(row)
  }

  return {
    async create(principal: Principal, input: CreateMeeting) {
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      if (!isUuid(principal.subject)) throw new ForbiddenError('A meeting is hosted by a user')
      const now = clock.now()
      const id = newId(now.getTime())
      // P-SET-1: where a passcode is required and none is given, the server makes one and shows
      // it once, in this answer (the meeting has no layer yet: the host's chain decides).
      const required = (await settings.effectiveForUser(principal.accountId, principal.subject)).settings['meeting.passcode_required']!.value === true
      const generated = !input.passcode && required ? generatePasscode() : undefined
      const passcode = input.passcode ?? generated
      const passcodeHash = passcode ? await hashPasscode(passcode) : null
      const row = await inTransaction(async (tx) => {
        const meeting = await meetings.insert(tx, {
          accountId: principal.accountId,
          id,
          hostUserId: principal.subject,
          topic: input.topic,
          scheduledStart: new Date(input.scheduledStart),
          durationMinutes: input.durationMinutes,
          timeZone: input.timeZone,
          joinUrl: `${joinUrlBase}${id}`,
          passcodeHash,
          createdAt: now,
          updatedAt: now,
        })
        await audit.append(tx, principal.accountId, {
          actor: auditActor(principal),
          action: 'meeting.created',
          targetType: 'meeting',
          targetId: id,
          details: { fields: Object.keys(input).filter((key) => key !== 'passcode'), passcode: passcodeHash !== null, passcodeGenerated: generated !== undefined },
        }, now)
        return meeting
      })
      return { ...toMeeting(row), ...(generated ? { passcode: generated } : {}) }
    },

    async get(principal: Principal, meetingId: string) {
      return toMeeting(await loadFor(principal, meetingId, 'read'))
    },

    /** Members see the meetings they host or joined; admins and the recorder see the account's. */
    async list(principal: Principal, query: ListMeetingsQuery) {
      const everyone = isAdmin(principal) || principal.roles.includes('recorder')
      if (!everyone && !isUuid(principal.subject)) throw new ForbiddenError()
      const rows = await meetings.page(principal.accountId, {
        afterId: decodeCursor(query.cursor),
        limit: query.limit + 1,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
        visibleTo: everyone ? undefined : principal.subject,
      })
      return toPage(rows, query.limit, (row) => row.id, toMeeting)
    },

    async update(principal: Principal, meetingId: string, input: UpdateMeeting) {
      const meeting = await loadFor(principal, meetingId, 'manage')
      assertOpen(meeting, 'changed')
      const now = clock.now()
      const { passcode, scheduledStart, ...plain } = input
      if (passcode === null && meeting.passcodeHash !== null) {
        const effective = (await settings.effectiveForMeeting(meeting.accountId, meeting)).settings
        if (effective['meeting.passcode_required']!.value === true) {
          throw new ConflictError('passcode_required', 'meeting.passcode_required is on: set it off for this meeting (where no lock forbids it) before removing the passcode')
        }
      }
      const changes = {
        ...plain,
        ...(scheduledStart !== undefined ? { scheduledStart: new Date(scheduledStart) } : {}),
        ...(passcode !== undefined ? { passcodeHash: passcode === null ? null : await hashPasscode(passcode) } : {}),
      }
      const fields = Object.keys(input)
      if (fields.length === 0) return toMeeting(meeting)
      const row = await inTransaction(async (tx) => {
        assertOpen((await meetings.lock(tx, meeting.accountId, meeting.id, 'update'))!, 'changed')
        const updated = await meetings.update(tx, meeting.accountId, meeting.id, { ...changes, updatedAt: now })
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'meeting.updated',
          targetType: 'meeting',
          targetId: meeting.id,
          details: { fields },
        }, now)
        return updated!
      })
      return toMeeting(row)
    },

    start: (principal: Principal, meetingId: string) => transition(principal, meetingId, 'start'),
    end: (principal: Principal, meetingId: string) => transition(principal, meetingId, 'end'),
    cancel: (principal: Principal, meetingId: string) => transition(principal, meetingId, 'cancel'),

    async getSettings(principal: Principal, meetingId: string) {
      const meeting = await loadFor(principal, meetingId, 'manage')
      return settings.getMeetingLayer(meeting.accountId, meeting)
    },

    async patchSettings(principal: Principal, meetingId: string, body: { values?: Record<string, unknown> | undefined }) {
      const meeting = await loadFor(principal, meetingId, 'manage')
      assertOpen(meeting, 'settings')
      return settings.patchMeetingLayer(principal, meeting.accountId, meeting, body, async (tx) => {
        assertOpen((await meetings.lock(tx, meeting.accountId, meeting.id, 'share'))!, 'settings')
      })
    },

    async effectiveSettings(principal: Principal, meetingId: string) {
      const meeting = await loadFor(principal, meetingId, 'read', true)
      return settings.effectiveForMeeting(meeting.accountId, meeting)
    },
  }
}

export type MeetingsService = ReturnType<typeof createMeetingsService>
