import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'
import { meetings, participants } from './meetings.js'

export const NOTICE_KINDS = ['recording', 'transcript', 'attention_tracking', 'media_monitoring', 'privacy_policy'] as const
export const CONSENT_DECISIONS = ['granted', 'declined', 'withdrawn', 'notified'] as const
/** Methods that record someone else's word (a guardian's, the host's note of a verbal answer). */
export const ATTESTED_METHOD_LIST = ['guardian', 'verbal_recorded'] as const
/** Scopes the gate decides on: each artefact kind has its own (consent to one never implies another). */
export const GATED_SCOPES = ['recording', 'transcript'] as const
export const RECORDING_KINDS = ['cloud', 'local'] as const
export const RECORDING_STATUSES = ['pending', 'stored', 'rejected', 'deleted'] as const

// A notice per (kind, locale); its title and text live in immutable versions.
export const notices = pgTable(
  'notices',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    kind: text('kind', { enum: NOTICE_KINDS }).notNull(),
    locale: text('locale').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    uniqueIndex('notices_kind_locale_unique').on(t.accountId, t.kind, t.locale),
    check('notices_kind_check', sql`${t.kind} in ('recording','transcript','attention_tracking','media_monitoring','privacy_policy')`),
  ],
)

// Published versions never change (a trigger refuses UPDATE and DELETE). `kind` repeats the
// notice's so the gate reads the versions of a kind without a join.
export const noticeVersions = pgTable(
  'notice_versions',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    noticeId: uuid('notice_id').notNull(),
    kind: text('kind', { enum: NOTICE_KINDS }).notNull(),
    version: integer('version').notNull(),
    /** Each version has its own title: a later one may retitle the notice, an earlier one keeps what it showed. */
    title: text('title').notNull(),
    text: text('text').notNull(),
    sha256: text('sha256').notNull(),
    requiresReconsent: boolean('requires_reconsent').notNull(),
    publishedBy: text('published_by').notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'notice_versions_notice_fk', columns: [t.accountId, t.noticeId], foreignColumns: [notices.accountId, notices.id] }),
    uniqueIndex('notice_versions_number_unique').on(t.accountId, t.noticeId, t.version),
    index('notice_versions_kind_idx').on(t.accountId, t.kind, t.publishedAt),
    check('notice_versions_version_check', sql`${t.version} >= 1`),
  ],
)

