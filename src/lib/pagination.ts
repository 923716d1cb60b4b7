import { z } from 'zod'
import { ValidationError } from './errors.js'

// Cursor pagination over UUIDv7 ids: the cursor is the last id of the previous page, opaque
// to clients (base64url) so its encoding can change without breaking them.

export const PageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50).describe('Page size, at most 100'),
  cursor: z.string().max(200).optional().describe('The nextCursor of the previous page'),
})

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
  })
}

const CURSOR_FORMATS = { id: z.uuid(), seq: z.string().regex(/^\d{1,15}$/) }

/** The position a cursor names: an id (`id` format) or a sequence number (`seq` format). */
export function decodeCursor(cursor: string | undefined, format: keyof typeof CURSOR_FORMATS = 'id'): string | undefined {
  if (cursor === undefined) return undefined
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!CURSOR_FORMATS[format].safeParse(id).success) {
    throw new ValidationError('The cursor is not valid', [
      { pointer: '/querystring/cursor', detail: 'not a cursor returned by this API' },
    ])
  }
  return id
}

/** Rows were fetched with limit + 1 to learn whether another page exists. `idOf` gives the cursor position. */
export function toPage<R, T>(rows: R[], limit: number, idOf: (row: R) => string, map: (row: R) => T) {
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  const last = page[page.length - 1]
  return {
    items: page.map(map),
    nextCursor: more && last ? Buffer.from(idOf(last), 'utf8').toString('base64url') : null,
  }
}
