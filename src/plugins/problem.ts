import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { DomainError, isDatabaseUnavailable, jsonPointer, loggableError, type ProblemItem, sqlState } from '../lib/errors.js'

// RFC 9457 problem details: the one place where any error becomes an HTTP answer. Every
// non-2xx body has the same shape and a stable `code`; a 5xx says nothing about its cause.

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export const ProblemItemSchema = z
  .looseObject({
    pointer: z.string().optional().describe('JSON pointer into the request, e.g. /body/email'),
    detail: z.string(),
    code: z.string().optional(),
  })
  .meta({ id: 'ProblemItem' })

export const ProblemSchema = z
  .looseObject({
    type: z.string().describe('A URI naming the problem type'),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable machine-readable code, e.g. not_found, setting_locked'),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(ProblemItemSchema).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' })

export type Problem = z.infer<typeof ProblemSchema>

export const problemResponse = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
})

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

// Fastify's own client errors, by their codes, with our stable names.
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
}

export function problem(status: number, code: string, detail?: string, errors?: ProblemItem[], extra?: object): Problem {
  return {
    type: `urn:consentry:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail ? { detail } : {}),
    ...(errors ? { errors } : {}),
    ...extra,
  }
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body)
}

/** At most this many items in a validation problem: 80,000 unknown properties must not answer 6.5 MB. */
export const MAX_PROBLEM_ITEMS = 20

function validationItems(error: { validation: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[]; validationContext?: string }): ProblemItem[] {
  const where = error.validationContext ?? 'body'
  return error.validation.flatMap((issue) => {
    const base = issue.instancePath === '/' ? '' : issue.instancePath
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(issue.params.keys)) {
      return (issue.params.keys as string[]).map((key) => ({
        pointer: `/${where}${base}${jsonPointer(key)}`,
        detail: 'unknown property',
        code: 'unrecognized_key',
      }))
    }
    return [{ pointer: `/${where}${base}`, detail: issue.message ?? 'invalid', code: issue.keyword }]
  })
}

export function toProblem(error: FastifyError | Error, request: FastifyRequest): Problem {
  if (error instanceof DomainError) {
    return problem(error.status, error.code, error.message, error.errors, error.extensions)
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const items = validationItems(error)
    const shown = items.slice(0, MAX_PROBLEM_ITEMS)
    return problem(400, 'validation_failed', 'The request does not match the schema', shown, items.length > shown.length ? { errorCount: items.length } : undefined)
  }
  const fastifyError = error as FastifyError
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined
  if (mapped) return problem(fastifyError.statusCode ?? 400, mapped, fastifyError.message)
  if (isDatabaseUnavailable(error)) {
    request.log.warn({ error: loggableError(error) }, 'database unavailable')
    return problem(503, 'database_unavailable', 'The database is unavailable for a moment; retry after the pause in Retry-After')
  }
  const state = sqlState(error)
  if (state === '23505') return problem(409, 'conflict', 'The resource conflicts with an existing one')
  // Text the database cannot store (NUL in text or jsonb): the client's input, not our failure.
  if (state === '22021' || state === '22P05') return problem(400, 'invalid_text', 'The request contains characters that cannot be stored')
  if (state === '23503') return problem(409, 'reference_conflict', 'The resource is referenced or references a missing one')
  const status = fastifyError.statusCode
  if (status && status >= 400 && status < 500) {
    return problem(status, 'bad_request', fastifyError.message)
  }
  request.log.error({ error: loggableError(error) }, 'unhandled error')
  return problem(500, 'internal_error', 'An unexpected error occurred')
}

/** RFC 6750: a 401 says how to authenticate, and whether the token given was the problem. */
function challenge(request: FastifyRequest): string {
  return request.headers.authorization ? 'Bearer realm="consentry", error="invalid_token"' : 'Bearer realm="consentry"'
}

/** Errors fastify's router raises before a route is found (a bad URL, an overlong parameter). */
export function routerProblem(error: FastifyError): Problem {
  if (error.code === 'FST_ERR_BAD_URL') return problem(400, 'bad_url', 'The path is not a valid URL')
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return problem(414, 'uri_too_long', 'A path parameter is longer than any this API takes')
  return problem(500, 'internal_error', 'An unexpected error occurred')
}

/**
 * Errors Node's HTTP parser raises before fastify sees a request (a header with a control
 * character, headers too large, a timeout): answered on the raw socket, still as problem+json
 * with the usual headers.
 */
export function clientErrorResponse(error: { code?: string }, headers: Record<string, string>): string {
  const body = JSON.stringify(
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? problem(408, 'request_timeout', 'The request took too long to arrive')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? problem(431, 'headers_too_large', 'The request headers are larger than this service takes')
        : problem(400, 'bad_request', 'The request is not valid HTTP'),
  )
  const status = JSON.parse(body).status as number
  const lines = Object.entries({ ...headers, 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
    .map(([name, value]) => `${name}: ${value}`)
  return `HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`
}

export default fp(
  async (app) => {
    app.setErrorHandler((error, request, reply) => {
      const body = toProblem(error as Error, request)
      if (body.status === 401) reply.header('www-authenticate', challenge(request))
      // 429 and 503 say when to come back.
      const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
      else if (body.status === 503) reply.header('retry-after', '2')
      return sendProblem(reply, body)
    })
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, problem(404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
    )
  },
  { name: 'problem' },
)
