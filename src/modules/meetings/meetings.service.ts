import type { InTransaction, Tx } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, DomainError, ForbiddenError, NotFoundError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { hashPasscode, verifyPasscode } from '../../lib/passcode.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { JoinKnowledge } from '../consents/consents.service.js'
import type { MeetingNotice } from '../notices/notices.schemas.js'
import type { SettingsService } from '../settings/settings.service.js'
import { isMinor } from '../users/users.service.js'
import type { UsersRepository } from '../users/users.repository.js'
import type { MeetingRow, MeetingStatus, MeetingsRepository, ParticipantRow, PresenceRow } from './meetings.repository.js'
import type { CreateMeeting, Join, ListMeetingsQuery, UpdateMeeting } from './meetings.schemas.js'

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

/** Seconds present: open stays count to the meeting's end, or to now while it is live. */
export function participationSeconds(stays: PresenceRow[], until: Date): number {
  const ms = stays.reduce((sum, stay) => sum + Math.max(0, (stay.leftAt ?? until).getTime() - stay.joinedAt.getTime()), 0)
  return Math.floor(ms / 1000)
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

function assertLive(meeting: MeetingRow) {
  if (meeting.status !== 'live') throw new ConflictError('meeting_not_live', `The meeting is ${meeting.status}`)
}

interface Deps {
  inTransaction: InTransaction
  meetings: MeetingsRepository
  users: UsersRepository
  settings: SettingsService
  audit: AuditRepository
  clock: Clock
  joinUrlBase: string
  /** Work of other modules that ends with the meeting, in the same transaction (its screen share). */
  onEnd: (tx: Tx, meeting: MeetingRow, at: Date) => Promise<void>
  /** Chains the account's pending audit events (for changes written outside inTransaction). */
  chainAudit: (accountId: string) => Promise<void>
  /** What a joining client must show and already knows about consent (the consents module). */
  privacy: {
    joinState(meeting: MeetingRow, participantId: string, locale: string | undefined, known: JoinKnowledge): Promise<{ notices: MeetingNotice[]; consent: Record<'recording' | 'transcript' | 'attentionTracking', 'none' | 'granted' | 'declined' | 'withdrawn' | 'notified'> }>
  }
}

export function createMeetingsService({ inTransaction, meetings, users, settings, audit, clock, joinUrlBase, chainAudit, privacy, onEnd }: Deps) {
  const isAdmin = (principal: Principal) => principal.roles.includes('admin')

  /** A guest is a new participant each time: one statement writes them, their stay and the audit event. */
  async function joinGuest(principal: Principal, meeting: MeetingRow, guest: NonNullable<Join['guest']>, role: ParticipantRow['role'], now: Date) {
    const participant = await meetings.joinGuest({
      accountId: meeting.accountId,
      meetingId: meeting.id,
      participantId: newId(now.getTime()),
      stayId: newId(now.getTime()),
      auditId: newId(now.getTime()),
      actor: auditActor(principal),
      displayName: guest.displayName,
      role,
      isMinor: guest.isMinor ?? false,
      joinedBy: principal.subject,
      at: now,
    })
    if (!participant) {
      // The meeting stopped being live since it was read: say what it is now.
      const current = await meetings.findById(meeting.accountId, meeting.id)
      if (!current) throw new NotFoundError('Meeting')
      assertLive(current)
      throw new ConflictError('meeting_not_live', 'The meeting is not live')
    }
    await chainAudit(meeting.accountId)
    return participant
  }

  /** A user's participant row is reused on a rejoin; they may not hold two open stays. */
  async function joinUser(principal: Principal, meeting: MeetingRow, now: Date, requestedRole: Join['role']) {
    const user = await users.findById(principal.accountId, principal.subject)
    if (!user) throw new NotFoundError('User')
    const role = meeting.hostUserId === principal.subject ? 'host' : (requestedRole ?? 'attendee')
    return inTransaction(async (tx) => {
      // Held to commit: an end that races this join waits, then closes the new stay too.
      assertLive((await meetings.lock(tx, meeting.accountId, meeting.id, 'share'))!)
      const id = newId(now.getTime())
      const row = await meetings.ensureUserParticipant(tx, {
        accountId: meeting.accountId,
        id,
        meetingId: meeting.id,
        userId: principal.subject,
        role,
        isMinor: isMinor(user, now),
        joinedBy: principal.subject,
        createdAt: now,
      })
      const opened = await meetings.openStay(tx, {
        accountId: meeting.accountId,
        id: newId(now.getTime()),
        meetingId: meeting.id,
        participantId: row.id,
        joinedAt: now,
      })
      if (!opened) throw new ConflictError('already_present', 'This participant is already in the meeting; leave first')
      await audit.append(tx, meeting.accountId, {
        actor: auditActor(principal),
        action: 'participant.joined',
        targetType: 'meeting',
        targetId: meeting.id,
        details: { participantId: row.id, role: row.role, guest: false },
      }, now)
      // The upsert answers an earlier row of this user on a rejoin.
      return { participant: row, newParticipant: row.id === id }
    })
  }

  /** The meeting of the caller's account, or 404: a meeting id alone never finds another account's. */
  async function load(principal: Principal, meetingId: string): Promise<MeetingRow> {
    const meeting = await meetings.findById(principal.accountId, meetingId)
    if (!meeting) throw new NotFoundError('Meeting')
    return meeting
  }

  /** Host and admins manage a meeting; a participant or the recorder may read it; others get 404. */
  async function loadFor(principal: Principal, meetingId: string, need: 'read' | 'manage'): Promise<MeetingRow> {
    const meeting = await load(principal, meetingId)
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
      const passcodeHash = input.passcode ? await hashPasscode(input.passcode) : null
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
          details: { fields: Object.keys(input).filter((key) => key !== 'passcode'), passcode: passcodeHash !== null },
        }, now)
        return meeting
      })
      return toMeeting(row)
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
      const meeting = await loadFor(principal, meetingId, 'read')
      return settings.effectiveForMeeting(meeting.accountId, meeting)
    },

    /** A join opens a presence interval stamped by the server clock; a rejoin opens another. */
    async join(principal: Principal, meetingId: string, input: Join) {
      const meeting = await load(principal, meetingId)
      const manager = isAdmin(principal) || meeting.hostUserId === principal.subject
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      if (!input.guest && !isUuid(principal.subject)) throw new ForbiddenError('Only a user joins as themself; join a guest instead')
      if (input.role === 'cohost' && !manager) throw new ForbiddenError('Only the host or an admin makes a cohost')
      assertLive(meeting)

      const effective = (await settings.effectiveForMeeting(meeting.accountId, meeting)).settings
      const value = (key: string) => effective[key]!.value
      if (value('meeting.passcode_required') === true && meeting.passcodeHash && !manager) {
        if (!input.passcode || !(await verifyPasscode(input.passcode, meeting.passcodeHash))) {
          throw new DomainError(403, 'passcode_invalid', 'The passcode is missing or wrong')
        }
      }

      const now = clock.now()
      const { participant, newParticipant } = input.guest
        ? { participant: await joinGuest(principal, meeting, input.guest, input.role ?? 'attendee', now), newParticipant: true }
        : await joinUser(principal, meeting, now, input.role)
      return {
        participantId: participant.id,
        role: participant.role,
        settings: {
          joinVideoOff: value('meeting.join_video_off') as boolean,
          joinMuted: value('meeting.join_muted') as boolean,
          waitingRoom: value('meeting.waiting_room') as boolean,
          screenShare: value('meeting.screen_share') as 'host_only' | 'all',
          recordingCloud: value('recording.cloud.enabled') as boolean,
          recordingLocal: value('recording.local.enabled') as boolean,
          recordingConsentMode: value('recording.consent_mode') as 'explicit' | 'acknowledge' | 'notice',
          transcript: value('transcript.enabled') as boolean,
          attentionTracking: value('attention_tracking.allowed') === true && value('attention_tracking.enabled') === true,
          recordingDenialAction: value('recording.denial_action') as 'remove' | 'read_only' | 'stop_capture',
        },
        ...(await privacy.joinState(meeting, participant.id, input.locale, { settings: effective, newParticipant })),
      }
    },

    /** The participant's own user, whoever joined them (a guest's client), the host or an admin may leave for them. */
    async leave(principal: Principal, meetingId: string, participantId: string) {
      const meeting = await load(principal, meetingId)
      const participant = await meetings.participant(meeting.accountId, meeting.id, participantId)
      if (!participant) throw new NotFoundError('Participant')
      const allowed =
        isAdmin(principal) ||
        meeting.hostUserId === principal.subject ||
        participant.userId === principal.subject ||
        participant.joinedBy === principal.subject
      if (!allowed) throw new ForbiddenError('Only the participant, the host or an admin can do this')
      const now = clock.now()
      await inTransaction(async (tx) => {
        if (!(await meetings.closeStay(tx, meeting.accountId, participant.id, now))) {
          throw new ConflictError('not_present', 'This participant has no open stay in the meeting')
        }
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'participant.left',
          targetType: 'meeting',
          targetId: meeting.id,
          details: { participantId: participant.id },
        }, now)
      })
    },

    /** Host, cohosts, admins and the recorder see who was present when (P-REC-7). */
    async participants(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined }) {
      const meeting = await load(principal, meetingId)
      let allowed = isAdmin(principal) || principal.roles.includes('recorder') || meeting.hostUserId === principal.subject
      if (!allowed && isUuid(principal.subject)) {
        const own = await meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject)
        if (!own) throw new NotFoundError('Meeting')
        allowed = own.role === 'cohost'
      }
      if (!allowed) throw new ForbiddenError('Only the host, cohosts and admins list participants')
      const rows = await meetings.participantsPage(meeting.accountId, meeting.id, decodeCursor(query.cursor), query.limit + 1)
      const page = rows.slice(0, query.limit)
      const stays = await meetings.stays(meeting.accountId, page.map((row) => row.participant.id))
      const until = meeting.endedAt ?? clock.now()
      return toPage(rows, query.limit, (row) => row.participant.id, ({ participant, userDisplayName }) => {
        const own = stays.filter((stay) => stay.participantId === participant.id)
        return {
          id: participant.id,
          meetingId: participant.meetingId,
          userId: participant.userId,
          displayName: participant.guestDisplayName ?? userDisplayName ?? '',
          guest: participant.userId === null,
          role: participant.role,
          isMinor: participant.isMinor,
          present: own.some((stay) => stay.leftAt === null),
          intervals: own.map((stay) => ({ joinedAt: stay.joinedAt.toISOString(), leftAt: iso(stay.leftAt) })),
          totalSeconds: participationSeconds(own, until),
        }
      })
    },
  }
}

export type MeetingsService = ReturnType<typeof createMeetingsService>
