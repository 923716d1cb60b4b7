import { parseArgs } from 'node:util'
import { openDatabase } from '../../db/client.js'
import { ConfigError, loadConfig } from '../config.js'
import { systemClock } from '../lib/clock.js'
import type { PurgeReport } from '../modules/retention/retention.service.js'
import { createServices } from '../services.js'

// `npm run purge [-- --dry-run] [--as-of ISO]`: one pass of the retention purge now, beside a
// running service on PostgreSQL (runs share the work safely); on the embedded database, whose
// folder one process holds, while the service is stopped (the service purges on its schedule).

const USAGE = `usage: npm run purge -- [--dry-run] [--as-of <ISO 8601 instant>]

  --dry-run      print what would be deleted, per account and category, and delete nothing
  --as-of ISO    purge as if it were this instant (a dry run into the future shows what will go)
  --help         this text

Uses DATABASE_URL (PostgreSQL) or the embedded database in DATA_DIR, as npm start does.`

function print(report: PurgeReport) {
  const pad = (value: unknown, width: number) => String(value).padEnd(width)
  console.log(`${report.dryRun ? 'Would purge' : 'Purged'} as of ${report.asOf}`)
  if (report.lines.length === 0) console.log('  nothing is past its period')
  else {
    console.log(`  ${pad('account', 38)}${pad('category', 20)}${pad(report.dryRun ? 'would go' : 'purged', 10)}${pad('withheld', 10)}holds`)
    for (const line of report.lines) {
      console.log(`  ${pad(line.accountId ?? '(service)', 38)}${pad(line.category, 20)}${pad(line.purged, 10)}${pad(line.withheld, 10)}${line.holdIds.join(',')}`)
      for (const id of line.ids ?? []) console.log(`      ${id}`)
    }
  }
  if (!report.dryRun) console.log(`  orphan blobs removed: ${report.orphanBlobsRemoved}`)
}

let values: { 'dry-run'?: boolean; 'as-of'?: string; help?: boolean }
try {
  values = parseArgs({ options: { 'dry-run': { type: 'boolean' }, 'as-of': { type: 'string' }, help: { type: 'boolean' } } }).values
} catch (error) {
  console.error(`purge: ${(error as Error).message}\n\n${USAGE}`)
  process.exit(1)
}
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const asOf = values['as-of'] === undefined ? undefined : new Date(values['as-of'])
if (asOf && Number.isNaN(asOf.getTime())) {
  console.error(`purge: --as-of: not an ISO 8601 instant: ${values['as-of']}\n\n${USAGE}`)
  process.exit(1)
}

try {
  const config = loadConfig()
  const database = await openDatabase(config.database)
  try {
    const services = createServices(database, systemClock, config)
    try {
      print(await services.retention.purge({ dryRun: values['dry-run'] === true, ...(asOf ? { asOf } : {}) }))
    } finally {
      await services.stop()
    }
  } finally {
    await database.close()
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `purge failed: ${(error as Error).message}`)
  process.exit(1)
}
