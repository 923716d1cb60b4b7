import t, { type Test } from 'tap'
import {
  decide,
  type FactParticipant,
  type FactRecord,
  type FactStay,
  type FactVersion,
  type GateFacts,
  type GateOutcome,
  type GateRequest,
} from '../../src/modules/gate/gate.decision.js'

// The consent rules (README.md) as the pure function `decide` sees them: hand-built facts (as the
// gate repository would load them in one statement) and exact instants, no database. The API
// tests of the same rules are in gate.rules.test.ts.

// ---------------------------------------------------------------------------------------------
// Helpers

const T0 = Date.parse('2026-12-01T09:00:00.000Z')
/** The instant `ms` after T0. */
const at = (ms: number) => new Date(T0 + ms)
const S = 1_000

const EN1: FactVersion = { id: 'en-1', noticeId: 'notice-en', version: 1, requiresReconsent: false, publishedAt: at(0) }

const person = (id: string, extra: Partial<FactParticipant> = {}): FactParticipant => ({ id, isMinor: false, guardianConsentAt: null, devicesOff: false, ...extra })
const stay = (participantId: string, fromMs: number, toMs: number | null): FactStay => ({
  participantId,
  joinedAt: at(fromMs),
  leftAt: toMs === null ? null : at(toMs),
})

let serial = 0
/** A consent record; ids increase in creation order, as the repository's (at, id) order would. */
const rec = (participantId: string, decision: FactRecord['decision'], ms: number, extra: Partial<FactRecord> = {}): FactRecord => ({
  id: `rec-${String(++serial).padStart(4, '0')}`,
  participantId,
  decision,
  method: decision === 'granted' ? 'click_continue' : decision === 'notified' ? 'policy_notice' : 'explicit_toggle',
  noticeVersionId: decision === 'granted' || decision === 'notified' ? EN1.id : null,
  at: at(ms),
  ...extra,
})

