import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { openDatabase } from '../../db/client.js'
import { ensureDemoAdmin } from '../../src/modules/accounts/accounts.demo.js'
import { createServices } from '../../src/services.js'
import { systemClock } from '../../src/lib/clock.js'

// drizzle-kit loads db/schema through its own transpiler; keep that child out of coverage (see config.test.ts).
process.env._TAPJS_PROCESSINFO_EXCLUDE_ = '/./'

t.test('the committed migrations match db/schema (run `npm run db:generate` after a schema change)', async (t) => {
  const out = mkdtempSync(path.join(tmpdir(), 'consentry-migrations-'))
  cpSync('db/migrations', out, { recursive: true })
  const config = path.join(out, 'drizzle.config.mjs')
  writeFileSync(
    config,
    `export default { dialect: 'postgresql', schema: ${JSON.stringify(path.resolve('db/schema/index.ts'))}, out: ${JSON.stringify(path.relative(process.cwd(), out))} }\n`,
  )
  const before = readdirSync(out).length
  const result = spawnSync(process.execPath, ['node_modules/drizzle-kit/bin.cjs', 'generate', '--config', config], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  t.equal(result.status, 0, result.stderr)
  t.equal(result.stderr.trim(), '', 'drizzle-kit reported no error')
  t.match(result.stdout + result.stderr, /No schema changes/)
  t.equal(readdirSync(out).length, before, 'no new migration was generated')
})

t.test('a fresh embedded database gets a demo account and admin once', async (t) => {
  const database = await openDatabase({ kind: 'pglite', dir: 'memory://' })
  t.teardown(() => database.close())
  await database.migrate()
  t.ok(await database.migrationsCurrent())
  const services = createServices(database, systemClock, {
    joinUrlBase: 'https://meet.invalid/j/',
    dataDir: t.testdirName,
    uploadLimit: 1024 * 1024,
    receiptSigningKey: undefined,
    receiptRetiredKeys: [],
  })
  t.teardown(() => services.stop())
  const first = await ensureDemoAdmin(services)
  t.ok(first)
  const second = await ensureDemoAdmin(services)
  t.same(second, first, 'a later start reuses the demo admin')
  const me = await services.users.me({ subject: first!.userId, accountId: first!.accountId, roles: ['admin'] })
  t.same(me.roles, ['admin', 'member'])
})
