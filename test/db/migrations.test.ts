import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { drizzle } from 'drizzle-orm/pglite'
import { migrate } from 'drizzle-orm/pglite/migrator'
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

t.test('0014 gives every published version the title of its notice, and the versions stay immutable', async (t) => {
  // The migrations up to 0013, some notices as they were then, then 0014 on top.
  const folder = mkdtempSync(path.join(tmpdir(), 'consentry-migrations-'))
  cpSync('db/migrations', folder, { recursive: true })
  const journalFile = path.join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: { tag: string }[] }
  const upTo = (tag: string) => ({ ...journal, entries: journal.entries.slice(0, journal.entries.findIndex((entry) => entry.tag === tag) + 1) })
  writeFileSync(journalFile, JSON.stringify(upTo('0013_retain_and_hold')))
  const client = new PGlite()
  t.teardown(() => client.close())
  const db = drizzle({ client })
  await migrate(db, { migrationsFolder: folder })

  const account = '01a2053f-42b2-7fe1-a32b-35a84704cd76'
  const [recording, policy] = ['01a2053f-42b2-7fe1-a32b-35a84704cd77', '01a2053f-42b2-7fe1-a32b-35a84704cd78']
  await client.exec(`
    insert into accounts (id, name, data_region, created_at, updated_at) values ('${account}', 'A', 'eu', now(), now());
    insert into notices (account_id, id, kind, locale, title, created_by, created_at) values
      ('${account}', '${recording}', 'recording', 'en', 'Recording', 'admin', now()),
      ('${account}', '${policy}', 'privacy_policy', 'de', 'Datenschutz', 'admin', now());
    insert into notice_versions (account_id, id, notice_id, kind, version, text, sha256, requires_reconsent, published_by, published_at) values
      ('${account}', gen_random_uuid(), '${recording}', 'recording', 1, 'One.', 'x', false, 'admin', now()),
      ('${account}', gen_random_uuid(), '${recording}', 'recording', 2, 'Two.', 'y', true, 'admin', now()),
      ('${account}', gen_random_uuid(), '${policy}', 'privacy_policy', 1, 'Eins.', 'z', false, 'admin', now());
  `)
  writeFileSync(journalFile, JSON.stringify(journal))
  await migrate(db, { migrationsFolder: folder })

  const versions = await client.query<{ kind: string; version: number; title: string }>('select kind, version, title from notice_versions order by kind, version')
  t.same(versions.rows, [
    { kind: 'privacy_policy', version: 1, title: 'Datenschutz' },
    { kind: 'recording', version: 1, title: 'Recording' },
    { kind: 'recording', version: 2, title: 'Recording' },
  ])
  const columns = await client.query<{ column_name: string }>("select column_name from information_schema.columns where table_name = 'notices'")
  t.notOk(columns.rows.some((row) => row.column_name === 'title'), 'the notice keeps no title of its own')
  await t.rejects(client.query("update notice_versions set title = 'Changed'"), /append-only/, 'the versions refuse UPDATE again')
  await t.rejects(client.query('insert into notice_versions (account_id, id, notice_id, kind, version, text, sha256, requires_reconsent, published_by, published_at) ' +
    `values ('${account}', gen_random_uuid(), '${policy}', 'privacy_policy', 2, 'Zwei.', 'w', false, 'admin', now())`), /title/, 'a version needs a title')
})
