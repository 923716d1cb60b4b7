import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { NotFoundError, ValidationError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import type { SecretBox } from '../../lib/secret-box.js'
import { type AuditRepository, auditActor, SYSTEM_ACTOR } from '../audit/audit.repository.js'
import type { JobRow } from '../jobs/jobs.repository.js'
import type { DeliveryRow, EventRow, EventsRepository, WebhookRow } from './events.repository.js'
import { post, refusedTarget } from './webhooks.delivery.js'
import type { CreateWebhook, PatchWebhook } from './webhooks.schemas.js'

const ROTATION_OVERLAP_MS = 24 * 3_600_000
/** Retries over about a day: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h (each ±20 %). */
const BACKOFF_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800]

export function retryInSeconds(attempt: number): number {
  const base = BACKOFF_SECONDS[Math.min(attempt - 1, BACKOFF_SECONDS.length - 1)]!
  return Math.max(1, Math.round(base * (0.8 + Math.random() * 0.4)))
}

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`

function toWebhook(row: WebhookRow, now: Date) {
  return {
    id: row.id,
    accountId: row.accountId,
    url: row.url,
    eventTypes: row.eventTypes,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    previousSecretValidUntil: row.previousUntil && row.previousUntil > now ? row.previousUntil.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

const toDelivery = (row: DeliveryRow) => ({
  id: row.id,
  webhookId: row.webhookId,
  eventId: row.eventId,
  status: row.status,
  attempts: row.attempts,
  lastStatusCode: row.lastStatusCode,
  lastLatencyMs: row.lastLatencyMs,
  lastError: row.lastError,
  createdAt: row.createdAt.toISOString(),
  deliveredAt: row.deliveredAt?.toISOString() ?? null,
})

/** The body a receiver gets: Standard Webhooks' type, timestamp and data. */
export function eventBody(event: EventRow) {
  return {
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: { ...event.payload, eventId: event.id, cursor: event.cursor!, accountId: event.accountId, meetingId: event.meetingId, participantId: event.participantId },
  }
}

interface Deps {
  inTransaction: InTransaction
  events: EventsRepository
  audit: AuditRepository
  clock: Clock
  box: SecretBox
  allowPrivate: boolean
  timeoutMs: number
  enqueueDelivery: (accountId: string, deliveryId: string) => Promise<unknown>
}

// Webhook endpoints of an account (admins) and the delivery of its events to them.
export function createWebhooksService({ inTransaction, events, audit, clock, box, allowPrivate, timeoutMs, enqueueDelivery }: Deps) {
  async function checkTarget(url: string) {
    const refused = await refusedTarget(url, allowPrivate)
    if (refused) throw new ValidationError('The webhook URL cannot receive events', [{ pointer: '/body/url', detail: refused, code: 'url_refused' }])
  }

  async function find(principal: Principal, accountId: string, webhookId: string) {
    requireAccountRole(principal, accountId, ['admin'])
    const row = isUuid(webhookId) ? await events.webhook(accountId, webhookId) : undefined
    if (!row) throw new NotFoundError('Webhook')
    return row
  }

  return {
    async create(principal: Principal, accountId: string, input: CreateWebhook) {
      requireAccountRole(principal, accountId, ['admin'])
      await checkTarget(input.url)
      const now = clock.now()
      const secret = newSecret()
      const row = await inTransaction(async (tx) => {
        const created = await events.insertWebhook(tx, { accountId, id: newId(now.getTime()), url: input.url, eventTypes: input.eventTypes ?? [], enabled: input.enabled ?? true, secret: box.seal(secret), createdBy: principal.subject, createdAt: now, updatedAt: now })
        await audit.append(tx, accountId, { actor: auditActor(principal), action: 'webhook.created', targetType: 'webhook', targetId: created.id, details: { eventTypes: created.eventTypes } }, now)
        return created
      })
      return { ...toWebhook(row, now), secret }
    },

    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      return toPage(await events.webhooksOf(accountId, decodeCursor(query.cursor), query.limit + 1), query.limit, (row) => row.id, (row) => toWebhook(row, now))
    },

    async get(principal: Principal, accountId: string, webhookId: string) {
      return toWebhook(await find(principal, accountId, webhookId), clock.now())
    },

    async patch(principal: Principal, accountId: string, webhookId: string, input: PatchWebhook) {
      await find(principal, accountId, webhookId)
      if (input.url) await checkTarget(input.url)
      const now = clock.now()
      const row = await inTransaction(async (tx) => {
        const updated = (await events.updateWebhook(tx, accountId, webhookId, {
          ...(input.url ? { url: input.url } : {}),
          ...(input.eventTypes ? { eventTypes: input.eventTypes } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled, ...(input.enabled ? { disabledReason: null } : {}) } : {}),
          updatedAt: now,
        }))!
        await audit.append(tx, accountId, { actor: auditActor(principal), action: 'webhook.updated', targetType: 'webhook', targetId: webhookId, details: { fields: Object.keys(input) } }, now)
        return updated
      })
      return toWebhook(row, now)
    },

    async remove(principal: Principal, accountId: string, webhookId: string) {
      await find(principal, accountId, webhookId)
      await inTransaction(async (tx) => {
        await events.deleteWebhook(tx, accountId, webhookId)
        await audit.append(tx, accountId, { actor: auditActor(principal), action: 'webhook.deleted', targetType: 'webhook', targetId: webhookId, details: {} }, clock.now())
      })
    },

    /** A new secret; the old one keeps signing (beside it) for 24 hours, so receivers can switch. */
    async rotateSecret(principal: Principal, accountId: string, webhookId: string) {
      const current = await find(principal, accountId, webhookId)
      const now = clock.now()
      const secret = newSecret()
      const row = await inTransaction(async (tx) => {
        const updated = (await events.updateWebhook(tx, accountId, webhookId, { secret: box.seal(secret), previousSecret: current.secret, previousUntil: new Date(now.getTime() + ROTATION_OVERLAP_MS), updatedAt: now }))!
        await audit.append(tx, accountId, { actor: auditActor(principal), action: 'webhook.secret_rotated', targetType: 'webhook', targetId: webhookId, details: {} }, now)
        return updated
      })
      return { ...toWebhook(row, now), secret }
    },

    async deliveries(principal: Principal, accountId: string, webhookId: string) {
      await find(principal, accountId, webhookId)
      return { items: (await events.deliveriesOf(accountId, webhookId, 100)).map(toDelivery) }
    },

    async redeliver(principal: Principal, accountId: string, webhookId: string, deliveryId: string) {
      await find(principal, accountId, webhookId)
      const delivery = isUuid(deliveryId) ? await events.delivery(accountId, deliveryId) : undefined
      if (!delivery || delivery.webhookId !== webhookId) throw new NotFoundError('Delivery')
      await inTransaction(async (tx) => {
        await events.updateDelivery(tx, accountId, deliveryId, { status: 'pending' })
        await audit.append(tx, accountId, { actor: auditActor(principal), action: 'webhook.redelivered', targetType: 'webhook', targetId: webhookId, details: { deliveryId } }, clock.now())
      })
      await enqueueDelivery(accountId, deliveryId)
      return toDelivery((await events.delivery(accountId, deliveryId))!)
    },

    /** The delivery job: one signed POST; a failure throws, so the job runner retries it. */
    async deliver(job: JobRow) {
      const accountId = job.accountId!
      const delivery = await events.delivery(accountId, job.payload.deliveryId as string)
      if (!delivery || delivery.status === 'delivered') return
      const webhook = await events.webhook(accountId, delivery.webhookId)
      const event = await events.event(accountId, delivery.eventId)
      const now = clock.now()
      if (!webhook || !webhook.enabled || !event) {
        await events.attempted(accountId, delivery.id, { status: 'failed', statusCode: null, latencyMs: null, error: !event ? 'the event expired' : 'the endpoint is disabled', at: now })
        return
      }
      const body = JSON.stringify(eventBody(event))
      const secrets = [box.open(webhook.secret), ...(webhook.previousSecret && webhook.previousUntil && webhook.previousUntil > now ? [box.open(webhook.previousSecret)] : [])]
      // The message id is the event's: a receiver deduplicates retries and redeliveries by it.
      const signatures = secrets.map((secret) => new Webhook(secret).sign(event.id, now, body))
      const headers = { 'webhook-id': event.id, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signatures.join(' ') }
      const refused = await refusedTarget(webhook.url, allowPrivate)
      const outcome = refused ? { ok: false, statusCode: null, latencyMs: 0, error: `refused: ${refused}` } : await post(webhook.url, headers, body, timeoutMs)
      await events.attempted(accountId, delivery.id, { status: outcome.ok ? 'delivered' : 'pending', statusCode: outcome.statusCode, latencyMs: outcome.latencyMs, error: outcome.error, at: now })
      if (!outcome.ok) throw new Error(outcome.error ?? 'delivery failed')
    },

    /** The last attempt failed: the delivery failed, and the endpoint is disabled, which an event says. */
    async gaveUp(job: JobRow) {
      const accountId = job.accountId!
      const delivery = await events.delivery(accountId, job.payload.deliveryId as string)
      if (!delivery) return
      const now = clock.now()
      await inTransaction(async (tx) => {
        await events.updateDelivery(tx, accountId, delivery.id, { status: 'failed' })
        const disabled = await events.updateWebhook(tx, accountId, delivery.webhookId, { enabled: false, disabledReason: `deliveries failed for ${job.attempts} attempts`, updatedAt: now })
        if (disabled) {
          await events.emit(tx, accountId, 'webhook.disabled', { webhookId: delivery.webhookId, deliveryId: delivery.id })
          await audit.append(tx, accountId, { actor: SYSTEM_ACTOR, action: 'webhook.disabled', targetType: 'webhook', targetId: delivery.webhookId, details: { deliveryId: delivery.id, attempts: job.attempts } }, now)
        }
      })
    },
  }
}

export type WebhooksService = ReturnType<typeof createWebhooksService>
