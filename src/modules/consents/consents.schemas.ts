import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { ATTESTED_METHOD_LIST, CONSENT_DECISIONS, PARTICIPANT_ROLES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

/** Scopes a meeting participant answers; media monitoring is account-wide (/v1/me/media-monitoring). */
export const MEETING_SCOPES = ['recording', 'transcript', 'attention_tracking'] as const
export const CONSENT_METHODS = ['click_continue', 'explicit_toggle', 'guardian', 'verbal_recorded', 'policy_notice'] as const
/** Methods that record someone else's word: only the host or an admin may use them, and never over an adult's own answer. */
export const ATTESTED_METHODS: ReadonlySet<string> = new Set(ATTESTED_METHOD_LIST)

export const CreateConsentSchema = z
  .strictObject({
    participantId: z.uuid(),
    scope: z.enum(MEETING_SCOPES),
    decision: z.enum(CONSENT_DECISIONS),
    noticeVersionId: z.uuid().optional().describe('The notice version answered; required for granted and notified'),
    method: z.enum(CONSENT_METHODS),
    guardianName: safeText(200, 'Required with method guardian: who consented for the minor').optional(),
  })
  .meta({
    id: 'CreateConsent',
    examples: [
      {
        participantId: '0b9d7c9e-8f2a-4c1e-9a51-3f6d2b8e4a10',
        scope: 'recording',
        decision: 'granted',
        noticeVersionId: '5e1f3a27-64c9-4b0d-8e2a-9c7b1d4f6a38',
        method: 'explicit_toggle',
      },
    ],
  })

export const ConsentRecordSchema = z
  .object({
    id: z.uuid().describe('Also the receipt id'),
    meetingId: z.uuid(),
    participantId: z.uuid(),
    scope: z.string(),
    decision: z.enum(CONSENT_DECISIONS),
    method: z.string(),
    noticeVersionId: z.uuid().nullable(),
    at: z.iso.datetime().describe('Server clock'),
  })
  .meta({ id: 'ConsentRecord' })

export const ConsentAnswerSchema = ConsentRecordSchema.extend({
  noticeSha256: z.string().nullable().describe('sha-256 of the notice text answered'),
  receipt: z.string().describe('Compact JWS (EdDSA) over the record; verify with /.well-known/jwks.json'),
}).meta({ id: 'ConsentAnswer' })

export const ConsentPageSchema = pageSchema(ConsentRecordSchema).meta({ id: 'ConsentPage' })

export const ListConsentsQuerySchema = PageQuerySchema.extend({
  asOf: instant('Only the record that was each participant and scope\'s latest at this instant: the state then').optional(),
  participantId: z.uuid().optional(),
  scope: z.enum(MEETING_SCOPES).optional(),
})

const ScopeStateSchema = z
  .object({ decision: z.enum(CONSENT_DECISIONS), at: z.iso.datetime(), noticeVersionId: z.uuid().nullable(), method: z.string(), recordId: z.uuid() })
  .nullable()

export const ConsentStatusSchema = z
  .object({
    items: z.array(
      z.object({
        participantId: z.uuid(),
        displayName: z.string(),
        role: z.enum(PARTICIPANT_ROLES),
        isMinor: z.boolean(),
        scopes: z.object({ recording: ScopeStateSchema, transcript: ScopeStateSchema, attentionTracking: ScopeStateSchema }),
      }),
    ),
  })
  .meta({ id: 'ConsentStatus' })

export const JwksSchema = z
  .object({
    keys: z.array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') })),
  })
  .meta({ id: 'Jwks' })

export type CreateConsent = z.infer<typeof CreateConsentSchema>
export type MeetingScope = (typeof MEETING_SCOPES)[number]
