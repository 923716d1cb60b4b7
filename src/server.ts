import { spawnSync } from 'node:child_process'
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { openDatabase } from '../db/client.js'
import { buildApp } from './app.js'
import { isPrimaryOfWorkers, runPrimary, workerNumber } from './cluster.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { signToken } from './lib/jwt-keys.js'
import { ensureDemoAdmin } from './modules/accounts/accounts.demo.js'
import { PRESSURE_SAMPLE_MS } from './plugins/in-flight.js'

// config → database → app → listen → graceful close. Nothing else lives here.

/** Set in the child that sets up a new embedded data folder: it migrates and exits. */
const SETUP_ONLY = 'CONSENTRY_SETUP_ONLY'

/**
 * A first start on a new embedded data folder runs PostgreSQL's initdb and every migration inside
 * this process, and WebAssembly memory once touched is never given back (813 MB at its peak, 399 MB
 * resident after it, where a restart on the same folder holds 269 MB). A child process does that
 * work and exits; this one then opens a finished folder, as on any restart.
 */
function setUpEmbeddedApart(config: Config) {
  const target = config.database
  if (target.kind !== 'pglite' || target.dir.startsWith('memory://') || existsSync(path.join(target.dir, 'PG_VERSION'))) return
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!], { env: { ...process.env, [SETUP_ONLY]: 'true' }, stdio: 'inherit' })
  if (child.status !== 0) throw new Error(`setting up the embedded database in ${target.dir} failed`)
}

async function main() {
  let config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message)
      process.exit(1)
    }
    throw error
  }

  if (isPrimaryOfWorkers(config)) return runPrimary(config)
  if (process.env[SETUP_ONLY] === 'true') {
    const database = await openDatabase(config.database)
    await database.migrate()
    await database.close()
    return
  }
  setUpEmbeddedApart(config)

  const database = await openDatabase(config.database)
  // Under WEB_CONCURRENCY the primary migrated before forking.
  if (config.migrateOnStart && !cluster.isWorker) await database.migrate()
  const app = await buildApp({ config, database })

  let closing = false
  const close = async (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000).unref()
    await app.close()
    await database.close()
    clearTimeout(force)
    process.exit(0)
  }
  process.once('SIGINT', () => void close('SIGINT'))
  process.once('SIGTERM', () => void close('SIGTERM'))

  const address = await app.listen({ port: config.port, host: config.host })
  // Background work (the purge on its schedule) runs beside the requests, on the one job runner.
  await app.services.jobs.start()
  app.services.relay.start()
  const base = address.replace('://0.0.0.0', '://localhost').replace('://[::]', '://localhost')

  // One worker speaks for all (and makes the demo account once).
  if (workerNumber() !== 1) return
  const workers = config.webConcurrency > 1 ? ` with ${config.webConcurrency} workers` : ''
  const lines = [`Consentry is listening on ${base}${workers} (${database.kind === 'pglite' ? `embedded database in ${config.database.kind === 'pglite' ? config.database.dir : ''}` : 'PostgreSQL'})`, `  API docs:  ${base}/docs   OpenAPI: ${base}/openapi.json`]
  if (config.demoBootstrap && config.jwt.algorithm === 'HS256') {
    const demo = await ensureDemoAdmin(app.services)
    if (demo) {
      const token = signToken(config, { sub: demo.userId, acc: demo.accountId, roles: ['admin', 'member'] }, { expiresInSeconds: 12 * 3600 })
      lines.push(
        `  Demo admin token (12 h): ${token}`,
        `  Try:  curl -s -H "Authorization: Bearer ${token}" ${base}/v1/me`,
        '  More tokens:  npm run token -- --sub <userId> --acc <accountId> --roles admin,member',
      )
    }
  }
  // The start's own work (migrations, the demo account) lags the event loop, and the load shedder
  // answers 503 from its next sample until the one after: the banner waits for a sample taken
  // after that work, and a calm one, so its curl line works at once.
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  await pause(PRESSURE_SAMPLE_MS + 50)
  for (const until = Date.now() + 5_000; app.isUnderPressure() && Date.now() < until; ) await pause(50)
  console.log(lines.join('\n'))
}

main().catch((error) => {
  console.error('Consentry failed to start:', error instanceof Error ? error.message : error)
  process.exit(1)
})
