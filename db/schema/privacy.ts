import { sql } from 'drizzle-orm'
import { bigint, check, foreignKey, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { accounts } from './accounts.js'

export const PRIVACY_REQUEST_TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', 'withdraw_consent', 'cancel_account'] as const
export const PRIVACY_REQUEST_STATUSES = ['received', 'verified', 'in_progress', 'completed', 'rejected'] as const
export type PrivacyRequestType = (typeof PRIVACY_REQUEST_TYPES)[number]
export type PrivacyRequestStatus = (typeof PRIVACY_REQUEST_STATUSES)[number]

// A data subject's request (P-DSR-1…7): filed by the subject or by an admin for them (a user, or a
// guest named by meeting and participant), due by the account's deadline, worked by a background
// job, and kept with its history as evidence that it was answered, and when.
export const privacyRequests = pgTable(
  'privacy_requests',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id),
    id: uuid('id').notNull(),
    type: text('type', { enum: PRIVACY_REQUEST_TYPES }).notNull(),
    status: text('status', { enum: PRIVACY_REQUEST_STATUSES }).notNull(),
    subjectUserId: uuid('subject_user_id'),
    subjectMeetingId: uuid('subject_meeting_id'),
    subjectParticipantId: uuid('subject_participant_id'),
    /** What the subject asked for (a rectification's new values, say). */
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    filedBy: text('filed_by').notNull(),
    filedAs: text('filed_as', { enum: ['subject', 'admin'] }).notNull(),
    /** Why an admin filed it, or why it was rejected. */
    reason: text('reason'),
    receivedAt: timestamp('received_at', { withTimezone: true, precision: 3 }).notNull(),
    dueAt: timestamp('due_at', { withTimezone: true, precision: 3 }).notNull(),
    extendedTo: timestamp('extended_to', { withTimezone: true, precision: 3 }),
    extensionReason: text('extension_reason'),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
    /** A restriction or objection that was lifted. */
    liftedAt: timestamp('lifted_at', { withTimezone: true, precision: 3 }),
    /** What the work did: counts per category and what was withheld, with reasons. */
    result: jsonb('result').$type<Record<string, unknown>>(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.id] }),
    index('privacy_requests_due_idx').on(t.accountId, t.status, t.dueAt),
    index('privacy_requests_subject_idx').on(t.accountId, t.subjectUserId),
    // One open request of a type per subject: a second is 409 naming the first.
    uniqueIndex('privacy_requests_one_open_unique')
      .on(t.accountId, t.subjectUserId, t.subjectParticipantId, t.type)
      .where(sql`${t.status} in ('received', 'verified', 'in_progress')`),
    check('privacy_requests_subject_check', sql`(${t.subjectUserId} is null) <> (${t.subjectParticipantId} is null)`),
    check('privacy_requests_guest_check', sql`(${t.subjectParticipantId} is null) = (${t.subjectMeetingId} is null)`),
    check('privacy_requests_status_check', sql`${t.status} in ('received','verified','in_progress','completed','rejected')`),
  ],
)

// Every change of a request (status, extension, lift): who, when, from, to, why.
export const privacyRequestHistory = pgTable(
  'privacy_request_history',
  {
    accountId: uuid('account_id').notNull(),
    requestId: uuid('request_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
    actor: text('actor').notNull(),
    change: text('change', { enum: ['status', 'extension', 'lift'] }).notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status'),
    reason: text('reason'),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.requestId, t.seq] }),
    foreignKey({ name: 'privacy_request_history_request_fk', columns: [t.accountId, t.requestId], foreignColumns: [privacyRequests.accountId, privacyRequests.id] }),
  ],
)

// The answer to an access or portability request: a personal dossier, kept like any other
// personal data and deleted by the purge when it expires.
export const privacyExports = pgTable(
  'privacy_exports',
  {
    accountId: uuid('account_id').notNull(),
    requestId: uuid('request_id').notNull(),
    document: jsonb('document').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.requestId] }),
    foreignKey({ name: 'privacy_exports_request_fk', columns: [t.accountId, t.requestId], foreignColumns: [privacyRequests.accountId, privacyRequests.id] }),
    index('privacy_exports_expiry_idx').on(t.expiresAt),
  ],
)

// The client a consent came from (user agent, network), kept beside the append-only record and
// not in it: erasure deletes these rows, and the record stays as pseudonymous evidence.
export const consentClientDetails = pgTable(
  'consent_client_details',
  {
    accountId: uuid('account_id').notNull(),
    recordId: uuid('record_id').notNull(),
    userAgent: text('user_agent'),
    clientNetwork: text('client_network'),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.recordId] })],
)
