import { openDatabase } from '../db/client.js'
import { testConfig } from './helpers/app.js'

// tap's `before` script: on PostgreSQL, migrate once for the whole run, before test files start
// in parallel. (Each embedded PGlite test process migrates its own in-memory database.)
if (process.env.DATABASE_URL) {
  const database = await openDatabase(testConfig().database)
  await database.migrate()
  await database.close()
}
