import { z } from 'zod'
import { PRIVACY_REQUEST_STATUSES, PRIVACY_REQUEST_TYPES } from '../../../db/schema/index.js'
import { instant } from '../../lib/instant.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

export const MAX_EXTENSION_DAYS = 60

export const RequestParamsSchema = z.strictObject({ requestId: z.uuid() })
export const AccountRequestParamsSchema = z.strictObject({ accountId: z.uuid(), requestId: z.uuid() })

const RectificationDetails = z
  .strictObject({
    displayName: safeText(200).optional().describe('The corrected display name'),
    pictureUrl: z.url().max(2000).nullable().optional().describe('The corrected picture, or null to remove it'),
  })
  .describe('rectification: the corrected profile values')

export const FileOwnRequestSchema = z
  .strictObject({
    type: z.enum(PRIVACY_REQUEST_TYPES),
    details: RectificationDetails.optional().describe('Only for rectification: the values to correct'),
  })
  .meta({
    id: 'FilePrivacyRequest',
    description: 'A request the subject files with their own token: verified on receipt, and its work starts by itself',
    examples: [{ type: 'access' }, { type: 'rectification', details: { displayName: 'Ada L.' } }],
  })

export const FileForSubjectSchema = z
  .strictObject({
    type: z.enum(PRIVACY_REQUEST_TYPES),
    subjectUserId: z.uuid().optional().describe('The user the request is for. Exactly one of subjectUserId and guest'),
    guest: z
      .strictObject({ meetingId: z.uuid(), participantId: z.uuid() })
      .optional()
      .describe('A guest (no user row), named by the meeting and participant: access and erasure only'),
    reason: safeText(1000).describe('Why the admin files it (the subject wrote to the organisation, say)'),
    details: RectificationDetails.optional(),
  })
  .meta({ id: 'FilePrivacyRequestForSubject', description: 'An admin files a request for a subject, as the controller (P-GOV-1); it starts once an admin marks it verified' })

export const PatchRequestSchema = z
  .strictObject({
    status: z.enum(['verified', 'in_progress', 'completed', 'rejected']).optional().describe('received → verified → in_progress → completed or rejected; any other move is 409 invalid_transition'),
    reason: safeText(1000).optional().describe('Required with rejected and with extendTo'),
    extendTo: instant(`A later due date, once per request, at most ${MAX_EXTENSION_DAYS} days past the original (GDPR art. 12(3))`).optional(),
    lifted: z.literal(true).optional().describe('Ends a completed restriction or objection'),
  })
  .meta({ id: 'PatchPrivacyRequest' })

export const HistoryEntrySchema = z.object({
  at: z.iso.datetime(),
  actor: z.string(),
  change: z.enum(['status', 'extension', 'lift']),
  from: z.string().nullable(),
  to: z.string().nullable(),
  reason: z.string().nullable(),
})

export const PrivacyRequestSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    type: z.enum(PRIVACY_REQUEST_TYPES),
    status: z.enum(PRIVACY_REQUEST_STATUSES),
    subjectUserId: z.uuid().nullable(),
    guest: z.object({ meetingId: z.uuid(), participantId: z.uuid() }).nullable(),
    filedBy: z.string(),
    filedAs: z.enum(['subject', 'admin']),
    reason: z.string().nullable(),
    receivedAt: z.iso.datetime(),
    dueAt: z.iso.datetime().describe('The deadline in force: the extended one when extended'),
    originalDueAt: z.iso.datetime(),
    extensionReason: z.string().nullable(),
    overdue: z.boolean().describe('Open past its deadline'),
    completedAt: z.iso.datetime().nullable(),
    liftedAt: z.iso.datetime().nullable(),
    result: z.record(z.string(), z.unknown()).nullable().describe('What the work did: counts per category, and withheld[] with the reason for anything kept'),
    exportAvailable: z.boolean(),
    history: z.array(HistoryEntrySchema),
  })
  .meta({ id: 'PrivacyRequest' })

export const PrivacyRequestPageSchema = pageSchema(PrivacyRequestSchema).extend({ overdueCount: z.number().int() }).meta({ id: 'PrivacyRequestPage' })
export const OwnRequestsSchema = z.object({ items: z.array(PrivacyRequestSchema) }).meta({ id: 'OwnPrivacyRequests' })

export const ListRequestsQuerySchema = PageQuerySchema.extend({
  status: z.enum(PRIVACY_REQUEST_STATUSES).optional(),
  type: z.enum(PRIVACY_REQUEST_TYPES).optional(),
  overdue: z.enum(['true', 'false']).optional().describe('true: only open requests past their deadline'),
})

export const ExportDocumentSchema = z
  .object({
    format: z.literal('consentry.export/1'),
    generatedAt: z.iso.datetime(),
    subject: z.object({ accountId: z.uuid(), userId: z.uuid().nullable(), guest: z.object({ meetingId: z.uuid(), participantId: z.uuid() }).nullable() }),
    categories: z.array(
      z.object({
        category: z.string(),
        purpose: z.string(),
        legalBasis: z.string(),
        recipients: z.string(),
        retention: z.string(),
        items: z.array(z.record(z.string(), z.unknown())),
      }),
    ),
  })
  .meta({ id: 'PrivacyExport', description: 'Everything held about the subject, per category with its purpose, legal basis, recipients and retention (P-DSR-1); machine-readable for portability' })

export type FileOwnRequest = z.infer<typeof FileOwnRequestSchema>
export type FileForSubject = z.infer<typeof FileForSubjectSchema>
export type PatchRequest = z.infer<typeof PatchRequestSchema>
export type ExportDocument = z.infer<typeof ExportDocumentSchema>
