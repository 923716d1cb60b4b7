// The consent rules (README.md, "The consent rules"), as one pure function over facts the repository loads in one
// query. Every store (recordings, their content, transcripts) and the decision route call it;
// nothing else decides whether an artefact may exist.

export type ConsentMode = 'notice' | 'acknowledge' | 'explicit'
export type GatedScope = 'recording' | 'transcript'
/** Scopes the rules are evaluated for: the gated artefacts, and attention tracking's notice (P-ATT-4). */
export type DecisionScope = GatedScope | 'attention_tracking'

export const VIOLATION_RULES = [
  'recording_disabled',
  'transcript_disabled',
  'notice_missing',
  'consent_missing',
  'not_granted',
  'declined',
  'withdrawn',
  'reconsent_required',
  'minor_without_guardian',
  'not_excluded',
  'device_permission_off',
] as const
/** Violations of the whole meeting (no participant): the artefact is switched off. */
export const SWITCH_RULES: ReadonlySet<ViolationRule> = new Set(['recording_disabled', 'transcript_disabled'])
export type RecordingKind = 'cloud' | 'local'

/** The settings that switch artefacts on (P-REC-5), as the meeting's effective settings give them. */
export interface CaptureSwitches {
  cloud: boolean
  local: boolean
  transcript: boolean
}
export type ViolationRule = (typeof VIOLATION_RULES)[number]

export interface Violation {
  participantId: string | null
  rule: ViolationRule
  at: Date
  detail: string
}

export interface FactParticipant {
  id: string
  /** The participant's user (null or absent for a guest); the service's access check reads it. */
  userId?: string | null
  isMinor: boolean
  /** The user's guardian consent on record (users.guardian_consent_at); guests have none. */
  guardianConsentAt: Date | null
  /** Effective permissions.camera and permissions.microphone are both off (P-SET-2). */
  devicesOff: boolean
}

export interface FactStay {
  participantId: string
  joinedAt: Date
  leftAt: Date | null
}

export interface FactRecord {
  id: string
  participantId: string
  decision: 'granted' | 'declined' | 'withdrawn' | 'notified'
  method: string
  noticeVersionId: string | null
  at: Date
}

export interface FactVersion {
  id: string
  noticeId: string
  version: number
  requiresReconsent: boolean
  publishedAt: Date
}

export interface GateFacts {
  participants: FactParticipant[]
  stays: FactStay[]
  /** The scope's records of the meeting, oldest first. */
  records: FactRecord[]
  /** Every published version of the scope's notice kind. */
  versions: FactVersion[]
}

export interface Span {
  from: Date
  to: Date
}

export interface GateRequest {
  scope: DecisionScope
  mode: ConsentMode
  window: Span
  /** Open stays run to this instant (the decision's now, or the window end when it is later). */
  openUntil: Date
  /**
   * Who is captured over which spans. Recordings: absent means everyone present (rule 1), and
   * spans are their presence inside the window. Transcripts pass the speakers with their segments' spans (rule 7).
   */
  captured?: { participantId: string; spans?: Span[] }[]
  excluded?: string[]
  /** The artefact switches; absent where no artefact is stored (attention tracking's notice). */
  switches?: CaptureSwitches
  /** A recording's kind; absent, a recording is allowed only if some kind is enabled. */
  kind?: RecordingKind
}

export interface GateOutcome {
  allowed: boolean
  violations: Violation[]
  captured: string[]
  excluded: string[]
  /** The consent records the allowance rests on (the grant keeps them). */
  reliedOn: string[]
}

const ms = (date: Date) => date.getTime()

/** The presence of one participant inside a span, as disjoint spans. */
function presenceWithin(stays: FactStay[], span: Span, openUntil: Date): Span[] {
  const spans: Span[] = []
  for (const stay of stays) {
    const from = Math.max(ms(stay.joinedAt), ms(span.from))
    const to = Math.min(ms(stay.leftAt ?? openUntil), ms(span.to))
    if (to > from) spans.push({ from: new Date(from), to: new Date(to) })
  }
  return spans
}

