import { sql } from 'drizzle-orm'
import { type Db, type Executor, pgArray, rowsOf } from '../../../db/client.js'
import { newId } from '../../lib/ids.js'

export interface JobRow {
  id: string
  kind: string
  accountId: string | null
  payload: Record<string, unknown>
  attempts: number
  maxAttempts: number
}

export interface NewJob {
  kind: string
  accountId?: string | null
  payload?: Record<string, unknown>
  /** Seconds from now (the database's clock); 0 when omitted. */
  delaySeconds?: number
  maxAttempts?: number
  /** At most one queued or running job per key: enqueuing another is a no-op. */
  singletonKey?: string
}

interface RawJob {
  id: string
  kind: string
  account_id: string | null
  payload: Record<string, unknown> | string
  attempts: number
  max_attempts: number
}

const toJob = (row: RawJob): JobRow => ({
  id: row.id,
  kind: row.kind,
  accountId: row.account_id,
  payload: typeof row.payload === 'string' ? (JSON.parse(row.payload) as Record<string, unknown>) : row.payload,
  attempts: Number(row.attempts),
  maxAttempts: Number(row.max_attempts),
})

// The job table's statements. Every instant is the database's now(), which all processes share.
export function createJobsRepository(db: Db) {
  return {
    /** Queues a job inside the caller's transaction (it runs only if that commits); false when its singleton already waits. */
    async enqueue(tx: Executor, job: NewJob): Promise<boolean> {
      const rows = rowsOf<{ id: string }>(
        await tx.execute(sql`insert into jobs (id, kind, account_id, payload, status, run_at, max_attempts, singleton_key, created_at)
          values (${newId()}, ${job.kind}, ${job.accountId ?? null}, ${JSON.stringify(job.payload ?? {})}::jsonb, 'queued',
            now() + make_interval(secs => ${job.delaySeconds ?? 0}), ${job.maxAttempts ?? 5}, ${job.singletonKey ?? null}, now())
          on conflict (singleton_key) where status in ('queued', 'running') do nothing
          returning id`),
      )
      return rows.length > 0
    },

    /**
     * Claims one due job for `leaseSeconds`: a queued job whose time came, or a running one whose
     * lease ran out (its worker died). SKIP LOCKED: workers of several processes never take the same one.
     */
    async claim(kinds: string[], worker: string, leaseSeconds: number): Promise<JobRow | undefined> {
      const rows = rowsOf<RawJob>(
        await db.execute(sql`update jobs as j
          set status = 'running', attempts = j.attempts + 1, locked_by = ${worker}, locked_until = now() + make_interval(secs => ${leaseSeconds})
          where j.id = (
            select c.id from jobs as c
            where c.kind = any(${pgArray(kinds)}::text[])
              and ((c.status = 'queued' and c.run_at <= now()) or (c.status = 'running' and c.locked_until < now()))
            order by c.run_at
            limit 1
            for update skip locked)
          returning j.id, j.kind, j.account_id, j.payload, j.attempts, j.max_attempts`),
      )
      return rows[0] ? toJob(rows[0]) : undefined
    },

    /** Marks a claimed job done, if this worker still holds it. */
    async finish(job: JobRow, worker: string): Promise<void> {
      await db.execute(sql`update jobs set status = 'done', finished_at = now(), locked_until = null, last_error = null
        where id = ${job.id} and status = 'running' and locked_by = ${worker}`)
    },

    /** A failed attempt: queued again after a backoff, or failed for good after its last attempt. */
    async fail(job: JobRow, worker: string, error: string, retryInSeconds: number): Promise<void> {
      const last = job.attempts >= job.maxAttempts
      await db.execute(sql`update jobs set
          status = ${last ? 'failed' : 'queued'},
          run_at = now() + make_interval(secs => ${retryInSeconds}),
          finished_at = ${last ? sql`now()` : null},
          locked_until = null, last_error = ${error.slice(0, 500)}
        where id = ${job.id} and status = 'running' and locked_by = ${worker}`)
    },

    /** Seconds until the next queued job of these kinds is due (undefined: none queued). */
    async nextDueIn(kinds: string[]): Promise<number | undefined> {
      const [row] = rowsOf<{ seconds: string | number | null }>(
        await db.execute(sql`select extract(epoch from (min(j.run_at) - now())) as seconds from jobs as j where j.kind = any(${pgArray(kinds)}::text[]) and j.status = 'queued'`),
      )
      return row?.seconds === null || row?.seconds === undefined ? undefined : Number(row.seconds)
    },
  }
}

export type JobsRepository = ReturnType<typeof createJobsRepository>
