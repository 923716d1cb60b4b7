import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import type { ValidateFunction } from 'ajv'

// Validates every response a test receives against the committed OpenAPI document: an
// undocumented status, content type or field fails the test that saw it.

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

export const OPENAPI_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'openapi', 'openapi.json')

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>
}
type Document = { paths: Record<string, Record<string, Operation>> }

const document = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as Document
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true })
addFormats(ajv)
ajv.addSchema(document, 'openapi')

const routes = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}))
const validators = new Map<string, ValidateFunction>()

const pointerEscape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1')

export interface SeenResponse {
  method: string
  url: string
  status: number
  contentType: string | undefined
  body: unknown
}

/** Returns the problems found; an empty list means the response matches the document. */
export function checkResponse(response: SeenResponse): string[] {
  const pathname = response.url.split('?')[0]!
  const route = routes.find((candidate) => candidate.pattern.test(pathname))
  const label = `${response.method} ${pathname} → ${response.status}`
  if (!route) {
    // Unknown routes answer the generic 404 problem; nothing else may be undocumented.
    return response.status === 404 ? [] : [`${label}: path not in the OpenAPI document`]
  }
  const method = response.method.toLowerCase()
  const operation = document.paths[route.template]![method]
  if (!operation) return response.status === 404 ? [] : [`${label}: method not in the OpenAPI document`]
  const documented = operation.responses[String(response.status)]
  if (!documented) return [`${label}: status not documented`]
  if (!documented.content) {
    return response.body === undefined || response.body === '' ? [] : [`${label}: documented without a body but has one`]
  }
  const mediaType = response.contentType?.split(';')[0]?.trim()
  if (!mediaType || !documented.content[mediaType]) {
    return [`${label}: content type ${mediaType} not documented (${Object.keys(documented.content).join(', ')})`]
  }
  const ref = `openapi#/paths/${pointerEscape(route.template)}/${method}/responses/${response.status}/content/${pointerEscape(mediaType)}/schema`
  let validate = validators.get(ref)
  if (!validate) {
    validate = ajv.compile({ $ref: ref })
    validators.set(ref, validate)
  }
  if (validate(response.body)) return []
  return (validate.errors ?? []).map((error) => `${label}: body${error.instancePath} ${error.message}`)
}
