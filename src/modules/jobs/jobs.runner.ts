import { hostname } from 'node:os'
import type { Db } from '../../../db/client.js'
import { loggableError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { createJobsRepository, type JobRow, type NewJob } from './jobs.repository.js'

export type JobHandler = (job: JobRow) => Promise<void>

interface Registration {
  handler: JobHandler
  leaseSeconds: number
  /** A recurring job: queued again this long after each run (0: not recurring). */
  everySeconds: number
  /** The pause before attempt `attempt + 1` after a failure. */
  retryInSeconds: (attempt: number) => number
  /** Called once a job failed its last attempt. */
  onGiveUp?: JobHandler | undefined
}

const defaultRetry = (attempt: number) => Math.min(3600, 2 ** attempt * 5)

/**
 * The one runner of background work in a process (the purge; privacy requests and webhook
 * deliveries register here too). Work is a row in `jobs`: it survives restarts, a job a dead
 * process held is claimed again when its lease runs out, and any number of processes share the
 * queue without taking a job twice. Handlers must be safe to run again.
 */
export function createJobRunner(db: Db, options: { pollMs?: number; onError?: (error: unknown, job?: JobRow) => void } = {}) {
  const repository = createJobsRepository(db)
  const registrations = new Map<string, Registration>()
  const worker = `${hostname()}:${process.pid}:${newId().slice(-8)}`
  const pollMs = options.pollMs ?? 1000
  let timer: NodeJS.Timeout | undefined
  let running: Promise<number> | undefined
  let stopped = true

  async function runOne(job: JobRow) {
    const registration = registrations.get(job.kind)!
    try {
      await registration.handler(job)
      await repository.finish(job, worker)
    } catch (error) {
      options.onError?.(error, job)
      await repository.fail(job, worker, JSON.stringify(loggableError(error)), registration.retryInSeconds(job.attempts))
      if (job.attempts >= job.maxAttempts && registration.onGiveUp) await registration.onGiveUp(job).catch((failure) => options.onError?.(failure, job))
    }
    // A recurring job queues its next run whatever this one's outcome (a failed one retries first).
    if (registration.everySeconds > 0) {
      await repository.enqueue(db, { kind: job.kind, delaySeconds: registration.everySeconds, singletonKey: job.kind })
    }
  }

  /** Runs due jobs one after another until none is due; answers how many ran. */
  async function runDue(): Promise<number> {
    const kinds = [...registrations.keys()]
    let ran = 0
    for (;;) {
      const job = await repository.claim(kinds, worker, registrations.size ? Math.max(...kinds.map((kind) => registrations.get(kind)!.leaseSeconds)) : 60)
      if (!job) return ran
      await runOne(job)
      ran++
    }
  }

  function schedule() {
    if (stopped) return
    timer = setTimeout(() => {
      running = runDue()
      running.catch((error) => options.onError?.(error)).finally(() => {
        running = undefined
        schedule()
      })
    }, pollMs)
    timer.unref()
  }

  return {
    worker,
    repository,

    /** One registration point: a kind, its handler, its lease, and whether it recurs. */
    register(kind: string, handler: JobHandler, opts: { leaseSeconds?: number; everySeconds?: number; retryInSeconds?: (attempt: number) => number; onGiveUp?: JobHandler } = {}) {
      registrations.set(kind, { handler, leaseSeconds: opts.leaseSeconds ?? 300, everySeconds: opts.everySeconds ?? 0, retryInSeconds: opts.retryInSeconds ?? defaultRetry, onGiveUp: opts.onGiveUp })
    },

    enqueue: (job: NewJob) => repository.enqueue(db, job),
    runDue,

    /** Starts polling; recurring kinds get their first run queued now (one per kind across processes). */
    async start() {
      for (const [kind, registration] of registrations) {
        if (registration.everySeconds > 0) await repository.enqueue(db, { kind, singletonKey: kind })
      }
      stopped = false
      schedule()
    },

    /** Runs due jobs now rather than at the next poll (new work was just queued, a delivery say). */
    poke() {
      if (stopped || running) return
      if (timer) clearTimeout(timer)
      running = runDue()
      running.catch((error) => options.onError?.(error)).finally(() => {
        running = undefined
        schedule()
      })
    },

    /** Stops polling and waits for the job in hand. */
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running?.catch(() => undefined)
    },
  }
}

export type JobRunner = ReturnType<typeof createJobRunner>
