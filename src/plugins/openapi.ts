import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { problemResponse } from './problem.js'

// The OpenAPI 3.1 document is generated from the zod route schemas. Every route gets the problem
// responses it can produce, so the document lists every status a client may see.

export const API_VERSION = '0.1.0'

const STANDARD = {
  400: 'The request is malformed or does not match the schema',
  404: 'The resource does not exist, or belongs to another account',
  429: 'rate_limited: too many requests from this principal (or, before authentication, this address); retry after Retry-After seconds',
  500: 'Unexpected server error (details only in the server log)',
  503: 'overloaded / under_pressure / database_unavailable: retry after Retry-After seconds',
}
const AUTHENTICATED = {
  401: 'Missing, expired or invalid bearer token',
  403: 'The token is valid but its roles do not allow this operation',
}
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
      if (!route.config?.public) {
        add(AUTHENTICATED)
        schema.security ??= [{ bearerAuth: [] }]
      }
      if (schema.body) add(WITH_BODY)
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
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          },
        },
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
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
