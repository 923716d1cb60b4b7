import type { DataCategory } from '../retention/retention.catalog.js'

// The personal data the service holds, one entry per category: where it lives, why, on what
// legal basis, who receives it, and how long it is kept. Access exports are built from it and
// erasure walks it; a test fails when a table of the drizzle schema is in neither list below, so
// a new table cannot escape access or erasure.

export interface PersonalDataCategory {
  category: string
  tables: readonly string[]
  purpose: string
  legalBasis: string
  recipients: string
  retention: string
  /** The retention catalogue's category, where the purge applies one. */
  purgedAs?: DataCategory
  /** What erasure does to it. */
  onErasure: string
}

export const PERSONAL_DATA: readonly PersonalDataCategory[] = [
  {
    category: 'profile',
    tables: ['users'],
    purpose: 'identify the user to their organisation and in meetings; decide minors’ rules',
    legalBasis: 'contract with the organisation (GDPR art. 6(1)(b))',
    recipients: 'the organisation’s admins; meeting participants see the display name',
    retention: 'while the account exists; anonymised on erasure or cancellation',
    onErasure: 'email, display name, picture, birth date and guardian’s name replaced or cleared; the id stays as a pseudonym',
  },
  {
    category: 'memberships',
    tables: ['group_members'],
    purpose: 'apply the organisation’s group settings',
    legalBasis: 'contract',
    recipients: 'the organisation’s admins',
    retention: 'while the account exists',
    onErasure: 'kept: ids only, no personal values',
  },
  {
    category: 'settings',
    tables: ['setting_values'],
    purpose: 'the user’s own privacy and meeting choices',
    legalBasis: 'contract; consent for opt-ins',
    recipients: 'none',
    retention: 'while the account exists',
    onErasure: 'the user’s own values deleted (the private defaults apply)',
  },
  {
    category: 'meetings_and_presence',
    tables: ['meetings', 'participants', 'presence_intervals', 'screen_shares'],
    purpose: 'run meetings and decide who a capture includes',
    legalBasis: 'contract',
    recipients: 'the meeting’s host and participants',
    retention: 'while the account exists',
    onErasure: 'a guest’s display name replaced; ids and instants stay as pseudonymous facts',
  },
  {
    category: 'consents_and_receipts',
    tables: ['consent_records', 'consent_client_details', 'consent_grants', 'notices', 'notice_versions'],
    purpose: 'prove each consent, decline and withdrawal (GDPR art. 7(1))',
    legalBasis: 'legal obligation (art. 6(1)(c))',
    recipients: 'the organisation’s admins; the recording service learns the decision',
    retention: 'retention.evidence_years after the meeting, while anything they allowed is stored',
    purgedAs: 'consent_evidence',
    onErasure: 'records kept as pseudonymous evidence (append-only); the user agent and network beside them deleted',
  },
  {
    category: 'recordings',
    tables: ['recordings'],
    purpose: 'keep the meetings the organisation records, with everyone’s consent',
    legalBasis: 'consent (art. 6(1)(a))',
    recipients: 'the organisation; the operator only under a support grant',
    retention: 'recording.auto_delete_days',
    purgedAs: 'recordings',
    onErasure: 'recording.on_erasure: delete (default) removes those the subject appears in; withhold keeps them, listed',
  },
  {
    category: 'transcripts',
    tables: ['transcripts'],
    purpose: 'text of recorded meetings',
    legalBasis: 'consent',
    recipients: 'the organisation; the operator only under a support grant',
    retention: 'recording.auto_delete_days',
    purgedAs: 'transcripts',
    onErasure: 'the subject’s segments replaced by redaction markers',
  },
  {
    category: 'attention_spans',
    tables: ['attention_spans'],
    purpose: 'attention tracking where the organisation allows it and the host enables it',
    legalBasis: 'legitimate interest of the organisation, with notice (P-ATT-1)',
    recipients: 'the meeting’s host',
    retention: 'attention_tracking.retention_days',
    purgedAs: 'attention_spans',
    onErasure: 'deleted',
  },
  {
    category: 'media_diagnostics',
    tables: ['media_diagnostics'],
    purpose: 'call quality, for users who opted in',
    legalBasis: 'consent',
    recipients: 'the organisation’s admins',
    retention: 'media_monitoring.retention_days',
    purgedAs: 'media_diagnostics',
    onErasure: 'deleted',
  },
  {
    category: 'audit_entries',
    tables: ['audit_entries', 'audit_pending'],
    purpose: 'the access log of personal data and of every change (P-GOV-2)',
    legalBasis: 'legal obligation: access logs kept at least six months',
    recipients: 'the organisation’s admins',
    retention: 'retention.audit_days (at least 180 days)',
    purgedAs: 'audit_trail',
    onErasure: 'kept (legal minimum); entries carry ids, never personal values',
  },
  {
    category: 'idempotent_answers',
    tables: ['idempotency_keys'],
    purpose: 'answer a retried request with its first answer',
    legalBasis: 'contract',
    recipients: 'none',
    retention: '24 hours',
    purgedAs: 'idempotent_answers',
    onErasure: 'deleted',
  },
  {
    category: 'privacy_requests',
    tables: ['privacy_requests', 'privacy_request_history'],
    purpose: 'answer the subject’s requests and prove they were answered on time',
    legalBasis: 'legal obligation',
    recipients: 'the organisation’s admins',
    retention: 'retention.evidence_years',
    onErasure: 'kept as evidence; details of a rectification cleared',
  },
  {
    category: 'export_documents',
    tables: ['privacy_exports'],
    purpose: 'the answer to an access or portability request',
    legalBasis: 'legal obligation',
    recipients: 'the subject; the organisation’s admins',
    retention: '30 days after it is made',
    purgedAs: 'export_documents',
    onErasure: 'deleted',
  },
]

/** Tables that hold no personal data, each with the reason. */
export const NOT_PERSONAL: Readonly<Record<string, string>> = {
  accounts: 'the organisation itself',
  groups: 'organisation structure (names of groups, not people)',
  setting_locks: 'the organisation’s locks',
  audit_heads: 'the end of each hash chain',
  audit_checkpoints: 'signed hashes where a trail starts',
  support_grants: 'the organisation’s grants to the operator',
  legal_holds: 'the organisation’s holds (ids of subjects, reasons)',
  jobs: 'background work (ids)',
  events: 'the outbox: ids, kinds and instants of changes, never personal content',
  webhooks: 'the organisation’s endpoints',
  webhook_deliveries: 'delivery attempts (ids, status codes, latency)',
}
