import { readFileSync } from 'node:fs'
import t from 'tap'
import { CLIENT_TYPES_FILE, renderClientTypes, renderOpenApi } from '../../src/cli/openapi.js'
import { z } from 'zod'
import { instant, MAX_INSTANT_LENGTH } from '../../src/lib/instant.js'
import { SAFE_TEXT_PATTERN, safeText } from '../../src/lib/text.js'
import { CreateConsentSchema } from '../../src/modules/consents/consents.schemas.js'
import { CreateMeetingSchema, TIME_ZONE_PATTERN, UpdateMeetingSchema } from '../../src/modules/meetings/meetings.schemas.js'
import { CreateNoticeSchema } from '../../src/modules/notices/notices.schemas.js'
import { CreateRecordingSchema } from '../../src/modules/recordings/recordings.schemas.js'
import { PatchLayerSchema, PatchLockableLayerSchema } from '../../src/modules/settings/settings.schemas.js'
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
        t.same(op.security, [], `${label} says it needs no token`)
      } else {
        t.same(op.security, [{ bearerAuth: [] }], `${label} requires a bearer token`)
        for (const status of ['401', '403']) t.ok(op.responses[status], `${label} documents ${status}`)
      }
      if (op.requestBody) for (const status of ['413', '415']) t.ok(op.responses[status], `${label} documents ${status}`)
      const success = Object.keys(op.responses).filter((status) => status.startsWith('2'))
      t.ok(success.length > 0, `${label} documents a success response`)
      t.ok(op.description, `${label} has a description`)
      for (const [status, response] of Object.entries<any>(op.responses)) {
        t.not(response.description, 'Default Response', `${label} ${status} says what it is`)
      }
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

t.test('one component per schema: no duplicate …Input components, none unused', async (t) => {
  const names = Object.keys(document.components.schemas)
  t.same(names.filter((name) => name.endsWith('Input')), [])
  for (const name of names) t.ok(committed.includes(`"#/components/schemas/${name}"`), `${name} is referenced`)
})

t.test('the examples of the main request bodies are accepted by the schemas the server validates with', async (t) => {
  const bodies = { CreateMeetingSchema, CreateConsentSchema, PatchLayerSchema, PatchLockableLayerSchema, CreateNoticeSchema, CreateRecordingSchema }
  for (const [name, schema] of Object.entries(bodies)) {
    const examples = (z.globalRegistry.get(schema)?.examples ?? []) as unknown[]
    t.ok(examples.length > 0, `${name} has an example`)
    for (const example of examples) t.ok(schema.safeParse(example).success, `${name}: its example is valid`)
  }
})

t.test('the time zone pattern in the document is part of the rule and refuses no zone the server knows', async (t) => {
  const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/GMT+5', 'US/Eastern', 'America/Port-au-Prince']
  for (const zone of zones) if (!TIME_ZONE_PATTERN.test(zone)) t.fail(`${zone} does not match`)
  for (const zone of zones) if (!UpdateMeetingSchema.safeParse({ timeZone: zone }).success) t.fail(`${zone} is refused`)
  t.notOk(UpdateMeetingSchema.safeParse({ timeZone: '+01:00' }).success, 'an offset is refused')
  t.pass(`${zones.length} zones`)
})

t.test('text and instants: the document states the rules safeText and instant() apply', async (t) => {
  const text = safeText(5)
  for (const value of ['a', ' a ', 'a b', 'a\tb']) t.equal(text.safeParse(value).success, new RegExp(SAFE_TEXT_PATTERN).test(value), JSON.stringify(value))
  for (const value of ['', '   ', 'a\u0000', '\u0000']) {
    t.notOk(text.safeParse(value).success, `${JSON.stringify(value)} refused`)
    t.notOk(new RegExp(SAFE_TEXT_PATTERN).test(value), `${JSON.stringify(value)} does not match the pattern`)
  }
  t.notOk(text.safeParse('  abcde  ').success, 'maxLength counts the text as sent')
  const at = instant()
  t.ok(at.safeParse('2026-01-01T00:00:00.123456789+01:00').success, 'nine digits with an offset')
  t.equal('2026-01-01T00:00:00.123456789+01:00'.length, MAX_INSTANT_LENGTH, 'the longest form is maxLength long')
  t.notOk(at.safeParse('2026-01-01T00:00:00.1234567890Z').success, 'ten digits are refused')
})
