import type { Executor } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, ForbiddenError, NotFoundError, type ProblemItem, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import type { MeetingRow, MeetingsRepository } from '../meetings/meetings.repository.js'
import { type EffectiveSetting, resolveAll } from '../settings/settings.resolve.js'
import { type ConsentMode, decide, type GatedScope, type GateOutcome, type RecordingKind, type Span, SWITCH_RULES, type Violation } from './gate.decision.js'
import type { SupportRepository } from '../support/support.repository.js'
import type { GateRepository, LoadedFacts, MeetingRef } from './gate.repository.js'
import { type CaptureWindow, CLOCK_SKEW_MS } from './gate.schemas.js'

const MODE_KEY = { recording: 'recording.consent_mode', transcript: 'transcript.consent_mode' } as const
/** How far a client's clock may run ahead of ours when it reports a window that has ended. */

export interface GateInput {
  scope: GatedScope
  window: Span
  /** Recordings: the listed ids (absent: everyone present). Transcripts: the speakers and their spans. */
  captured?: { participantId: string; spans?: Span[]; pointer?: string }[]
  excluded?: string[]
  /** A recording's kind (cloud or local); a preview without one asks whether any kind may record. */
  kind?: RecordingKind
  /** Stores need a window that has ended; the decision route may ask about one still running. */
  ended: boolean
}

export type GateResult = GateOutcome & {
  mode: ConsentMode
  scope: GatedScope
  /** The meeting's effective settings the decision read (a store takes its retention from them). */
  settings: Record<string, EffectiveSetting>
}

export const toViolationItem = (v: Violation): ProblemItem => ({
  detail: v.detail,
  code: v.rule,
  participantId: v.participantId,
  rule: v.rule,
  at: v.at.toISOString(),
})

/**
 * The 409 of a refused store: every offending participant and rule (rule 6). Its code is the
 * switch that is off when one is (recording_disabled, transcript_disabled), else consent_missing.
 */
export function consentMissing(result: GateResult) {
  const switchedOff = result.violations.find((v) => SWITCH_RULES.has(v.rule))
  const detail = switchedOff ? switchedOff.detail : `The ${result.scope} is not allowed: ${result.violations.length} consent rule(s) fail`
  return new ConflictError(switchedOff?.rule ?? 'consent_missing', detail, result.violations.map(toViolationItem))
}

/** Parses a request's window and participant lists; ids are checked against the meeting later. */
export function gateInput(scope: GatedScope, body: CaptureWindow & { kind?: RecordingKind | undefined }, ended: boolean): GateInput {
  const window = { from: new Date(body.startedAt), to: new Date(body.endedAt) }
  if (window.from.getTime() >= window.to.getTime()) {
    throw new ValidationError('The window is empty', [{ pointer: '/body/endedAt', detail: 'must be after startedAt' }])
  }
  const excluded = body.excludedParticipantIds ?? []
  const both = (body.capturedParticipantIds ?? []).filter((id) => excluded.includes(id))
  if (both.length > 0) {
    throw new ValidationError('A participant cannot be both captured and excluded', [
      { pointer: '/body/excludedParticipantIds', detail: `also captured: ${both.join(', ')}` },
    ])
  }
  if (body.kind && scope !== 'recording') {
    throw new ValidationError('Only a recording has a kind', [{ pointer: '/body/kind', detail: `not with scope ${scope}` }])
  }
  return {
    scope,
    window,
    ...(body.capturedParticipantIds ? { captured: body.capturedParticipantIds.map((participantId) => ({ participantId })) } : {}),
    excluded,
    ...(body.kind ? { kind: body.kind } : {}),
    ended,
  }
}

interface Deps {
  gate: GateRepository
  meetings: MeetingsRepository
  supportGrants: SupportRepository
  clock: Clock
}

/** Who reads a meeting's artefacts, and how far. */
export interface ArtefactAccess {
  meeting: MeetingRow
  /** The host or an admin: reads content and deletes. */
  manager: boolean
  /** The operator reads through this running support grant (P-REC-6); every read is audited with it. */
  supportGrantId: string | null
}

