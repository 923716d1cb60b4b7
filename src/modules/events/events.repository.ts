import { and, asc, desc, eq, gt, isNull, or, sql } from 'drizzle-orm'
import { type Db, type Executor, rowsOf } from '../../../db/client.js'
import { events, webhookDeliveries, webhooks } from '../../../db/schema/index.js'
import { DELIVERY_JOB } from './events.catalog.js'

export type EventRow = typeof events.$inferSelect
export type WebhookRow = typeof webhooks.$inferSelect
export type DeliveryRow = typeof webhookDeliveries.$inferSelect

/** One stamper at a time (a transaction-scoped advisory lock): stamps then commit in cursor order. */
const RELAY_LOCK = 0x636e7472

export function createEventsRepository(db: Db) {
  return {
    /**
     * Gives committed, unstamped events their cursor, in the order they occurred, and queues a
     * delivery (and its job) for each enabled webhook of the event's account that wants it, all
     * in one transaction. Answers the highest cursor stamped (0: nothing, or another process
     * holds the relay).
     */
    async stamp(limit: number, maxAttempts: number): Promise<number> {
      return db.transaction(async (tx) => {
        const [lock] = rowsOf<{ locked: boolean }>(await tx.execute(sql`select pg_try_advisory_xact_lock(${RELAY_LOCK}) as locked`))
        if (!lock?.locked) return 0
        const [row] = rowsOf<{ top: string | number | null }>(
          await tx.execute(sql`with next as (
              select e.account_id, e.id from events as e where e.cursor is null
              order by e.occurred_at, e.id limit ${limit} for update),
            numbered as (select n.account_id, n.id, nextval('events_cursor_seq') as c from next as n),
            stamped as (
              update events as e set cursor = n.c from numbered as n where e.account_id = n.account_id and e.id = n.id
              returning e.account_id, e.id, e.type, e.cursor),
            deliveries as (
              insert into webhook_deliveries (account_id, id, webhook_id, event_id, status, attempts, created_at)
              select s.account_id, gen_random_uuid(), w.id, s.id, 'pending', 0, now()
              from stamped as s join webhooks as w on w.account_id = s.account_id and w.enabled
                and (cardinality(w.event_types) = 0 or s.type = any(w.event_types))
              returning account_id, id),
            queued as (
              insert into jobs (id, kind, account_id, payload, status, run_at, max_attempts, created_at)
              select gen_random_uuid(), ${DELIVERY_JOB}, d.account_id, jsonb_build_object('deliveryId', d.id), 'queued', now(), ${maxAttempts}, now()
              from deliveries as d returning id)
            select max(s.cursor) as top from stamped as s`),
        )
        const top = Number(row?.top ?? 0)
        return top
      })
    },

    /** A meeting's stamped events after a cursor; `participantId` limits them to meeting-level events and that participant's own. */
    meetingEventsAfter(accountId: string, meetingId: string, after: number, participantId: string | null, limit: number): Promise<EventRow[]> {
      return db
        .select()
        .from(events)
        .where(
          and(
            eq(events.accountId, accountId),
            eq(events.meetingId, meetingId),
            gt(events.cursor, after),
            participantId ? or(isNull(events.participantId), eq(events.participantId, participantId)) : undefined,
          ),
        )
        .orderBy(asc(events.cursor))
        .limit(limit)
    },

    async event(accountId: string, eventId: string): Promise<EventRow | undefined> {
      const [row] = await db.select().from(events).where(and(eq(events.accountId, accountId), eq(events.id, eventId)))
      return row
    },

    /** Writes an event of the service's own (a webhook it disabled), through the outbox. */
    async emit(tx: Executor, accountId: string, type: string, payload: Record<string, unknown>) {
      await tx.execute(sql`select emit_event(${accountId}::uuid, ${type}::text, null::uuid, null::uuid, ${JSON.stringify(payload)}::jsonb)`)
    },

    // ---- webhooks ----

    async insertWebhook(tx: Executor, row: typeof webhooks.$inferInsert): Promise<WebhookRow> {
      const [inserted] = await tx.insert(webhooks).values(row).returning()
      return inserted!
    },

    async webhook(accountId: string, webhookId: string, tx: Executor = db): Promise<WebhookRow | undefined> {
      const [row] = await tx.select().from(webhooks).where(and(eq(webhooks.accountId, accountId), eq(webhooks.id, webhookId)))
      return row
    },

    webhooksOf(accountId: string, afterId: string | undefined, limit: number): Promise<WebhookRow[]> {
      return db
        .select()
        .from(webhooks)
        .where(and(eq(webhooks.accountId, accountId), afterId ? gt(webhooks.id, afterId) : undefined))
        .orderBy(asc(webhooks.id))
        .limit(limit)
    },

    async updateWebhook(tx: Executor, accountId: string, webhookId: string, changes: Partial<typeof webhooks.$inferInsert>): Promise<WebhookRow | undefined> {
      const [row] = await tx.update(webhooks).set(changes).where(and(eq(webhooks.accountId, accountId), eq(webhooks.id, webhookId))).returning()
      return row
    },

    async deleteWebhook(tx: Executor, accountId: string, webhookId: string): Promise<boolean> {
      await tx.delete(webhookDeliveries).where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.webhookId, webhookId)))
      return (await tx.delete(webhooks).where(and(eq(webhooks.accountId, accountId), eq(webhooks.id, webhookId))).returning({ id: webhooks.id })).length > 0
    },

    // ---- deliveries ----

    async delivery(accountId: string, deliveryId: string, tx: Executor = db): Promise<DeliveryRow | undefined> {
      const [row] = await tx.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.id, deliveryId)))
      return row
    },

    deliveriesOf(accountId: string, webhookId: string, limit: number): Promise<DeliveryRow[]> {
      return db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.webhookId, webhookId)))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(limit)
    },

    async updateDelivery(tx: Executor, accountId: string, deliveryId: string, changes: Partial<typeof webhookDeliveries.$inferInsert>) {
      await tx.update(webhookDeliveries).set(changes).where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.id, deliveryId)))
    },

    async attempted(accountId: string, deliveryId: string, outcome: { status: 'pending' | 'delivered' | 'failed'; statusCode: number | null; latencyMs: number | null; error: string | null; at: Date }) {
      await db
        .update(webhookDeliveries)
        .set({
          status: outcome.status,
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          lastStatusCode: outcome.statusCode,
          lastLatencyMs: outcome.latencyMs,
          lastError: outcome.error,
          ...(outcome.status === 'delivered' ? { deliveredAt: outcome.at } : {}),
        })
        .where(and(eq(webhookDeliveries.accountId, accountId), eq(webhookDeliveries.id, deliveryId)))
    },
  }
}

export type EventsRepository = ReturnType<typeof createEventsRepository>
