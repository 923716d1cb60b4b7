import { z } from 'zod'

/**
 * Free text from clients: trimmed, bounded, and without NUL, which PostgreSQL cannot store in
 * text (it would surface as a 500 instead of a 400 naming the field).
 */
export const safeText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
