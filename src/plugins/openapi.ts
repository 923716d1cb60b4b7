import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { EVENT_TYPES } from '../modules/events/events.catalog.js'
import { EventPayloadSchema } from '../modules/events/webhooks.schemas.js'
import { problemResponse } from './problem.js'

// The OpenAPI 3.1 document is generated from the zod route schemas. Every route gets the problem
// responses it can produce, so the document lists every status a client may see. `npm run
// lint:openapi` holds it to Redocly's recommended rules and Spectral's OWASP ruleset; the rules
// waived there are waived where obeying them would describe something the server does not do.

export const API_VERSION = '0.1.0'

const STANDARD = {
  400: 'The request is malformed or does not match the schema',
  404: 'The resource does not exist, or belongs to another account',
  429: 'rate_limited: too many requests from this principal (or, before authentication, this address); retry after Retry-After seconds',
  500: 'Unexpected server error (details only in the server log)',
  503: 'overloaded / under_pressure / database_unavailable / storage_unavailable / audit_unavailable: retry after Retry-After seconds',
}
const AUTHENTICATED = {
  401: 'Missing, expired or invalid bearer token',
  403: 'The token is valid but its roles do not allow this operation',
}
const TAGS: Record<string, string> = {
  accounts: 'Tenants: an account holds users, groups, settings, notices and meetings',
  users: 'Users of an account, their roles, minor status and guardian consent, and the caller itself (/v1/me)',
  groups: 'Groups of users: a settings layer between the account and its users',
  settings: 'Layered privacy settings (account, group, user, meeting) with fixed and floor locks, and their effective values',
  meetings: 'Scheduling and the life of a meeting: start, end, cancel',
  participants: 'Joining a meeting, the waiting room, admission and roles in a meeting',
  notices: 'Versioned privacy notices per kind and locale; consent answers a version',
  consents: "Participants' consent records with signed receipts, and the keys that verify them",
  'consent gate': 'The decision whether a window may be recorded or transcribed, given presence and consent',
  recordings: 'Recordings the gate allowed: registration, content upload and download, deletion',
  transcripts: 'Transcripts the gate allowed, with redaction of speakers without consent',
  attention: 'Screen sharing state and focus events, only where attention tracking is allowed',
  'media monitoring': 'Opt-in media quality diagnostics with bounded retention',
  audit: 'The hash-chained audit trail of an account and its verification',
  'support access': "Time-boxed grants that let the operator's support staff into an account",
  'privacy-signals': 'Global Privacy Control support (/.well-known/gpc.json)',
  operations: 'Liveness and readiness probes',
  retention: 'Legal holds that suspend deletion by the retention purge and by erasure',
  'privacy requests': "Data subjects' requests (access, rectification, erasure, restriction, objection, withdrawal, cancellation) and their deadlines",
  events: 'The outbox of changes as webhooks (Standard Webhooks) and as a live stream per meeting (Server-Sent Events)',
}

// Relative: the document is served by the service it describes, wherever that is deployed. Not
// internal: meeting clients and integrators call it.
const SERVER = { url: '/', description: 'The service that serves this document, in every environment (local, staging, production)', 'x-internal': false }

const WITH_BODY = {
  413: 'The body is larger than the configured limit',
  415: 'The body is not application/json',
}

export default fp(
  async (app) => {
    app.addHook('onRoute', (route) => {
      const schema = route.schema as Record<string, unknown> | undefined
      if (!schema || schema.hide) return
      const response = (schema.response ??= {}) as Record<string, unknown>
      const add = (entries: Record<number, string>) => {
        for (const [status, description] of Object.entries(entries)) response[status] ??= problemResponse(description)
      }
      add(STANDARD)
      const notes = typeof schema.description === 'string' ? [schema.description] : []
      if (route.config?.public) {
        // Explicitly public: no security requirement, rather than an absent one a reader must guess at.
        schema.security ??= []
        notes.push('Public: no bearer token is needed.')
      } else {
        add(AUTHENTICATED)
        schema.security ??= [{ bearerAuth: [] }]
        notes.push('Needs a bearer token: 401 without a valid one, 403 when its roles do not allow the operation.')
      }
      if (schema.body) {
        add(WITH_BODY)
        notes.push('The body is refused with 413 above the configured size limit.')
      }
      schema.description = notes.join(' ')
    })

    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Consentry',
          version: API_VERSION,
          description:
            'The privacy control plane of a meeting platform: meeting metadata, privacy settings, ' +
            'versioned notices and consent, and a gate that refuses to store recordings or transcripts ' +
            'without the consent of the people captured in them. Errors are RFC 9457 problem details.',
        },
        servers: [SERVER],
        tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description:
                'A JWS from the identity provider, verified as RFC8725 (JSON Web Token Best Current Practices) asks: only the one ' +
                'configured algorithm (HS256, RS256 or ES256) is accepted, so "none" and algorithm substitution are refused; ' +
                'sub, acc (account id), roles, exp and iat are required; iss and aud are required and checked when configured.',
            },
          },
        },
      },
      transform: jsonSchemaTransform,
      transformObject: (input) => tidy(withWebhooks(jsonSchemaTransformObject(input) as unknown as OpenApiDocument)),
    })
    await app.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      uiConfig: { deepLinking: true },
    })

    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())
    // Someone who opens the service's address in a browser lands on its reference.
    app.get('/', { config: { public: true }, schema: { hide: true } }, (_request, reply) => reply.redirect('/docs'))
  },
  { name: 'openapi', dependencies: ['problem'] },
)

