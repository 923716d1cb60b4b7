import fastJson from 'fast-json-stringify'
import type { FastifySerializerCompiler } from 'fastify/types/schema.js'
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'

// Answers are written by serializers compiled once per route from the JSON Schema of their zod
// response schema (fastify's own fast-json-stringify), not re-validated by zod on every answer:
// that validation was the largest single cost of a cheap read. The compiled serializer writes only
// the properties the schema declares, so an answer never carries a field its document does not
// name. What the document promises is checked where it belongs: every answer the tests see is
// validated against openapi/openapi.json.

type JsonSchema = { [key: string]: unknown }

/**
 * Keywords that only validate or document: a serializer needs the shape. (`enum` and `const` say
 * which values are allowed; `default` would make fast-json-stringify invent a missing value.)
 */
const VALIDATION_ONLY = new Set([
  'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems',
  'propertyNames', 'enum', 'const', 'description', '$schema', 'examples', 'default',
])

const isNullSchema = (schema: unknown) => typeof schema === 'object' && schema !== null && (schema as JsonSchema).type === 'null'

/**
 * The shape alone: validation keywords dropped, and `anyOf: [X, null]` turned into X with a
 * nullable type, which fast-json-stringify writes directly instead of validating each branch.
 */
export function serializationSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(serializationSchema)
  if (typeof schema !== 'object' || schema === null) return schema
  const source = schema as JsonSchema
  const out: JsonSchema = {}
  for (const [key, value] of Object.entries(source)) {
    if (VALIDATION_ONLY.has(key)) continue
    out[key] = key === 'properties' || key === 'definitions' || key === '$defs' ? mapValues(value as JsonSchema) : serializationSchema(value)
  }
  const anyOf = out.anyOf as JsonSchema[] | undefined
  if (anyOf && anyOf.length === 2 && anyOf.some(isNullSchema)) {
    const other = anyOf.find((branch) => !isNullSchema(branch))!
    if (typeof other.type === 'string' && !('anyOf' in other) && !('$ref' in other)) {
      delete out.anyOf
      return { ...out, ...other, type: [other.type, 'null'] }
    }
  }
  return out
}

function mapValues(record: JsonSchema): JsonSchema {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, serializationSchema(value)]))
}

function zodSchemaOf(schema: unknown): z.ZodType | undefined {
  if (schema instanceof z.ZodType) return schema
  const properties = (schema as { properties?: unknown } | undefined)?.properties
  return properties instanceof z.ZodType ? properties : undefined
}

/** fast-json-stringify compiled from the zod schema; zod's own serializer where a schema has no JSON form. */
export const compiledSerializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  const zodSchema = zodSchemaOf(route.schema)
  if (zodSchema && !(zodSchema instanceof z.ZodUndefined)) {
    try {
      const json = z.toJSONSchema(zodSchema, { io: 'output', target: 'draft-7', unrepresentable: 'throw' })
      return fastJson(serializationSchema(json) as Parameters<typeof fastJson>[0])
    } catch {
      // a schema with no JSON Schema form (a transform, say): zod serializes it
    }
  }
  return zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0])
}
