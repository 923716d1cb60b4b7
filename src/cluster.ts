import cluster from 'node:cluster'
import { openDatabase } from '../db/client.js'
import type { Config } from './config.js'

// WEB_CONCURRENCY=N (N > 1): this process is the primary of N workers sharing one port
// (node:cluster hands connections out in turn). Workers keep nothing that changes an answer:
// caches follow the database's NOTIFY, the audit chainer and the job runner coordinate through
// row locks, so any worker may serve any request. The embedded database is refused by the
// config (its folder is held by one process).

/** Migrates once (when configured), forks the workers, replaces one that dies after it served. */
export async function runPrimary(config: Config): Promise<void> {
  if (config.migrateOnStart) {
    const database = await openDatabase(config.database)
    await database.migrate()
    await database.close()
  }
  let stopping = false
  let served = false
  cluster.on('listening', () => {
    served = true
  })
  cluster.on('exit', (worker, code, signal) => {
    const left = Object.keys(cluster.workers ?? {}).length
    if (stopping) {
      if (left === 0) process.exit(0)
      return
    }
    // One that never listened failed at start (a bad port, no database): the others would too.
    if (!served) {
      console.error(`Consentry failed to start: worker ${worker.process.pid} exited (${signal ?? code}) before listening`)
      stop(1)
      return
    }
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    setTimeout(() => cluster.fork(), 1000).unref()
  })
  const stop = (code = 0) => {
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    setTimeout(() => process.exit(code || 1), 15_000).unref()
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(code)
  }
  process.once('SIGINT', () => stop())
  process.once('SIGTERM', () => stop())
  for (let i = 0; i < config.webConcurrency; i++) cluster.fork()
}

/** Whether this process is one of several workers, and which (1 speaks for all). */
export const workerNumber = (): number => cluster.worker?.id ?? 1
export const isPrimaryOfWorkers = (config: Config) => config.webConcurrency > 1 && cluster.isPrimary