/** Records sorted as the repository loads them: by instant, then by id. */
const ordered = (records: FactRecord[]) => [...records].sort((a, b) => a.at.getTime() - b.at.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

function facts(partial: Partial<GateFacts>): GateFacts {
  return { participants: [], stays: [], records: [], versions: [EN1], ...partial, ...(partial.records ? { records: ordered(partial.records) } : {}) }
}

function request(fromMs: number, toMs: number, partial: Partial<GateRequest> = {}): GateRequest {
  return { scope: 'recording', mode: 'explicit', window: { from: at(fromMs), to: at(toMs) }, openUntil: at(toMs), ...partial }
}

type V = { participantId: string | null; rule: string; at: number }
const brief = (outcome: GateOutcome): V[] => outcome.violations.map((v) => ({ participantId: v.participantId, rule: v.rule, at: v.at.getTime() - T0 }))

function allowed(t: Test, outcome: GateOutcome, captured: string[], label: string) {
  t.equal(outcome.allowed, true, `${label}: allowed`)
  t.same(outcome.violations, [], `${label}: no violation`)
  t.same([...outcome.captured].sort(), [...captured].sort(), `${label}: captured`)
}

function refused(t: Test, outcome: GateOutcome, violations: V[], label: string) {
  t.equal(outcome.allowed, false, `${label}: refused`)
  t.same(brief(outcome), violations, `${label}: violations`)
  for (const v of outcome.violations) t.type(v.detail, 'string')
}

// ---------------------------------------------------------------------------------------------
// Rule 1: who is captured

t.test('rule 1, P-REC-1: a stay is a half-open span [joinedAt, leftAt); only presence inside the window is captured', async (t) => {
  const f = facts({ participants: [person('a')], stays: [stay('a', 10 * S, 20 * S)] })
  allowed(t, decide(f, request(20 * S, 30 * S)), [], 'window from the leave instant')
  refused(t, decide(f, request(20 * S - 1, 30 * S)), [{ participantId: 'a', rule: 'consent_missing', at: 20 * S - 1 }], 'window 1 ms before the leave')
  t.same(decide(f, request(20 * S - 1, 30 * S)).captured, ['a'])
  allowed(t, decide(f, request(0, 10 * S)), [], 'window ending at the join instant')
  refused(t, decide(f, request(0, 10 * S + 1)), [{ participantId: 'a', rule: 'consent_missing', at: 10 * S }], 'window 1 ms past the join: checked from the join')
})

t.test('rule 1, P-REC-1: without a list everyone present is captured, less the excluded; with a list only those listed and present', async (t) => {
  const f = facts({
    participants: [person('a'), person('b'), person('c')],
    stays: [stay('a', 0, null), stay('b', 0, null), stay('c', 0, 5 * S)],
    records: [rec('a', 'granted', 0), rec('b', 'granted', 0)],
  })
  refused(t, decide(f, request(1 * S, 10 * S)), [{ participantId: 'c', rule: 'consent_missing', at: 1 * S }], 'c present, no consent')
  allowed(t, decide(f, request(5 * S, 10 * S)), ['a', 'b'], 'c left at the window start')
  const excluded = decide(f, request(1 * S, 10 * S, { excluded: ['c'] }))
  allowed(t, excluded, ['a', 'b'], 'c excluded')
  t.same(excluded.excluded, ['c'], 'the excluded are echoed')
  allowed(t, decide(f, request(1 * S, 10 * S, { mode: 'acknowledge', captured: [{ participantId: 'a' }] })), ['a'], 'only a listed')
  allowed(t, decide(f, request(6 * S, 10 * S, { mode: 'acknowledge', captured: [{ participantId: 'a' }, { participantId: 'c' }] })), ['a'], 'c listed but absent')
})

t.test('rule 1: an open stay runs to openUntil; a participant with several stays is checked on each, never in the gap', async (t) => {
  const withdrawal = rec('a', 'withdrawn', 30 * S)
  const open = facts({ participants: [person('a')], stays: [stay('a', 0, null)], records: [rec('a', 'granted', 0), withdrawal] })
  refused(t, decide(open, request(10 * S, 40 * S)), [{ participantId: 'a', rule: 'withdrawn', at: 30 * S }], 'open stay to the window end')
  allowed(t, decide(open, request(10 * S, 40 * S, { openUntil: at(25 * S) })), ['a'], 'open stay ends at openUntil, before the withdrawal')
  allowed(t, decide(open, request(10 * S, 40 * S, { openUntil: at(30 * S) })), ['a'], 'openUntil at the withdrawal instant')
  refused(t, decide(open, request(10 * S, 40 * S, { openUntil: at(30 * S + 1) })), [{ participantId: 'a', rule: 'withdrawn', at: 30 * S }], 'openUntil 1 ms past it')

  // Two stays: granted in the first, withdrawn on leaving at 10 s, granted again on rejoining at 20 s.
  const grant1 = rec('b', 'granted', 0)
  const grant2 = rec('b', 'granted', 20 * S)
  const twice = facts({
    participants: [person('b')],
    stays: [stay('b', 0, 10 * S), stay('b', 20 * S, null)],
    records: [grant1, rec('b', 'withdrawn', 10 * S), grant2],
  })
  const ok = decide(twice, request(5 * S, 30 * S))
  allowed(t, ok, ['b'], 'the gap between stays is not capture')
  t.same([...ok.reliedOn].sort(), [grant1.id, grant2.id].sort(), 'both grants relied on')
  const late = facts({
    participants: [person('b')],
    stays: [stay('b', 0, 10 * S), stay('b', 20 * S, null)],
    records: [rec('b', 'granted', 0), rec('b', 'withdrawn', 10 * S), rec('b', 'granted', 20 * S + 1)],
  })
  refused(t, decide(late, request(5 * S, 30 * S)), [{ participantId: 'b', rule: 'withdrawn', at: 10 * S }], 'granted again 1 ms after rejoining')
  allowed(t, decide(late, request(20 * S + 1, 30 * S)), ['b'], 'from the new grant on')
})

// ---------------------------------------------------------------------------------------------
// Rule 2: what counts as consent

t.test('rule 2, P-REC-1: no published notice of the kind is notice_missing for the whole meeting', async (t) => {
  const people = { participants: [person('a')], stays: [stay('a', 0, null)] }
  const none = decide(facts({ ...people, versions: [] }), request(1 * S, 5 * S))
  refused(t, none, [{ participantId: null, rule: 'notice_missing', at: 1 * S }], 'no version at all')
  t.same(none.captured, [])
  t.same(none.reliedOn, [])
  const later = { ...EN1, publishedAt: at(5 * S + 1) }
  refused(t, decide(facts({ ...people, versions: [later] }), request(1 * S, 5 * S)), [{ participantId: null, rule: 'notice_missing', at: 1 * S }], 'published after the window')
  const atEnd = decide(facts({ ...people, versions: [{ ...EN1, publishedAt: at(5 * S) }] }), request(1 * S, 5 * S))
  refused(t, atEnd, [{ participantId: 'a', rule: 'consent_missing', at: 1 * S }], 'published at the window end: a notice exists, nobody answered it')
})

t.test('rule 2, P-REC-1: consent must cover every instant of the overlap: at the window start is enough, 1 ms later is not', async (t) => {
  const onTime = rec('a', 'granted', 10 * S)
  const f = facts({ participants: [person('a'), person('b')], stays: [stay('a', 0, null), stay('b', 0, null)], records: [onTime, rec('b', 'granted', 10 * S + 1)] })
  refused(t, decide(f, request(10 * S, 20 * S)), [{ participantId: 'b', rule: 'consent_missing', at: 10 * S }], 'b 1 ms late')
  const ok = decide(f, request(10 * S + 1, 20 * S))
  allowed(t, ok, ['a', 'b'], 'from b\'s grant on')
  t.equal(ok.reliedOn.length, 2)
  t.ok(ok.reliedOn.includes(onTime.id))
  // Two offenders: one violation each, in capture order.
  refused(t, decide(f, request(9 * S, 20 * S)), [
    { participantId: 'a', rule: 'consent_missing', at: 9 * S },
    { participantId: 'b', rule: 'consent_missing', at: 9 * S },
  ], 'both too late')
})

t.test('rule 2, P-REC-3: notice mode accepts notified; acknowledge and explicit need granted', async (t) => {
  const f = facts({ participants: [person('a')], stays: [stay('a', 0, null)], records: [rec('a', 'notified', 1 * S)] })
  allowed(t, decide(f, request(1 * S, 5 * S, { mode: 'notice' })), ['a'], 'notice mode')
  refused(t, decide(f, request(1 * S, 5 * S, { mode: 'acknowledge' })), [{ participantId: 'a', rule: 'not_granted', at: 1 * S }], 'acknowledge mode')
  refused(t, decide(f, request(1 * S, 5 * S, { mode: 'explicit' })), [{ participantId: 'a', rule: 'not_granted', at: 1 * S }], 'explicit mode')
  refused(t, decide(f, request(1 * S - 1, 5 * S, { mode: 'notice' })), [{ participantId: 'a', rule: 'consent_missing', at: 1 * S - 1 }], 'notice mode, 1 ms before the notice was shown')
  // A grant followed by a mere notification: the notification is the latest record from its instant.
  const g = facts({ participants: [person('a')], stays: [stay('a', 0, null)], records: [rec('a', 'granted', 1 * S), rec('a', 'notified', 3 * S)] })
  allowed(t, decide(g, request(1 * S, 3 * S)), ['a'], 'before the notification')
  refused(t, decide(g, request(1 * S, 3 * S + 1)), [{ participantId: 'a', rule: 'not_granted', at: 3 * S }], 'explicit mode from the notification')
  allowed(t, decide(g, request(1 * S, 5 * S, { mode: 'notice' })), ['a'], 'notice mode across it')
})

t.test('rule 2, P-GOV-3: requiresReconsent in a later version of the SAME notice stops a grant from its instant; another locale\'s notice does not', async (t) => {
  const versions: FactVersion[] = [
    EN1,
    { id: 'de-1', noticeId: 'notice-de', version: 1, requiresReconsent: false, publishedAt: at(0) },
    { id: 'de-2', noticeId: 'notice-de', version: 2, requiresReconsent: true, publishedAt: at(20 * S) },
    { id: 'en-2', noticeId: 'notice-en', version: 2, requiresReconsent: false, publishedAt: at(30 * S) },
    { id: 'en-3', noticeId: 'notice-en', version: 3, requiresReconsent: true, publishedAt: at(50 * S) },
  ]
  const f = facts({
    participants: [person('en'), person('de')],
    stays: [stay('en', 0, null)],
    records: [rec('en', 'granted', 1 * S)],
    versions,
  })
  allowed(t, decide(f, request(1 * S, 50 * S)), ['en'], 'across de v2 (another notice) and en v2 (no reconsent)')
  refused(t, decide(f, request(1 * S, 50 * S + 1)), [{ participantId: 'en', rule: 'reconsent_required', at: 50 * S }], 'crossing en v3')
  refused(t, decide(f, request(55 * S, 60 * S)), [{ participantId: 'en', rule: 'reconsent_required', at: 55 * S }], 'a window after en v3 fails from its start')

  // A grant to the German notice stops at de v2 and is untouched by the English versions.
  const g = facts({
    participants: [person('de')],
    stays: [stay('de', 0, null)],
    records: [rec('de', 'granted', 1 * S, { noticeVersionId: 'de-1' })],
    versions,
  })
  allowed(t, decide(g, request(1 * S, 20 * S)), ['de'], 'until de v2')
  refused(t, decide(g, request(1 * S, 20 * S + 1)), [{ participantId: 'de', rule: 'reconsent_required', at: 20 * S }], 'crossing de v2')

  // Answering the new version counts from its own instant; a grant to en v2 also falls at en v3.
  const h = facts({
    participants: [person('x'), person('y')],
    stays: [stay('x', 0, null), stay('y', 0, null)],
    records: [rec('x', 'granted', 35 * S, { noticeVersionId: 'en-2' }), rec('y', 'granted', 35 * S, { noticeVersionId: 'en-2' }), rec('y', 'granted', 60 * S, { noticeVersionId: 'en-3' })],
    versions,
  })
  refused(t, decide(h, request(60 * S, 70 * S)), [{ participantId: 'x', rule: 'reconsent_required', at: 60 * S }], 'x still on en v2')
  refused(t, decide(h, request(60 * S - 1, 70 * S, { captured: [{ participantId: 'y' }], excluded: ['x'] })), [{ participantId: 'y', rule: 'reconsent_required', at: 60 * S - 1 }], 'y 1 ms before answering en v3')
  allowed(t, decide(h, request(60 * S, 70 * S, { captured: [{ participantId: 'y' }], excluded: ['x'] })), ['y'], 'y answered en v3')
  // A version published after an instant does not count at that instant.
  allowed(t, decide(h, request(35 * S, 50 * S, { captured: [{ participantId: 'x' }], excluded: ['y'] })), ['x'], 'en v3 not yet published')
})

t.test('rule 2: a grant naming no notice version, or one not of this kind, never counts', async (t) => {
  const f = facts({
    participants: [person('a'), person('b')],
    stays: [stay('a', 0, null), stay('b', 0, null)],
    records: [rec('a', 'granted', 1 * S, { noticeVersionId: null }), rec('b', 'granted', 1 * S, { noticeVersionId: 'a-transcript-version' })],
  })
  refused(t, decide(f, request(1 * S, 5 * S)), [
    { participantId: 'a', rule: 'reconsent_required', at: 1 * S },
    { participantId: 'b', rule: 'reconsent_required', at: 1 * S },
  ], 'no usable version')
})

// ---------------------------------------------------------------------------------------------
// Rule 3: withdrawal and decline

t.test('rule 3, P-REC-4, P-DSR-7: a withdrawal or decline ends permission from its own instant; earlier capture stays valid', async (t) => {
  const grantA = rec('a', 'granted', 1 * S)
  const f = facts({
    participants: [person('a'), person('b')],
    stays: [stay('a', 0, null), stay('b', 0, null)],
    records: [grantA, rec('b', 'granted', 1 * S), rec('a', 'withdrawn', 30 * S), rec('b', 'declined', 40 * S)],
  })
  const before = decide(f, request(1 * S, 30 * S))
  allowed(t, before, ['a', 'b'], 'window ending at the withdrawal')
  t.ok(before.reliedOn.includes(grantA.id))
  refused(t, decide(f, request(1 * S, 30 * S + 1)), [{ participantId: 'a', rule: 'withdrawn', at: 30 * S }], 'window ending 1 ms after')
  refused(t, decide(f, request(1 * S, 40 * S + 1)), [
    { participantId: 'a', rule: 'withdrawn', at: 30 * S },
    { participantId: 'b', rule: 'declined', at: 40 * S },
  ], 'both, each at their own instant')
  allowed(t, decide(f, request(30 * S, 40 * S, { captured: [{ participantId: 'b' }], excluded: ['a'] })), ['b'], 'b until the decline')
  refused(t, decide(f, request(45 * S, 50 * S, { captured: [{ participantId: 'b' }], excluded: ['a'] })), [{ participantId: 'b', rule: 'declined', at: 40 * S }], 'a window after the decline names the decline instant')
})

t.test('rule 3: records at one instant count in the order loaded (by id): the last one is the state', async (t) => {
  const grant = { ...rec('a', 'granted', 10 * S), id: 'rec-a' }
  const withdrawal = { ...rec('a', 'withdrawn', 10 * S), id: 'rec-b' }
  const people = { participants: [person('a')], stays: [stay('a', 0, null)] }
  refused(t, decide(facts({ ...people, records: [grant, withdrawal] }), request(10 * S, 20 * S)), [{ participantId: 'a', rule: 'withdrawn', at: 10 * S }], 'withdrawal ordered last')
  allowed(t, decide(facts({ ...people, records: [{ ...withdrawal, id: 'rec-a' }, { ...grant, id: 'rec-b' }] }), request(10 * S, 20 * S)), ['a'], 'grant ordered last')
  // decide takes the order it is given (the repository sorts by at, then id).
  refused(t, decide({ ...facts(people), records: [grant, withdrawal] }, request(10 * S, 20 * S)), [{ participantId: 'a', rule: 'withdrawn', at: 10 * S }], 'as given')
  allowed(t, decide({ ...facts(people), records: [withdrawal, grant] }, request(10 * S, 20 * S)), ['a'], 'as given, reversed')
})

// ---------------------------------------------------------------------------------------------
// Rule 4: minors

t.test('rule 4, P-MIN-1: a minor needs a guardian consent on record: a guardian record, or the user\'s guardianConsentAt from its instant', async (t) => {
  const self = facts({ participants: [person('kid', { isMinor: true })], stays: [stay('kid', 0, null)], records: [rec('kid', 'granted', 1 * S)] })
  refused(t, decide(self, request(1 * S, 5 * S)), [{ participantId: 'kid', rule: 'minor_without_guardian', at: 1 * S }], 'the minor\'s own grant')
  refused(t, decide(self, request(1 * S, 5 * S, { mode: 'notice' })), [{ participantId: 'kid', rule: 'minor_without_guardian', at: 1 * S }], 'whatever the mode')

  const guardian = rec('kid', 'granted', 20 * S, { method: 'guardian' })
  const withRecord = facts({ participants: [person('kid', { isMinor: true })], stays: [stay('kid', 0, null)], records: [rec('kid', 'granted', 1 * S), guardian] })
  const ok = decide(withRecord, request(20 * S, 30 * S))
  allowed(t, ok, ['kid'], 'from the guardian record')
  t.same(ok.reliedOn, [guardian.id])
  refused(t, decide(withRecord, request(20 * S - 1, 30 * S)), [{ participantId: 'kid', rule: 'minor_without_guardian', at: 20 * S - 1 }], '1 ms before it')

  const onUser = facts({
    participants: [person('kid', { isMinor: true, guardianConsentAt: at(20 * S) })],
    stays: [stay('kid', 0, null)],
    records: [rec('kid', 'granted', 1 * S)],
  })
  allowed(t, decide(onUser, request(20 * S, 30 * S)), ['kid'], 'from the user\'s guardianConsentAt')
  refused(t, decide(onUser, request(10 * S, 30 * S)), [{ participantId: 'kid', rule: 'minor_without_guardian', at: 10 * S }], 'before the user\'s guardianConsentAt')
  refused(t, decide(onUser, request(20 * S - 1, 30 * S)), [{ participantId: 'kid', rule: 'minor_without_guardian', at: 20 * S - 1 }], '1 ms before it')

  // A guardian consent does not outlive a withdrawal, and does not replace a grant.
  const withdrawn = facts({
    participants: [person('kid', { isMinor: true, guardianConsentAt: at(0) })],
    stays: [stay('kid', 0, null)],
    records: [rec('kid', 'granted', 1 * S), rec('kid', 'withdrawn', 5 * S)],
  })
  refused(t, decide(withdrawn, request(1 * S, 6 * S)), [{ participantId: 'kid', rule: 'withdrawn', at: 5 * S }], 'withdrawn')
  const noGrant = facts({ participants: [person('kid', { isMinor: true, guardianConsentAt: at(0) })], stays: [stay('kid', 0, null)] })
  refused(t, decide(noGrant, request(1 * S, 6 * S)), [{ participantId: 'kid', rule: 'consent_missing', at: 1 * S }], 'guardian on record but no grant')
  // An adult's guardianConsentAt is irrelevant.
  allowed(t, decide(facts({ participants: [person('adult')], stays: [stay('adult', 0, null)], records: [rec('adult', 'granted', 1 * S)] }), request(1 * S, 5 * S)), ['adult'], 'an adult')
})

// ---------------------------------------------------------------------------------------------
// Rule 5: explicit mode exclusion, recordings only

t.test('rule 5, P-REC-3: in explicit mode a present participant without a grant must be excluded, for scope recording only', async (t) => {
  const grantA = rec('a', 'granted', 1 * S)
  const f = facts({
    participants: [person('a'), person('b'), person('c')],
    stays: [stay('a', 0, null), stay('b', 0, null), stay('c', 0, 3 * S)],
    records: [grantA, rec('b', 'granted', 1 * S), rec('b', 'withdrawn', 8 * S)],
  })
  const list = { captured: [{ participantId: 'a' }] }
  const refusedOutcome = decide(f, request(2 * S, 10 * S, list))
  refused(t, refusedOutcome, [
    { participantId: 'b', rule: 'not_excluded', at: 8 * S },
    { participantId: 'c', rule: 'not_excluded', at: 2 * S },
  ], 'b (withdrew) and c (never granted) present, not excluded')
  t.same(refusedOutcome.captured, ['a'], 'the not-excluded are not captured')
  const ok = decide(f, request(2 * S, 10 * S, { ...list, excluded: ['b', 'c'] }))
  allowed(t, ok, ['a'], 'both excluded')
  t.same(ok.reliedOn, [grantA.id], 'checking the present does not add to what the grant relies on')
  refused(t, decide(f, request(2 * S, 10 * S, { ...list, excluded: ['b'] })), [{ participantId: 'c', rule: 'not_excluded', at: 2 * S }], 'only b excluded')
  allowed(t, decide(f, request(3 * S, 8 * S, list)), ['a'], 'c gone and b still granted: nobody to exclude')
  allowed(t, decide(f, request(2 * S, 10 * S, { ...list, mode: 'acknowledge' })), ['a'], 'acknowledge mode')
  allowed(t, decide(f, request(2 * S, 10 * S, { ...list, mode: 'notice' })), ['a'], 'notice mode')
  // A transcript captures its speakers and nobody else (rule 7): rule 5 does not apply.
  const transcriptFacts = { ...f, versions: [{ ...EN1 }] }
  allowed(t, decide(transcriptFacts, request(2 * S, 10 * S, { scope: 'transcript', captured: [{ participantId: 'a', spans: [{ from: at(2 * S), to: at(4 * S) }] }] })), ['a'], 'scope transcript')
  // Without a list everyone present is captured instead, so the rule is consent, not exclusion.
  refused(t, decide(f, request(2 * S, 10 * S)), [
    { participantId: 'b', rule: 'withdrawn', at: 8 * S },
    { participantId: 'c', rule: 'consent_missing', at: 2 * S },
  ], 'no list')
})

// ---------------------------------------------------------------------------------------------
// Rule 7: transcript spans

t.test('rule 7, P-REC-2: a speaker is checked over their segments\' spans only; empty spans are ignored; one violation per speaker', async (t) => {
  const f = facts({
    participants: [person('a'), person('b')],
    stays: [stay('a', 0, null), stay('b', 0, null)],
    records: [rec('a', 'granted', 0), rec('b', 'granted', 30 * S), rec('b', 'withdrawn', 50 * S)],
  })
  const span = (fromMs: number, toMs: number) => ({ from: at(fromMs), to: at(toMs) })
  const tr = (captured: GateRequest['captured']) => request(0, 60 * S, { scope: 'transcript', captured })
  allowed(t, decide(f, tr([{ participantId: 'a', spans: [span(0, 5 * S)] }, { participantId: 'b', spans: [span(30 * S, 50 * S)] }])), ['a', 'b'], 'b inside his consent, to its edges')
  refused(t, decide(f, tr([{ participantId: 'b', spans: [span(30 * S - 1, 40 * S)] }])), [{ participantId: 'b', rule: 'consent_missing', at: 30 * S - 1 }], '1 ms before')
  refused(t, decide(f, tr([{ participantId: 'b', spans: [span(40 * S, 50 * S + 1)] }])), [{ participantId: 'b', rule: 'withdrawn', at: 50 * S }], '1 ms after')
  refused(
    t,
    decide(f, tr([{ participantId: 'b', spans: [span(31 * S, 32 * S), span(10 * S, 11 * S), span(55 * S, 56 * S)] }])),
    [{ participantId: 'b', rule: 'consent_missing', at: 10 * S }],
    'the first failing span is the one reported, once',
  )
  const empty = decide(f, tr([{ participantId: 'b', spans: [span(10 * S, 10 * S)] }, { participantId: 'a', spans: [span(1 * S, 2 * S)] }]))
  allowed(t, empty, ['a'], 'an empty span captures nobody')
})

// ---------------------------------------------------------------------------------------------
// The switches (P-REC-5) and device permissions (P-SET-2)

t.test('P-REC-5: an artefact switched off is refused whoever consented; without a kind some kind must be on', async (t) => {
  const f = facts({ participants: [person('a')], stays: [stay('a', 0, null)], records: [rec('a', 'granted', 0)] })
  const on = { cloud: true, local: true, transcript: true }
  allowed(t, decide(f, request(1 * S, 2 * S, { switches: on, kind: 'cloud' })), ['a'], 'cloud on')
  refused(t, decide(f, request(1 * S, 2 * S, { switches: { ...on, cloud: false }, kind: 'cloud' })), [{ participantId: null, rule: 'recording_disabled', at: 1 * S }], 'cloud off')
  allowed(t, decide(f, request(1 * S, 2 * S, { switches: { ...on, cloud: false } })), ['a'], 'no kind, local on')
  refused(t, decide(f, request(1 * S, 2 * S, { switches: { ...on, cloud: false, local: false } })), [{ participantId: null, rule: 'recording_disabled', at: 1 * S }], 'no kind, both off')
  refused(t, decide(f, request(1 * S, 2 * S, { scope: 'transcript', switches: { ...on, transcript: false }, captured: [{ participantId: 'a', spans: [{ from: at(1 * S), to: at(2 * S) }] }] })), [{ participantId: null, rule: 'transcript_disabled', at: 1 * S }], 'transcripts off')
  const both = decide(facts({ participants: [person('a')], stays: [stay('a', 0, null)], records: [], versions: [] }), request(1 * S, 2 * S, { switches: { ...on, local: false }, kind: 'local' }))
  refused(t, both, [{ participantId: null, rule: 'recording_disabled', at: 1 * S }, { participantId: null, rule: 'notice_missing', at: 1 * S }], 'every meeting-wide violation at once')
})

t.test('P-SET-2: camera and microphone off make a recording violation unless excluded; a transcript is not a recording', async (t) => {
  const f = facts({
    participants: [person('a'), person('b', { devicesOff: true })],
    stays: [stay('a', 0, null), stay('b', 0, null)],
    records: [rec('a', 'granted', 0), rec('b', 'granted', 0)],
  })
  refused(t, decide(f, request(1 * S, 2 * S)), [{ participantId: 'b', rule: 'device_permission_off', at: 1 * S }], 'a grant does not lift the switch')
  allowed(t, decide(f, request(1 * S, 2 * S, { excluded: ['b'] })), ['a'], 'excluded')
  refused(t, decide(f, request(1 * S, 2 * S, { captured: [{ participantId: 'a' }] })), [{ participantId: 'b', rule: 'not_excluded', at: 1 * S }], 'explicit mode: present, not listed, not excluded')
  allowed(t, decide(f, request(1 * S, 2 * S, { scope: 'transcript', captured: [{ participantId: 'b', spans: [{ from: at(1 * S), to: at(2 * S) }] }] })), ['b'], 'a transcript is decided on its own consent')
})