export function decide(facts: GateFacts, request: GateRequest): GateOutcome {
  const violations: Violation[] = []
  const reliedOn = new Set<string>()
  const participants = new Map(facts.participants.map((p) => [p.id, p]))
  const staysOf = groupBy(facts.stays, (s) => s.participantId)
  const recordsOf = groupBy(facts.records, (r) => r.participantId)
  const versionsById = new Map(facts.versions.map((v) => [v.id, v]))
  const versionsOfNotice = groupBy(facts.versions, (v) => v.noticeId)
  const excluded = new Set(request.excluded ?? [])

  // P-REC-5: an artefact switched off is refused whoever consented; the preview says so too.
  const switchedOff = switchViolation(request)
  if (switchedOff) violations.push(switchedOff)

  // Rule 2: with no published notice of the kind nobody can have consented.
  if (!facts.versions.some((v) => ms(v.publishedAt) <= ms(request.window.to))) {
    violations.push({ participantId: null, rule: 'notice_missing', at: request.window.from, detail: `No ${request.scope} notice is published` })
    return { allowed: false, violations, captured: [], excluded: [...excluded], reliedOn: [] }
  }

  const present = (id: string) => presenceWithin(staysOf.get(id) ?? [], request.window, request.openUntil)
  // Rule 1: no list means everyone present during the window, less those the recorder excluded.
  const captured = (
    request.captured ?? facts.participants.map((p) => ({ participantId: p.id, spans: undefined as Span[] | undefined }))
  ).filter((c) => !excluded.has(c.participantId))

  /** The first failure of a participant's state over a span, or none; records relied on are collected. */
  const check = (participantId: string, span: Span, accepted: ReadonlySet<FactRecord['decision']>, collect = true): Violation | undefined => {
    const participant = participants.get(participantId)!
    // P-SET-2: with camera and microphone off nothing of them may be recorded; consent cannot
    // lift a switch the user turned off, so only exclusion keeps them out.
    if (request.scope === 'recording' && participant.devicesOff) {
      return { participantId, rule: 'device_permission_off', at: span.from, detail: 'The participant turned camera and microphone off' }
    }
    const records = recordsOf.get(participantId) ?? []
    // The state only changes at a record, a newly published version or a guardian consent, so
    // checking the span's start and each such instant inside it checks every instant.
    const instants = new Set<number>([ms(span.from)])
    for (const r of records) if (ms(r.at) > ms(span.from) && ms(r.at) < ms(span.to)) instants.add(ms(r.at))
    for (const v of facts.versions) if (ms(v.publishedAt) > ms(span.from) && ms(v.publishedAt) < ms(span.to)) instants.add(ms(v.publishedAt))
    // The instants ascend, so the record standing at each is found by walking the list once.
    let standing = -1
    for (const t of [...instants].sort((a, b) => a - b)) {
      const at = new Date(t)
      while (standing + 1 < records.length && ms(records[standing + 1]!.at) <= t) standing++
      const latest = standing >= 0 ? records[standing] : undefined
      if (!latest) return { participantId, rule: 'consent_missing', at, detail: `No ${request.scope} consent on record` }
      // Rule 3: a withdrawal or a refusal ends the permission from its own instant.
      if (latest.decision === 'withdrawn' || latest.decision === 'declined') {
        return { participantId, rule: latest.decision, at: latest.at, detail: `${request.scope} consent ${latest.decision} at ${latest.at.toISOString()}` }
      }
      if (!accepted.has(latest.decision)) {
        return { participantId, rule: 'not_granted', at, detail: `The participant was only notified; ${request.mode} mode needs a grant` }
      }
      // Rule 2 and P-GOV-3: given to the version current at t, or to an older one when no
      // version published since then asks for consent again.
      const given = latest.noticeVersionId ? versionsById.get(latest.noticeVersionId) : undefined
      const reconsent = given
        ? (versionsOfNotice.get(given.noticeId) ?? []).find((v) => v.version > given.version && v.requiresReconsent && ms(v.publishedAt) <= t)
        : undefined
      if (!given || reconsent) {
        return {
          participantId,
          rule: 'reconsent_required',
          at: reconsent ? new Date(Math.max(ms(reconsent.publishedAt), ms(span.from))) : at,
          detail: 'The notice changed and asks for consent again',
        }
      }
      // Rule 4: a minor's own answer never suffices without a guardian's consent on record.
      if (participant.isMinor) {
        const guardian = latest.method === 'guardian' || (participant.guardianConsentAt !== null && ms(participant.guardianConsentAt) <= t)
        if (!guardian) return { participantId, rule: 'minor_without_guardian', at, detail: 'A minor needs a guardian consent on record' }
      }
      if (collect) reliedOn.add(latest.id)
    }
    return undefined
  }

  const accepted: ReadonlySet<FactRecord['decision']> = new Set(request.mode === 'notice' ? ['granted', 'notified'] : ['granted'])
  const capturedIds: string[] = []
  for (const { participantId, spans } of captured) {
    const within = spans ? spans.filter((s) => ms(s.to) > ms(s.from)) : present(participantId)
    if (within.length === 0) continue
    capturedIds.push(participantId)
    for (const span of within) {
      const failure = check(participantId, span, accepted)
      if (failure) {
        violations.push(failure)
        break
      }
    }
  }

  // Rule 5: in explicit mode a present participant who has not granted is kept out of a
  // recording only by being listed as excluded; being left off the captured list is not enough.
  // (A transcript captures its speakers and nobody else, rule 7.)
  if (request.mode === 'explicit' && request.captured && request.scope === 'recording') {
    const listed = new Set(captured.map((c) => c.participantId))
    for (const p of facts.participants) {
      if (listed.has(p.id) || excluded.has(p.id)) continue
      const spans = present(p.id)
      const failure = spans.map((span) => check(p.id, span, accepted, false)).find(Boolean)
      if (failure) {
        violations.push({ participantId: p.id, rule: 'not_excluded', at: failure.at, detail: 'Present without a grant and not listed as excluded' })
      }
    }
  }

  return { allowed: violations.length === 0, violations, captured: capturedIds, excluded: [...excluded], reliedOn: [...reliedOn] }
}

function switchViolation(request: GateRequest): Violation | undefined {
  const on = request.switches
  if (!on) return undefined
  const at = request.window.from
  if (request.scope === 'transcript') {
    return on.transcript ? undefined : { participantId: null, rule: 'transcript_disabled', at, detail: 'Transcripts are off for this meeting (transcript.enabled)' }
  }
  if (request.scope !== 'recording') return undefined
  if (request.kind) {
    return on[request.kind] ? undefined : { participantId: null, rule: 'recording_disabled', at, detail: `${request.kind} recording is off for this meeting (recording.${request.kind}.enabled)` }
  }
  return on.cloud || on.local ? undefined : { participantId: null, rule: 'recording_disabled', at, detail: 'Recording is off for this meeting (recording.cloud.enabled, recording.local.enabled)' }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = map.get(k)
    if (list) list.push(item)
    else map.set(k, [item])
  }
  return map
}
