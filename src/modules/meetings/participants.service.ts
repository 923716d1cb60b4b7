import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, DomainError, ForbiddenError, NotFoundError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { verifyPasscode } from '../../lib/passcode.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { JoinKnowledge } from '../consents/consents.service.js'
import type { MeetingNotice } from '../notices/notices.schemas.js'
import type { SettingsService } from '../settings/settings.service.js'
import type { UsersRepository } from '../users/users.repository.js'
import { isMinor } from '../users/users.service.js'
import type { MeetingRow, MeetingsRepository, ParticipantRow, PresenceRow } from './meetings.repository.js'
import type { ChangeRole, Join } from './participants.schemas.js'

const iso = (date: Date | null) => (date ? date.toISOString() : null)

/** Seconds present: open stays count to the meeting's end, or to now while it is live. */
export function participationSeconds(stays: PresenceRow[], until: Date): number {
  const ms = stays.reduce((sum, stay) => sum + Math.max(0, (stay.leftAt ?? until).getTime() - stay.joinedAt.getTime()), 0)
  return Math.floor(ms / 1000)
}

function assertLive(meeting: MeetingRow) {
  if (meeting.status !== 'live') throw new ConflictError('meeting_not_live', `The meeting is ${meeting.status}`)
}

const alreadyIn = () => new ConflictError('already_present', 'This participant is already in the meeting or its waiting room; leave first')

interface Deps {
  inTransaction: InTransaction
  meetings: MeetingsRepository
  users: UsersRepository
  settings: SettingsService
  audit: AuditRepository
  clock: Clock
  /** Starts chaining the account's pending audit events (for changes written outside inTransaction); does not wait. */
  chainAudit: (accountId: string) => void
  /** What a joining client must show and already knows about consent (the consents module). */
  privacy: {
    joinState(meeting: MeetingRow, participantId: string, locale: string | undefined, known: JoinKnowledge): Promise<{ notices: MeetingNotice[]; consent: Record<'recording' | 'transcript' | 'attentionTracking', 'none' | 'granted' | 'declined' | 'withdrawn' | 'notified'> }>
  }
}

