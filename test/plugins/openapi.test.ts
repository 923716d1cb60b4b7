import { readFileSync } from 'node:fs'
import t from 'tap'
import { CLIENT_TYPES_FILE, renderClientTypes, renderOpenApi } from '../../src/cli/openapi.js'
import { buildTestApp } from '../helpers/app.js'
import { OPENAPI_PATH } from '../helpers/openapi.js'

const committed = readFileSync(OPENAPI_PATH, 'utf8')
const document = JSON.parse(committed)

t.test('openapi/openapi.json is not stale (run `npm run openapi` after changing a route)', async (t) => {
  t.equal(await renderOpenApi(), committed)
})

t.test('openapi/client.d.ts, the generated client types, is not stale', async (t) => {
  t.equal(await renderClientTypes(committed), readFileSync(CLIENT_TYPES_FILE, 'utf8'))
})

t.test('the document is OpenAPI 3.1 and every operation is complete', async (t) => {
  t.equal(document.openapi, '3.1.0')
  const ids = new Set<string>()
  for (const [path, operations] of Object.entries<Record<string, any>>(document.paths)) {
    for (const [method, op] of Object.entries<any>(operations)) {
      const label = `${method.toUpperCase()} ${path}`
      t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${label} has a camelCase operationId`)
      t.notOk(ids.has(op.operationId), `${label}: operationId is unique`)
      ids.add(op.operationId)
      t.equal(op.tags?.length, 1, `${label} has one tag`)
      t.ok(op.summary, `${label} has a summary`)
      for (const status of ['400', '404', '500']) t.ok(op.responses[status], `${label} documents ${status}`)
      const isPublic = path === '/health' || path === '/ready' || path.startsWith('/.well-known/')
      if (isPublic) {
        t.notOk(op.security, `${label} needs no token`)
      } else {
        t.same(op.security, [{ bearerAuth: [] }], `${label} requires a bearer token`)
        for (const status of ['401', '403']) t.ok(op.responses[status], `${label} documents ${status}`)
      }
      if (op.requestBody) for (const status of ['413', '415']) t.ok(op.responses[status], `${label} documents ${status}`)
      const success = Object.keys(op.responses).filter((status) => status.startsWith('2'))
      t.ok(success.length > 0, `${label} documents a success response`)
    }
  }
  t.ok(ids.size >= 18, 'all foundation routes are documented')
})

t.test('JSON properties are camelCase in every schema of the document', async (t) => {
  const names = new Set<string>()
  const walk = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(walk)
    if (!node || typeof node !== 'object') return
    const record = node as Record<string, unknown>
    if (record.properties && typeof record.properties === 'object') {
      for (const name of Object.keys(record.properties)) names.add(name)
    }
    Object.values(record).forEach(walk)
  }
  walk(document.components.schemas)
  walk(document.paths)
  t.ok(names.size > 30)
  for (const name of names) t.match(name, /^[a-z][A-Za-z0-9]*$/, `${name} is camelCase`)
})

t.test('GET / redirects to /docs without a token, and is not an operation of the document', async (t) => {
  const api = await buildTestApp(t)
  const root = await api.app.inject({ method: 'GET', url: '/' })
  t.equal(root.statusCode, 302)
  t.equal(root.headers.location, '/docs')
  t.notOk(document.paths['/'], 'hidden like /docs and /openapi.json')
})

t.test('/openapi.json serves the document and /docs works offline', async (t) => {
  const api = await buildTestApp(t)
  const served = await api.app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(served.statusCode, 200)
  t.same(served.json(), document)

  const docs = await api.app.inject({ method: 'GET', url: '/docs' })
  const page = docs.statusCode === 302 ? await api.app.inject({ method: 'GET', url: docs.headers.location as string }) : docs
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.notMatch(page.body, /(src|href)=["']https?:\/\//, 'no script or style from another origin')
  const scripts = [...page.body.matchAll(/src=["']([^"']+\.js)["']/g)].map((m) => m[1]!)
  t.ok(scripts.length > 0, 'the page loads its scripts from this service')
  for (const script of scripts) {
    const url = script.startsWith('/') ? script : `/docs/${script.replace(/^\.\//, '')}`
    const asset = await api.app.inject({ method: 'GET', url })
    t.equal(asset.statusCode, 200, `${url} is served`)
  }
})
