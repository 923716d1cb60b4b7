import { z } from 'zod'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { EVENT_TYPES } from './events.catalog.js'

export const WebhookParamsSchema = z.strictObject({ accountId: z.uuid(), webhookId: z.uuid() })
export const DeliveryParamsSchema = z.strictObject({ accountId: z.uuid(), webhookId: z.uuid(), deliveryId: z.uuid() })

const url = z.url({ protocol: /^https?$/ }).max(2000).describe('Where events are POSTed. Private, loopback and link-local addresses are refused (WEBHOOK_ALLOW_PRIVATE lifts this for development)')
const eventTypes = z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).describe('The event types it receives; empty or omitted: all')

export const CreateWebhookSchema = z
  .strictObject({ url, eventTypes: eventTypes.optional(), enabled: z.boolean().optional() })
  .meta({ id: 'CreateWebhook', examples: [{ url: 'https://recorder.example.com/consentry', eventTypes: ['consent.withdrawn', 'notice.version_published'] }] })

export const PatchWebhookSchema = z
  .strictObject({ url: url.optional(), eventTypes: eventTypes.optional(), enabled: z.boolean().optional().describe('true again after a disable clears its reason') })
  .meta({ id: 'PatchWebhook' })

export const WebhookSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    previousSecretValidUntil: z.iso.datetime().nullable().describe('After a rotation, deliveries are signed with both secrets until then'),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Webhook' })

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().describe('The Standard Webhooks signing secret (whsec_…), shown only now'),
}).meta({ id: 'WebhookWithSecret' })

export const WebhookPageSchema = pageSchema(WebhookSchema).meta({ id: 'WebhookPage' })
export const ListWebhooksQuerySchema = PageQuerySchema

export const DeliverySchema = z
  .object({
    id: z.uuid(),
    webhookId: z.uuid(),
    eventId: z.uuid(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastLatencyMs: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.iso.datetime(),
    deliveredAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'WebhookDelivery' })

export const DeliveryListSchema = z.object({ items: z.array(DeliverySchema) }).meta({ id: 'WebhookDeliveries' })

/** What a receiver gets (Standard Webhooks: type, timestamp, data). */
export const EventPayloadSchema = z
  .object({
    type: z.enum(EVENT_TYPES),
    timestamp: z.iso.datetime(),
    data: z.object({
      eventId: z.uuid(),
      cursor: z.number().int().describe('The event’s place in commit order: the SSE stream’s id'),
      accountId: z.uuid(),
      meetingId: z.uuid().nullable(),
      participantId: z.uuid().nullable(),
    }).catchall(z.unknown()).describe('Ids, kinds and instants of the change; never personal content'),
  })
  .meta({ id: 'EventPayload' })

export type CreateWebhook = z.infer<typeof CreateWebhookSchema>
export type PatchWebhook = z.infer<typeof PatchWebhookSchema>