// Append-only consent events (a trigger refuses UPDATE and DELETE). Account-wide events (privacy
// signals, opt-ins) have no meeting; a meeting's have its participant and the notice version.
export const consentRecords = pgTable(
  'consent_records',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    /** Insertion order: two records of one instant are ordered by it (a grant, then a withdrawal). */
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    userId: uuid('user_id'),
    meetingId: uuid('meeting_id'),
    participantId: uuid('participant_id'),
    scope: text('scope').notNull(),
    decision: text('decision', { enum: CONSENT_DECISIONS }).notNull(),
    method: text('method').notNull(),
    noticeVersionId: uuid('notice_version_id'),
    /** The guardian who consented for a minor (method `guardian`), as the host or admin recorded it. */
    guardianName: text('guardian_name'),
    recordedBy: text('recorded_by'),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    // The client's user agent and network live in consent_client_details, which erasure can delete.
    /** `<subject>:<Idempotency-Key>`: a retry that runs again finds the record it already wrote. */
    requestKey: text('request_key'),
    /** The id of the key that signed the record's receipt: a replay re-signs with that key, so it returns the same receipt after a rotation. */
    receiptKid: text('receipt_kid'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index('consent_records_user_idx').on(t.accountId, t.userId, t.scope, t.at),
    index('consent_records_meeting_idx').on(t.accountId, t.meetingId, t.scope, t.at),
    // A consent POST asks whether the participant answered the scope themself (rule: a proxy never
    // overrides an adult): without this it scanned every record of the account, the storm's slowest statement.
    index('consent_records_participant_idx').on(t.accountId, t.participantId, t.scope, t.at),
    uniqueIndex('consent_records_request_key_unique').on(t.accountId, t.requestKey).where(sql`${t.requestKey} is not null`),
    // The meeting FK also makes every consent insert take a key-share lock on the meeting row,
    // which a store's FOR UPDATE waits for: a withdrawal that commits first always wins (rule 8).
    foreignKey({ name: 'consent_records_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    foreignKey({ name: 'consent_records_participant_fk', columns: [t.accountId, t.participantId], foreignColumns: [participants.accountId, participants.id] }),
    foreignKey({ name: 'consent_records_notice_version_fk', columns: [t.accountId, t.noticeVersionId], foreignColumns: [noticeVersions.accountId, noticeVersions.id] }),
    check('consent_records_decision_check', sql`${t.decision} in ('granted','declined','withdrawn','notified')`),
    check('consent_records_participant_check', sql`${t.participantId} is null or ${t.meetingId} is not null`),
    // Methods are catalogue words: the gate's facts statement writes them into JSON unescaped.
    check('consent_records_method_check', sql`${t.method} ~ '^[a-z_]{1,40}$'`),
  ],
)

// The gate's decision record: what was allowed, for which window, on which consent records.
// Recordings and transcripts reference one NOT NULL, so no artefact exists without a grant.
export const consentGrants = pgTable(
  'consent_grants',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    scope: text('scope', { enum: GATED_SCOPES }).notNull(),
    mode: text('mode').notNull(),
    windowStart: timestamp('window_start', { withTimezone: true, precision: 3 }).notNull(),
    windowEnd: timestamp('window_end', { withTimezone: true, precision: 3 }).notNull(),
    capturedParticipantIds: jsonb('captured_participant_ids').$type<string[]>().notNull(),
    excludedParticipantIds: jsonb('excluded_participant_ids').$type<string[]>().notNull(),
    consentRecordIds: jsonb('consent_record_ids').$type<string[]>().notNull(),
    decidedBy: text('decided_by').notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'consent_grants_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    check('consent_grants_scope_check', sql`${t.scope} in ('recording','transcript')`),
    check('consent_grants_window_check', sql`${t.windowStart} < ${t.windowEnd}`),
  ],
)

export const recordings = pgTable(
  'recordings',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    kind: text('kind', { enum: RECORDING_KINDS }).notNull(),
    status: text('status', { enum: RECORDING_STATUSES }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }).notNull(),
    capturedParticipantIds: jsonb('captured_participant_ids').$type<string[]>().notNull(),
    excludedParticipantIds: jsonb('excluded_participant_ids').$type<string[]>().notNull(),
    grantId: uuid('grant_id').notNull(),
    storageKey: text('storage_key'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    sha256: text('sha256'),
    region: text('region').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    storedAt: timestamp('stored_at', { withTimezone: true, precision: 3 }),
    deletedAt: timestamp('deleted_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    foreignKey({ name: 'recordings_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    foreignKey({ name: 'recordings_grant_fk', columns: [t.accountId, t.grantId], foreignColumns: [consentGrants.accountId, consentGrants.id] }),
    index('recordings_meeting_idx').on(t.accountId, t.meetingId),
    index('recordings_expiry_idx').on(t.expiresAt),
    check('recordings_kind_check', sql`${t.kind} in ('cloud','local')`),
    check('recordings_status_check', sql`${t.status} in ('pending','stored','rejected','deleted')`),
    check('recordings_window_check', sql`${t.startedAt} < ${t.endedAt}`),
  ],
)

export interface TranscriptSegment {
  speakerParticipantId: string
  startMs: number
  endMs: number
  /** null when redacted: the speaker had no transcript consent for this span. */
  text: string | null
  redacted: boolean
}

export const transcripts = pgTable(
  'transcripts',
  {
    accountId: uuid('account_id').notNull(),
    id: uuid('id').notNull(),
    meetingId: uuid('meeting_id').notNull(),
    recordingId: uuid('recording_id'),
    status: text('status', { enum: ['stored', 'deleted'] }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
    endedAt: timestamp('ended_at', { withTimezone: true, precision: 3 }).notNull(),
    grantId: uuid('grant_id').notNull(),
    segments: jsonb('segments').$type<TranscriptSegment[]>().notNull(),
    redactedSegments: integer('redacted_segments').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    /** Fixed when stored, from recording.auto_delete_days: a later change applies to later transcripts. */
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    deletedAt: timestamp('deleted_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index('transcripts_expiry_idx').on(t.expiresAt),
    foreignKey({ name: 'transcripts_meeting_fk', columns: [t.accountId, t.meetingId], foreignColumns: [meetings.accountId, meetings.id] }),
    foreignKey({ name: 'transcripts_grant_fk', columns: [t.accountId, t.grantId], foreignColumns: [consentGrants.accountId, consentGrants.id] }),
    foreignKey({ name: 'transcripts_recording_fk', columns: [t.accountId, t.recordingId], foreignColumns: [recordings.accountId, recordings.id] }),
    index('transcripts_meeting_idx').on(t.accountId, t.meetingId),
    check('transcripts_status_check', sql`${t.status} in ('stored','deleted')`),
    check('transcripts_window_check', sql`${t.startedAt} < ${t.endedAt}`),
  ],
)
