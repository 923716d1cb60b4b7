import { openDatabase } from '../../db/client.js'
import { ConfigError, loadConfig } from '../config.js'

// `npm run db:migrate`: the deploy step. Applies pending migrations to DATABASE_URL (or the
// embedded database) under an advisory lock, so concurrent deploys do not collide.
try {
  // Migrating signs nothing: no keys needed.
  const config = loadConfig(process.env, { requireKeys: false })
  const database = await openDatabase(config.database)
  try {
    await database.migrate()
    console.log(`migrations applied (${database.kind})`)
  } finally {
    await database.close()
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`)
  process.exit(1)
}
