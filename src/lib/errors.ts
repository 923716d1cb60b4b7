// Typed domain errors. Services throw these; the problem plugin is the only place that turns
// them (and every other error) into an RFC 9457 body.

export interface ProblemItem {
  /** JSON pointer into the request, for example `/body/email`. */
  pointer?: string
  detail: string
  code?: string
  [extra: string]: unknown
}

export class DomainError extends Error {
  /** The problem's title follows from its status (see the problem plugin). */
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors?: ProblemItem[],
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail)
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`)
  }
}

export class ForbiddenError extends DomainError {
  constructor(detail = 'Your roles do not allow this operation') {
    super(403, 'forbidden', detail)
  }
}

export class UnauthorizedError extends DomainError {
  constructor(detail = 'A valid bearer token is required') {
    super(401, 'unauthorized', detail)
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, detail: string, errors?: ProblemItem[], extensions?: Record<string, unknown>) {
    super(409, code, detail, errors, extensions)
  }
}

export class ValidationError extends DomainError {
  constructor(detail: string, errors: ProblemItem[]) {
    super(400, 'validation_failed', detail, errors)
  }
}

/** The SQLSTATE of a database error, wherever the driver or drizzle wrapped it. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  }
  return undefined
}

export const isUniqueViolation = (error: unknown) => sqlState(error) === '23505'

const CONNECTION_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'])

/**
 * The database is unreachable or went away (a failover, a restart, a terminated backend): the
 * request failed for reasons of the moment, and a retry may succeed. SQLSTATE class 08
 * (connection exception), 57P01-03 (shutdown, cannot connect now), 53300 (too many connections),
 * or the driver's own connection codes, wherever drizzle wrapped them.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code !== 'string') continue
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || code === '53300') return true
  }
  return false
}

/** An RFC 6901 JSON pointer: each segment with `~` and `/` escaped. */
export function jsonPointer(...segments: string[]): string {
  return segments.map((segment) => `/${segment.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')
}

/**
 * What the log may say about an error: its class, its code and where it was thrown, never its
 * message. A database error's message carries the statement's parameters (personal data, for
 * example an email being written), and drizzle's carries the whole query with them.
 */
export function loggableError(error: unknown): { type: string; code?: string; frames?: string } {
  const type = error instanceof Error ? error.constructor.name : typeof error
  const code = sqlState(error) ?? (typeof (error as { code?: unknown })?.code === 'string' ? ((error as { code: string }).code) : undefined)
  const stack = error instanceof Error ? error.stack : undefined
  // The first line of a stack is the message; the frames below it are only code locations.
  const frames = stack?.split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 8).join('\n')
  return { type, ...(code ? { code } : {}), ...(frames ? { frames } : {}) }
}
