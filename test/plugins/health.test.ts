import t from 'tap'
import { openDatabase } from '../../db/client.js'
import { buildApp } from '../../src/app.js'
import { buildTestApp, testConfig } from '../helpers/app.js'

t.test('/health answers without a token', async (t) => {
  const api = await buildTestApp(t)
  const res = await api.request({ method: 'GET', url: '/health' })
  t.equal(res.status, 200)
  t.same(res.body, { status: 'ok' })
})

t.test('/ready reports the database kind when migrations are current', async (t) => {
  const api = await buildTestApp(t)
  const res = await api.request({ method: 'GET', url: '/ready' })
  t.equal(res.status, 200)
  t.equal(res.body.database, process.env.DATABASE_URL ? 'postgres' : 'pglite')
})

t.test('/ready is 503 while migrations are pending', async (t) => {
  const config = testConfig({ PGLITE_DIR: 'memory://' })
  const empty = await openDatabase({ kind: 'pglite', dir: 'memory://' })
  t.teardown(() => empty.close())
  const app = await buildApp({ config, database: empty, logger: false })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'not_ready')
  await empty.migrate()
  t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, 'ready once migrated')
})
