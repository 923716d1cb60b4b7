import { z } from 'zod'
import { instant } from '../../lib/instant.js'
import { NETWORK_TYPES } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'

export const MediaMonitoringChangeSchema = z
  .strictObject({
    optIn: z.boolean(),
    noticeVersionId: z.uuid().optional().describe('The media_monitoring notice version agreed to; required to opt in'),
  })
  .meta({ id: 'MediaMonitoringChange' })

export const MediaMonitoringStateSchema = z
  .object({
    optedIn: z.boolean(),
    recordId: z.uuid().describe('The consent record of this change'),
    at: z.iso.datetime(),
    noticeVersionId: z.uuid().nullable(),
  })
  .meta({ id: 'MediaMonitoringState' })

const HOUR_MS = 3_600_000
/** How far a period's end may be ahead of the server clock. */
export const PERIOD_SKEW_MS = 60_000

// Quality figures only, in bounded ranges; any other field is refused (P-MED-3).
export const DiagnosticsSchema = z
  .strictObject({
    meetingId: z.uuid().optional(),
    periodStart: instant('Start of the measured period'),
    periodEnd: instant(`End of the measured period: after periodStart, at most one hour after it, and not more than ${PERIOD_SKEW_MS / 1000} s ahead of the server clock`),
    bitrateKbps: z.number().int().min(0).max(1_000_000),
    packetLossPct: z.number().min(0).max(100),
    jitterMs: z.number().int().min(0).max(60_000),
    roundTripMs: z.number().int().min(0).max(60_000),
    codec: z.string().max(32).regex(/^[A-Za-z0-9._/-]{1,32}$/, 'a codec name such as opus or VP9'),
    networkType: z.enum(NETWORK_TYPES),
  })
  .refine((d) => Date.parse(d.periodEnd) > Date.parse(d.periodStart), { path: ['periodEnd'], message: 'must be after periodStart' })
  .refine((d) => Date.parse(d.periodEnd) - Date.parse(d.periodStart) <= HOUR_MS, { path: ['periodEnd'], message: 'a period is at most one hour' })
  .meta({ id: 'MediaDiagnostics' })

export const DiagnosticsRecordSchema = z
  .object({
    id: z.uuid(),
    meetingId: z.uuid().nullable(),
    periodStart: z.iso.datetime(),
    periodEnd: z.iso.datetime(),
    bitrateKbps: z.number().int(),
    packetLossPct: z.number(),
    jitterMs: z.number().int(),
    roundTripMs: z.number().int(),
    codec: z.string(),
    networkType: z.enum(NETWORK_TYPES),
    clientNetwork: z.string().nullable().describe('The network the figures came from, truncated (/24, /48)'),
    receivedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'MediaDiagnosticsRecord' })

export const DiagnosticsPageSchema = pageSchema(DiagnosticsRecordSchema).meta({ id: 'MediaDiagnosticsPage' })
export const ListDiagnosticsQuerySchema = PageQuerySchema

export type Diagnostics = z.infer<typeof DiagnosticsSchema>
