import { z } from 'zod'

/**
 * Instants from clients: RFC 3339 with `Z` or an offset, and at most nine fractional digits (the
 * service keeps milliseconds; zod's own pattern takes any number of digits, so a 400-digit
 * fraction was accepted and silently cut). Nine digits with an offset make the longest form,
 * 2026-01-01T00:00:00.123456789+01:00: 35 characters.
 */
export const MAX_INSTANT_LENGTH = 35

const ANY_FRACTION = '(?:\\.\\d+)?'
const zodPattern = (z.iso.datetime({ offset: true })._zod.def as { pattern: RegExp }).pattern.source
if (!zodPattern.includes(ANY_FRACTION)) throw new Error("zod's date-time pattern changed: revisit src/lib/instant.ts")
export const INSTANT_PATTERN = new RegExp(zodPattern.replace(ANY_FRACTION, '(?:\\.\\d{1,9})?'))

/** A client-sent instant; the pattern bounds its length, which the document states as maxLength. */
export const instant = (description?: string) =>
  z.iso
    .datetime({ offset: true, pattern: INSTANT_PATTERN } as Parameters<typeof z.iso.datetime>[0])
    .meta({
      maxLength: MAX_INSTANT_LENGTH,
      description: `${description ? `${description}. ` : ''}RFC 3339 date-time with Z or a ±hh:mm offset and at most 9 fractional second digits; kept to the millisecond`,
      examples: ['2026-12-01T09:00:00Z'],
    })