// Who is in a meeting: joins (through the passcode and the waiting room), admissions, role
// changes, leaves, and the list of who was present when (P-REC-7, P-SET-1).
export function createParticipantsService({ inTransaction, meetings, users, settings, audit, clock, chainAudit, privacy }: Deps) {
  const isManager = (principal: Principal, meeting: MeetingRow) => principal.roles.includes('admin') || meeting.hostUserId === principal.subject

  /**
   * The meeting of the caller's account, or 404: a meeting id alone never finds another account's.
   * `cached`: for the join, whose writing statement locks the meeting and re-checks that it is live.
   */
  async function load(principal: Principal, meetingId: string, cached = false): Promise<MeetingRow> {
    const meeting = await (cached ? meetings.findCached(principal.accountId, meetingId) : meetings.findById(principal.accountId, meetingId))
    if (!meeting) throw new NotFoundError('Meeting')
    return meeting
  }

  /** The caller's standing in the meeting: host or admin, a cohost, another participant, or none (404). */
  async function standing(principal: Principal, meeting: MeetingRow): Promise<'manager' | 'cohost' | 'participant' | 'recorder'> {
    if (isManager(principal, meeting)) return 'manager'
    if (principal.roles.includes('recorder')) return 'recorder'
    const own = isUuid(principal.subject) ? await meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject) : undefined
    if (own) return own.role === 'cohost' ? 'cohost' : 'participant'
    throw new NotFoundError('Meeting')
  }

  /**
   * A guest is a new participant each time: one statement writes them, their stay (unless they
   * wait) and the audit event. The participant carries the request's Idempotency-Key, so a retry
   * finds the guest its first run made, even after the meeting ended or a crash lost the answer.
   */
  async function joinGuest(principal: Principal, meeting: MeetingRow, guest: NonNullable<Join['guest']>, role: ParticipantRow['role'], waiting: boolean, now: Date, requestKey: string | null) {
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
      waiting,
      requestKey,
      at: now,
    })
    if (!participant) {
      const first = requestKey ? await meetings.participantByRequestKey(meeting.accountId, requestKey) : undefined
      if (first) {
        const same = first.meetingId === meeting.id && first.guestDisplayName === guest.displayName && first.isMinor === (guest.isMinor ?? false) && first.role === role
        if (!same) throw new DomainError(422, 'idempotency_key_reused', 'This Idempotency-Key was used for a different request')
        return { participant: first, replayed: true, newParticipant: false, waiting: first.waitingSince !== null }
      }
      // The meeting is not live (any more): say what it is now.
      const current = await meetings.findById(meeting.accountId, meeting.id)
      if (!current) throw new NotFoundError('Meeting')
      assertLive(current)
      throw new ConflictError('meeting_not_live', 'The meeting is not live')
    }
    chainAudit(meeting.accountId)
    return { participant, replayed: false, newParticipant: true, waiting: participant.waitingSince !== null }
  }

  /**
   * A user's participant row is reused on a rejoin; they may not hold two open stays. The waiting
   * room holds them unless they manage the meeting or are its cohost. One statement writes the
   * join (the participant, the stay or the wait, the audit event), locking the meeting while live:
   * an end that races this join waits, then closes the new stay too.
   */
  async function joinUser(principal: Principal, meeting: MeetingRow, now: Date, requestedRole: Join['role'], waitingRoom: boolean) {
    const user = await users.findById(principal.accountId, principal.subject)
    if (!user) throw new NotFoundError('User')
    const participantId = newId(now.getTime())
    const participant = await meetings.joinUser({
      accountId: meeting.accountId,
      meetingId: meeting.id,
      userId: principal.subject,
      participantId,
      stayId: newId(now.getTime()),
      auditId: newId(now.getTime()),
      actor: auditActor(principal),
      role: meeting.hostUserId === principal.subject ? 'host' : (requestedRole ?? 'attendee'),
      isMinor: isMinor(user, now),
      waits: waitingRoom && !isManager(principal, meeting),
      at: now,
    })
    if (!participant) {
      // Nothing was written: say why (the meeting ended meanwhile, or the user is already in).
      const current = await meetings.findById(meeting.accountId, meeting.id)
      if (!current) throw new NotFoundError('Meeting')
      assertLive(current)
      throw alreadyIn()
    }
    chainAudit(meeting.accountId)
    return { participant, newParticipant: participant.id === participantId, waiting: participant.waitingSince !== null }
  }

  function view(participant: ParticipantRow, displayName: string, stays: PresenceRow[], until: Date) {
    const own = stays.filter((stay) => stay.participantId === participant.id)
    return {
      id: participant.id,
      meetingId: participant.meetingId,
      userId: participant.userId,
      displayName,
      guest: participant.userId === null,
      role: participant.role,
      isMinor: participant.isMinor,
      present: own.some((stay) => stay.leftAt === null),
      waiting: participant.waitingSince !== null,
      intervals: own.map((stay) => ({ joinedAt: stay.joinedAt.toISOString(), leftAt: iso(stay.leftAt) })),
      totalSeconds: participationSeconds(own, until),
    }
  }

  return {
    /**
     * A join opens a presence interval stamped by the server clock (a rejoin opens another), or,
     * with the waiting room on, waits without one until admitted. Who enters at once: the host,
     * admins, cohosts, and guests the host's or an admin's client joins.
     */
    async join(principal: Principal, meetingId: string, input: Join, idempotencyKey?: string) {
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      const meeting = await load(principal, meetingId, true)
      const manager = isManager(principal, meeting)
      if (!input.guest && !isUuid(principal.subject)) throw new ForbiddenError('Only a user joins as themself; join a guest instead')
      if (input.role === 'cohost' && !manager) throw new ForbiddenError('Only the host or an admin makes a cohost')
      // A guest's statement checks the status itself, and answers a retry even after the end.
      if (!input.guest) assertLive(meeting)

      const forJoin = await settings.forJoin(meeting.accountId, meeting, input.guest ? null : principal.subject)
      const value = (key: string) => forJoin.settings[key]!.value
      // A meeting with no passcode (made before passcodes were required) keeps its state.
      if (value('meeting.passcode_required') === true && meeting.passcodeHash && !manager) {
        if (!input.passcode || !(await verifyPasscode(input.passcode, meeting.passcodeHash))) {
          throw new DomainError(403, 'passcode_invalid', 'The passcode is missing or wrong')
        }
      }

      const now = clock.now()
      const waitingRoom = value('meeting.waiting_room') === true
      // A guest joined by the host's or an admin's own client (a room system) enters at once.
      const guestWaits = waitingRoom && !manager
      const requestKey = input.guest && idempotencyKey ? `${principal.subject}:${idempotencyKey}` : null
      const { participant, replayed, newParticipant, waiting } = input.guest
        ? await joinGuest(principal, meeting, input.guest, input.role ?? 'attendee', guestWaits, now, requestKey)
        : { ...(await joinUser(principal, meeting, now, input.role, waitingRoom)), replayed: false }
      const answer = {
        participantId: participant.id,
        role: participant.role,
        waiting,
        settings: {
          joinVideoOff: value('meeting.join_video_off') as boolean,
          joinMuted: value('meeting.join_muted') as boolean,
          waitingRoom,
          screenShare: value('meeting.screen_share') as 'host_only' | 'all',
          recordingCloud: value('recording.cloud.enabled') as boolean,
          recordingLocal: value('recording.local.enabled') as boolean,
          recordingConsentMode: value('recording.consent_mode') as 'explicit' | 'acknowledge' | 'notice',
          transcript: value('transcript.enabled') as boolean,
          attentionTracking: value('attention_tracking.allowed') === true && value('attention_tracking.enabled') === true,
          recordingDenialAction: value('recording.denial_action') as 'remove' | 'read_only' | 'stop_capture',
        },
        permissions: {
          camera: forJoin.permissions['permissions.camera'],
          microphone: forJoin.permissions['permissions.microphone'],
          screenCapture: forJoin.permissions['permissions.screen_capture'],
        },
        ...(await privacy.joinState(meeting, participant.id, input.locale, { settings: forJoin.settings, newParticipant })),
      }
      return { answer, replayed }
    },

    /** The host, a cohost or an admin lets a waiting participant in: presence counts from this instant. */
    async admit(principal: Principal, meetingId: string, participantId: string) {
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      const meeting = await load(principal, meetingId)
      const who = await standing(principal, meeting)
      if (who !== 'manager' && who !== 'cohost') throw new ForbiddenError('Only the host, a cohost or an admin admits participants')
      const now = clock.now()
      await inTransaction(async (tx) => {
        assertLive((await meetings.lock(tx, meeting.accountId, meeting.id, 'share'))!)
        const participant = await meetings.participant(meeting.accountId, meeting.id, participantId, tx)
        if (!participant) throw new NotFoundError('Participant')
        if (!(await meetings.stopWaiting(tx, meeting.accountId, participant.id))) {
          throw new ConflictError('not_waiting', 'This participant is not in the waiting room')
        }
        await meetings.openStay(tx, { accountId: meeting.accountId, id: newId(now.getTime()), meetingId: meeting.id, participantId: participant.id, joinedAt: now })
        await audit.append(tx, meeting.accountId, {
          actor: auditActor(principal),
          action: 'participant.admitted',
          targetType: 'meeting',
          targetId: meeting.id,
          details: { participantId: participant.id },
        }, now)
      })
      return { participantId, admittedAt: now.toISOString() }
    },

    /** The host or an admin makes a user participant a cohost, or an attendee again; the host stays host. */
    async changeRole(principal: Principal, meetingId: string, participantId: string, input: ChangeRole) {
      requireAccountRole(principal, principal.accountId, ['admin', 'member'])
      const meeting = await load(principal, meetingId)
      if ((await standing(principal, meeting)) !== 'manager') throw new ForbiddenError('Only the host or an admin changes roles')
      const participant = await meetings.participant(meeting.accountId, meeting.id, participantId)
      if (!participant) throw new NotFoundError('Participant')
      if (participant.role === 'host') throw new ConflictError('host_role_fixed', "The host's role does not change")
      if (input.role === 'cohost' && participant.userId === null) throw new ConflictError('cohost_needs_user', 'A cohost is a user of the account, not a guest')
      if (participant.role !== input.role) {
        const now = clock.now()
        await inTransaction(async (tx) => {
          await meetings.setRole(tx, meeting.accountId, participant.id, input.role)
          await audit.append(tx, meeting.accountId, {
            actor: auditActor(principal),
            action: 'participant.role_changed',
            targetType: 'meeting',
            targetId: meeting.id,
            details: { participantId: participant.id, from: participant.role, to: input.role },
          }, now)
        })
      }
      const [row] = await meetings.participantsPage(meeting.accountId, meeting.id, undefined, 1, participant.id)
      const stays = await meetings.stays(meeting.accountId, [participant.id])
      return view(row!.participant, row!.displayName, stays, meeting.endedAt ?? clock.now())
    },

    /** The participant's own user, whoever joined them (a guest's client), the host or an admin may leave for them. */
    async leave(principal: Principal, meetingId: string, participantId: string) {
      const meeting = await load(principal, meetingId)
      const participant = await meetings.participant(meeting.accountId, meeting.id, participantId)
      if (!participant) throw new NotFoundError('Participant')
      const allowed = isManager(principal, meeting) || participant.userId === principal.subject || participant.joinedBy === principal.subject
      if (!allowed) throw new ForbiddenError('Only the participant, the host or an admin can do this')
      const now = clock.now()
      await inTransaction(async (tx) => {
        const left = (await meetings.closeStay(tx, meeting.accountId, participant.id, now)) || (await meetings.stopWaiting(tx, meeting.accountId, participant.id))
        if (!left) throw new ConflictError('not_present', 'This participant is neither in the meeting nor in its waiting room')
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
    async list(principal: Principal, meetingId: string, query: { limit: number; cursor?: string | undefined }) {
      const meeting = await load(principal, meetingId)
      if ((await standing(principal, meeting)) === 'participant') throw new ForbiddenError('Only the host, cohosts and admins list participants')
      const rows = await meetings.participantsPage(meeting.accountId, meeting.id, decodeCursor(query.cursor), query.limit + 1)
      const stays = await meetings.stays(meeting.accountId, rows.slice(0, query.limit).map((row) => row.participant.id))
      const until = meeting.endedAt ?? clock.now()
      return toPage(rows, query.limit, (row) => row.participant.id, ({ participant, displayName }) => view(participant, displayName, stays, until))
    },
  }
}

export type ParticipantsService = ReturnType<typeof createParticipantsService>
