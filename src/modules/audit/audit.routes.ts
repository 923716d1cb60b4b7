import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { AccountParamsSchema, AuditPageSchema, AuditQuerySchema, AuditVerificationSchema } from './audit.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.audit

  app.get('/accounts/:accountId/audit', {
    schema: {
      operationId: 'listAuditEntries',
      tags: ['audit'],
      summary: "Page through the account's audit trail, oldest first",
      params: AccountParamsSchema,
      querystring: AuditQuerySchema,
      response: { 200: AuditPageSchema },
    },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.get('/accounts/:accountId/audit/verify', {
    schema: {
      operationId: 'verifyAuditTrail',
      tags: ['audit'],
      summary: "Recompute the account's audit hash chain and report the first broken entry",
      params: AccountParamsSchema,
      response: { 200: AuditVerificationSchema },
    },
    handler: (request) => service.verify(request.principal, request.params.accountId),
  })
}

export default routes
