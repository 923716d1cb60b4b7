import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openDatabase } from '../../db/client.js'
import { buildApp } from '../app.js'
import { loadConfig } from '../config.js'

// `npm run openapi`: writes openapi/openapi.json from the route schemas. The document does not
// depend on configuration, so it is built on an in-memory embedded database.

export const OPENAPI_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi', 'openapi.json')

export async function renderOpenApi(): Promise<string> {
  const config = loadConfig({ PGLITE_DIR: 'memory://', JWT_SECRET: 'openapi-generation-only-'.padEnd(40, 'x') })
  const database = await openDatabase(config.database)
  const app = await buildApp({ config, database, logger: false })
  try {
    await app.ready()
    return `${JSON.stringify(app.swagger(), null, 2)}\n`
  } finally {
    await app.close()
    await database.close()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await writeFile(OPENAPI_FILE, await renderOpenApi())
  console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`)
}
