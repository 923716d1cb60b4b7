import { z } from 'zod'

/**
 * What safeText checks, as a JSON Schema pattern for the document: no NUL anywhere and at least one
 * character that is not whitespace (JavaScript's `\s` is exactly what `trim()` removes).
 */
export const SAFE_TEXT_PATTERN = '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$'

/**
 * Free text from clients: bounded, trimmed, and without NUL, which PostgreSQL cannot store in
 * text (it would surface as a 500 instead of a 400 naming the field). The bound applies to the
 * text as sent, before trimming, so the document's maxLength is the server's rule.
 */
export const safeText = (max: number, description?: string) =>
  z
    .string()
    .max(max)
    .trim()
    .min(1)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
    .meta({
      pattern: SAFE_TEXT_PATTERN,
      description: `${description ? `${description}. ` : ''}Free text of at most ${max} UTF-16 code units as sent; leading and trailing whitespace is removed before it is stored, and what remains must not be empty. NUL (U+0000) is refused.`,
    })
