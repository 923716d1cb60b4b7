// The data categories the service keeps, each with its retention, declared once. The purge, the
// settings that set a period, the README's table and (later) privacy requests all read this list.
// A period set by a setting has a default, a legal floor and a ceiling: a value outside them is
// refused with 400 retention_out_of_bounds (P-RET-3).

export const DATA_CATEGORIES = [
  'recordings',
  'transcripts',
  'attention_spans',
  'media_diagnostics',
  'idempotent_answers',
  'audit_trail',
  'consent_evidence',
  'finished_jobs',
  'export_documents',
  'events',
  'webhook_deliveries',
] as const
export type DataCategory = (typeof DATA_CATEGORIES)[number]

export interface RetentionBounds {
  unit: 'days' | 'years'
  default: number
  floor: number
  ceiling: number
  /** Why the floor is where it is. */
  floorReason: string
}

export interface RetentionCategory {
  category: DataCategory
  description: string
  /** The setting (account layer unless noted) that sets the period, or a fixed period in hours. */
  period: { setting: string; bounds: RetentionBounds } | { fixedHours: number }
  /** When the period is fixed: at write (the row carries its expiry) or at each purge. */
  fixedAt: 'write' | 'purge'
  /** What the purge does to an expired row. */
  purge: string
}

export const RETENTION_BOUNDS: Readonly<Record<string, RetentionBounds>> = {
  'recording.auto_delete_days': { unit: 'days', default: 30, floor: 1, ceiling: 3650, floorReason: 'none beyond a day: the shorter the better (P-REC-5)' },
  'attention_tracking.retention_days': { unit: 'days', default: 30, floor: 1, ceiling: 365, floorReason: 'none beyond a day' },
  'media_monitoring.retention_days': { unit: 'days', default: 30, floor: 1, ceiling: 365, floorReason: 'none beyond a day' },
  'retention.audit_days': {
    unit: 'days',
    default: 365,
    floor: 180,
    ceiling: 3650,
    floorReason: 'access logs of personal data are kept at least six months (P-RET-3; PRC Cybersecurity Law art. 21)',
  },
  'retention.evidence_years': {
    unit: 'years',
    default: 6,
    floor: 1,
    ceiling: 10,
    floorReason: 'a consent must stay provable after the processing it allowed (GDPR art. 7(1))',
  },
}

export const RETENTION_CATALOG: readonly RetentionCategory[] = [
  {
    category: 'recordings',
    description: 'Cloud recordings: the bytes in the blob store and the row that points at them',
    period: { setting: 'recording.auto_delete_days', bounds: RETENTION_BOUNDS['recording.auto_delete_days']! },
    fixedAt: 'write',
    purge: 'the row becomes `deleted` (kept, without its storage key, as the record of what existed), then the bytes are removed',
  },
  {
    category: 'transcripts',
    description: 'Transcripts, kept as long as the recordings they come from',
    period: { setting: 'recording.auto_delete_days', bounds: RETENTION_BOUNDS['recording.auto_delete_days']! },
    fixedAt: 'write',
    purge: 'the row becomes `deleted` and its segments are emptied',
  },
  {
    category: 'attention_spans',
    description: 'Kept attention spans (P-ATT-3)',
    period: { setting: 'attention_tracking.retention_days', bounds: RETENTION_BOUNDS['attention_tracking.retention_days']! },
    fixedAt: 'write',
    purge: 'deleted',
  },
  {
    category: 'media_diagnostics',
    description: 'Media-traffic diagnostics of users who opted in (P-MED-2)',
    period: { setting: 'media_monitoring.retention_days', bounds: RETENTION_BOUNDS['media_monitoring.retention_days']! },
    fixedAt: 'write',
    purge: 'deleted',
  },
  {
    category: 'idempotent_answers',
    description: 'Stored answers to requests sent with an Idempotency-Key',
    period: { fixedHours: 24 },
    fixedAt: 'write',
    purge: 'deleted; a retry after that runs again (a consent POST still finds its record, which carries the key)',
  },
  {
    category: 'audit_trail',
    description: 'The audit trail, the access log of personal data (P-RET-3)',
    period: { setting: 'retention.audit_days', bounds: RETENTION_BOUNDS['retention.audit_days']! },
    fixedAt: 'purge',
    purge: 'entries older than the period are deleted from the start of the chain, behind a signed checkpoint from which the chain still verifies',
  },
  {
    category: 'consent_evidence',
    description: 'Consent records: the proof of each consent, decline and withdrawal',
    period: { setting: 'retention.evidence_years', bounds: RETENTION_BOUNDS['retention.evidence_years']! },
    fixedAt: 'purge',
    purge: "deleted once older than the period, and only when no longer needed as proof: a meeting's records once the meeting is over and none of its recordings or transcripts is stored; an account-wide record once a newer one of the same user and scope replaced it",
  },
  {
    category: 'export_documents',
    description: 'Answers to access and portability requests: personal dossiers',
    period: { fixedHours: 30 * 24 },
    fixedAt: 'write',
    purge: 'deleted (the request and its history stay as evidence)',
  },
  {
    category: 'events',
    description: 'The outbox of events (what streams resume from and webhooks deliver)',
    period: { fixedHours: 30 * 24 },
    fixedAt: 'purge',
    purge: 'deleted once stamped and older than the period (a stream cannot resume further back)',
  },
  {
    category: 'webhook_deliveries',
    description: 'Webhook delivery attempts',
    period: { fixedHours: 30 * 24 },
    fixedAt: 'purge',
    purge: 'deleted',
  },
  {
    category: 'finished_jobs',
    description: 'Background jobs that finished (done or failed)',
    period: { fixedHours: 7 * 24 },
    fixedAt: 'purge',
    purge: 'deleted',
  },
]