type JsonObject = Record<string, unknown>
interface OpenApiOperation {
  summary?: string
  responses: Record<string, { description?: string; headers?: JsonObject; content?: JsonObject }>
}
interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>
  components: { schemas: Record<string, JsonObject> }
}

const REF_PREFIX = '#/components/schemas/'

const REASONS: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted', '204': 'No Content' }

const RETRY_AFTER = {
  description: 'Seconds to wait before retrying',
  schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400 },
}
const WWW_AUTHENTICATE = {
  description: 'RFC 6750 challenge: Bearer realm="consentry", with error="invalid_token" when a token was sent',
  schema: { type: 'string', maxLength: 100, pattern: '^Bearer ' },
}

function walk(value: unknown, visit: (node: JsonObject) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit)
  else if (value !== null && typeof value === 'object') {
    visit(value as JsonObject)
    for (const child of Object.values(value)) walk(child, visit)
  }
}

/**
 * One component per schema. fastify-type-provider-zod writes every registered schema twice, as it
 * validates requests (`XInput`) and as it answers (`X`), whether or not they differ or are used.
 * Here the unused ones go, and an input component takes the plain name when no different answer
 * component holds it. (Validation is unaffected: requests are checked by zod, not by this document.)
 */
function oneComponentPerSchema(document: OpenApiDocument): void {
  const schemas = document.components.schemas
  const used = new Set<string>()
  const follow = (value: unknown) =>
    walk(value, (node) => {
      const ref = node.$ref
      if (typeof ref !== 'string' || !ref.startsWith(REF_PREFIX)) return
      const name = ref.slice(REF_PREFIX.length)
      if (used.has(name)) return
      used.add(name)
      follow(schemas[name])
    })
  follow(document.paths)
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name]

  const plain = (value: unknown) => JSON.stringify(value).replace(/(#\/components\/schemas\/\w+?)Input"/g, '$1"')
  const renamed = new Map<string, string>()
  for (const name of Object.keys(schemas)) {
    if (!name.endsWith('Input')) continue
    const base = name.slice(0, -'Input'.length)
    if (!(base in schemas) || plain(schemas[base]) === plain(schemas[name])) renamed.set(REF_PREFIX + name, REF_PREFIX + base)
  }
  for (const [from, to] of renamed) {
    const name = from.slice(REF_PREFIX.length)
    schemas[to.slice(REF_PREFIX.length)] ??= schemas[name]!
    delete schemas[name]
  }
  walk(document, (node) => {
    if (typeof node.$ref === 'string' && renamed.has(node.$ref)) node.$ref = renamed.get(node.$ref)
  })
}

/** The lengths that fixed-width formats imply, stated where a client or a linter looks for them. */
const FORMAT_LENGTHS: Record<string, number> = { uuid: 36, date: 10 }

function formatLengths(document: OpenApiDocument): void {
  walk(document, (node) => {
    const length = typeof node.format === 'string' ? FORMAT_LENGTHS[node.format] : undefined
    if (node.type === 'string' && length !== undefined) node.maxLength ??= length
  })
}

/** Integers say their width: int32 when their bounds fit in it, int64 otherwise (zod bounds them to safe integers). */
function integerFormats(document: OpenApiDocument): void {
  walk(document, (node) => {
    if (node.type !== 'integer' || node.format !== undefined) return
    const min = typeof node.minimum === 'number' ? node.minimum : -Infinity
    const max = typeof node.maximum === 'number' ? node.maximum : Infinity
    node.format = min >= -(2 ** 31) && max <= 2 ** 31 - 1 ? 'int32' : 'int64'
  })
}

/** Response descriptions and the headers the problem plugin always sends with them. */
function responses(document: OpenApiDocument): void {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item)) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (response.description === 'Default Response' || !response.description) {
          response.description = `${REASONS[status] ?? status}: ${operation.summary ?? 'the answer'}`
        }
        if (status === '429' || status === '503') response.headers = { 'Retry-After': RETRY_AFTER, ...response.headers }
        if (status === '401') response.headers = { 'WWW-Authenticate': WWW_AUTHENTICATE, ...response.headers }
      }
    }
  }
}

/** The events a webhook receives (OpenAPI 3.1 `webhooks`), each with the payload schema. */
function withWebhooks(document: OpenApiDocument): OpenApiDocument {
  const doc = document as unknown as { webhooks?: Record<string, unknown> }
  // The schema carries its component id, so zod answers it under $defs: the document takes it inline.
  const json = z.toJSONSchema(EventPayloadSchema, { io: 'output' }) as { $defs?: Record<string, Record<string, unknown>> }
  const payload = json.$defs!.EventPayload!
  doc.webhooks = Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          operationId: `event.${type}`,
          tags: ['events'],
          summary: `The ${type} event, POSTed to subscribed endpoints`,
          description: 'Signed per Standard Webhooks: webhook-id (the event id, the same on every retry), webhook-timestamp and webhook-signature (v1 HMAC-SHA256; two during a secret rotation).',
          security: [],
          requestBody: { required: true, content: { 'application/json': { schema: structuredClone(payload) } } },
          responses: { '200': { description: 'Received: any 2xx ends the delivery' }, '400': { description: 'Any other answer, or none within the time limit, is retried' } },
        },
      },
    ]),
  )
  return document
}

export function tidy(document: OpenApiDocument): OpenApiDocument {
  oneComponentPerSchema(document)
  integerFormats(document)
  formatLengths(document)
  responses(document)
  return document
}