// The consent gate: the one place that decides whether an artefact may exist. Stores call
// `decideForStore` inside the transaction that inserts the artefact.
export function createGateService({ gate, meetings, supportGrants, clock }: Deps) {
  /** May this principal capture the meeting? The recorder, the host, an admin; another participant 403, anyone else 404. */
  function assertCaptures(principal: Principal, meeting: MeetingRef, isParticipant: () => boolean) {
    requireAccountRole(principal, principal.accountId, ['admin', 'member', 'recorder'])
    if (principal.roles.includes('admin') || principal.roles.includes('recorder') || meeting.hostUserId === principal.subject) return
    if (isParticipant()) throw new ForbiddenError('Only the recorder, the host or an admin captures this meeting')
    throw new NotFoundError('Meeting')
  }

  /**
   * The decision over facts read in one statement (the meeting, its settings chain, participants,
   * presence, records, notice versions). `authorize` runs on the loaded meeting before anything is decided.
   */
  async function evaluate(
    accountId: string,
    meetingId: string,
    input: GateInput,
    now: Date,
    options: { tx?: Executor; authorize?: (meeting: MeetingRef, facts: LoadedFacts) => void } = {},
  ): Promise<GateResult & { redecide: (captured: GateInput['captured']) => GateResult }> {
    if (input.ended && input.window.to.getTime() > now.getTime() + CLOCK_SKEW_MS) {
      throw new ValidationError('The window has not ended yet', [{ pointer: '/body/endedAt', detail: 'must not be in the future' }])
    }
    // Every instant the decision looks at lies in the window or in a captured span (a transcript's segments).
    let earliest = input.window.from.getTime()
    let latest = input.window.to.getTime()
    for (const span of (input.captured ?? []).flatMap((c) => c.spans ?? [])) {
      earliest = Math.min(earliest, span.from.getTime())
      latest = Math.max(latest, span.to.getTime())
    }
    const within = { from: new Date(earliest), to: new Date(latest) }
    const facts = await gate.facts(accountId, meetingId, input.scope, within, options.tx)
    if (!facts.meeting) throw new NotFoundError('Meeting')
    options.authorize?.(facts.meeting, facts)
    const settings = resolveAll(facts.chain)
    const mode = settings[MODE_KEY[input.scope]]!.value as ConsentMode
    const switches = {
      cloud: settings['recording.cloud.enabled']!.value === true,
      local: settings['recording.local.enabled']!.value === true,
      transcript: settings['transcript.enabled']!.value === true,
    }
    const known = new Set(facts.participants.map((p) => p.id))
    const unknown: ProblemItem[] = []
    input.captured?.forEach((c, i) => {
      if (!known.has(c.participantId)) unknown.push({ pointer: c.pointer ?? `/body/capturedParticipantIds/${i}`, detail: 'not a participant of this meeting' })
    })
    input.excluded?.forEach((id, i) => {
      if (!known.has(id)) unknown.push({ pointer: `/body/excludedParticipantIds/${i}`, detail: 'not a participant of this meeting' })
    })
    if (unknown.length > 0) throw new ValidationError('Unknown participants', unknown)
    const openUntil = new Date(Math.max(now.getTime(), input.window.to.getTime()))
    const run = (captured: GateInput['captured']): GateResult => ({
      ...decide(facts, {
        scope: input.scope,
        mode,
        window: input.window,
        openUntil,
        ...(captured ? { captured } : {}),
        excluded: input.excluded ?? [],
        switches,
        ...(input.kind ? { kind: input.kind } : {}),
      }),
      mode,
      scope: input.scope,
      settings,
    })
    return { ...run(input.captured), redecide: run }
  }

  return {
    /**
     * Whether the participant had been shown the scope's notice at `at` (P-ATT-4): their latest
     * answer then is notified or granted, to a version that still counts (the rules of notice mode).
     */
    async noticeShown(meeting: MeetingRow, participantId: string, scope: 'attention_tracking', at: Date, tx?: Executor): Promise<boolean> {
      const instant = { from: at, to: new Date(at.getTime() + 1) }
      const facts = await gate.facts(meeting.accountId, meeting.id, scope, instant, tx)
      const outcome = decide(facts, { scope, mode: 'notice', window: instant, openUntil: instant.to, captured: [{ participantId, spans: [instant] }] })
      return outcome.violations.every((v) => v.rule === 'minor_without_guardian')
    },

    /** Who may store through the gate: the recorder, the host, an admin of the account. */
    async loadForCapture(principal: Principal, meetingId: string): Promise<MeetingRow> {
      requireAccountRole(principal, principal.accountId, ['admin', 'member', 'recorder'])
      const meeting = await meetings.findById(principal.accountId, meetingId)
      if (!meeting) throw new NotFoundError('Meeting')
      const own = isUuid(principal.subject) && !principal.roles.includes('admin') && !principal.roles.includes('recorder') && meeting.hostUserId !== principal.subject
        ? await meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject)
        : undefined
      assertCaptures(principal, meeting, () => own !== undefined)
      return meeting
    },

    /**
     * Who reads a meeting's artefacts (metadata): the recorder, the host, cohosts, admins, and the
     * operator while the account's support grant runs; another participant gets 403, anyone else
     * 404 (the operator without a grant too). Reading the content itself is narrower (its service).
     */
    async loadForArtefacts(principal: Principal, meetingId: string): Promise<ArtefactAccess> {
      const operator = principal.roles.includes('platform')
      const supportGrantId = operator ? ((await supportGrants.activeAt(principal.accountId, clock.now())) ?? null) : null
      if (operator && !supportGrantId) throw new NotFoundError('Meeting')
      const meeting = await meetings.findById(principal.accountId, meetingId)
      if (!meeting) throw new NotFoundError('Meeting')
      const manager = principal.roles.includes('admin') || meeting.hostUserId === principal.subject
      if (supportGrantId || manager || principal.roles.includes('recorder')) return { meeting, manager, supportGrantId }
      const own = isUuid(principal.subject) ? await meetings.participantOfUser(meeting.accountId, meeting.id, principal.subject) : undefined
      if (own?.role === 'cohost') return { meeting, manager, supportGrantId }
      if (own) throw new ForbiddenError('Only the recorder, the host, cohosts and admins see recordings and transcripts')
      throw new NotFoundError('Meeting')
    },

    /**
     * Would this window be allowed now? Stores nothing. With the token's user check, two round
     * trips: everything the decision needs is one statement.
     */
    async check(principal: Principal, meetingId: string, input: GateInput): Promise<GateResult> {
      const { redecide: _, ...result } = await evaluate(principal.accountId, meetingId, input, clock.now(), {
        authorize: (meeting, facts) => assertCaptures(principal, meeting, () => facts.participants.some((p) => p.userId === principal.subject)),
      })
      return result
    },

    /**
     * The decision inside a store's transaction. The meeting row is locked first: every consent
     * insert holds a key-share lock on it through its foreign key, so this waits for consents in
     * flight, and the facts read afterwards see every one that committed (rule 8).
     * Allowed: the grant row is written and its id returned.
     */
    async decideForStore(
      tx: Executor,
      principal: Principal,
      meeting: MeetingRow,
      input: GateInput,
      options: { dropRefused?: boolean } = {},
    ): Promise<GateResult & { grantId: string | null; dropped: string[] }> {
      const locked = await meetings.lock(tx, meeting.accountId, meeting.id, 'update')
      if (!locked) throw new NotFoundError('Meeting')
      const now = clock.now()
      const { redecide, ...first } = await evaluate(locked.accountId, locked.id, input, now, { tx })
      let result: GateResult = first
      let dropped: string[] = []
      // Redaction (rule 7): the captured who fail are left out, and the rest decided again on the
      // same facts. A failure of the whole meeting (no notice) cannot be redacted away.
      if (!first.allowed && options.dropRefused && input.captured && first.violations.every((v) => v.participantId !== null)) {
        dropped = [...new Set(first.violations.map((v) => v.participantId!))]
        result = redecide(input.captured.filter((c) => !dropped.includes(c.participantId)))
      }
      if (!result.allowed) return { ...result, grantId: null, dropped: [] }
      const grantId = newId(now.getTime())
      await gate.insertGrant(tx, {
        accountId: meeting.accountId,
        id: grantId,
        meetingId: meeting.id,
        scope: input.scope,
        mode: result.mode,
        windowStart: input.window.from,
        windowEnd: input.window.to,
        capturedParticipantIds: result.captured,
        excludedParticipantIds: result.excluded,
        consentRecordIds: result.reliedOn,
        decidedBy: principal.subject,
        decidedAt: now,
      })
      return { ...result, grantId, dropped }
    },
  }
}

export type GateService = ReturnType<typeof createGateService>

export function toDecision(result: GateResult) {
  return {
    allowed: result.allowed,
    scope: result.scope,
    mode: result.mode,
    capturedParticipantIds: result.captured,
    violations: result.violations.map((v) => ({ participantId: v.participantId, rule: v.rule, at: v.at.toISOString(), detail: v.detail })),
  }
}
