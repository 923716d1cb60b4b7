import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import {
  CreateWebhookSchema,
  DeliveryListSchema,
  DeliveryParamsSchema,
  DeliverySchema,
  ListWebhooksQuerySchema,
  PatchWebhookSchema,
  WebhookPageSchema,
  WebhookParamsSchema,
  WebhookSchema,
  WebhookWithSecretSchema,
} from './webhooks.schemas.js'

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.webhooks
  const tags = ['events']

  app.post('/accounts/:accountId/webhooks', {
    schema: {
      operationId: 'createWebhook',
      tags,
      summary: 'Register an endpoint for the account’s events (admins); the signing secret is shown once',
      description: 'Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once, retried with backoff over about a day; then the endpoint is disabled and a `webhook.disabled` event says so.',
      params: AccountParamsSchema,
      body: CreateWebhookSchema,
      response: { 201: WebhookWithSecretSchema },
    },
    handler: async (request, reply) => reply.code(201).send(await service.create(request.principal, request.params.accountId, request.body)),
  })

  app.get('/accounts/:accountId/webhooks', {
    schema: { operationId: 'listWebhooks', tags, summary: 'The account’s webhook endpoints (admins)', params: AccountParamsSchema, querystring: ListWebhooksQuerySchema, response: { 200: WebhookPageSchema } },
    handler: (request) => service.list(request.principal, request.params.accountId, request.query),
  })

  app.get('/accounts/:accountId/webhooks/:webhookId', {
    schema: { operationId: 'getWebhook', tags, summary: 'One webhook endpoint (admins)', params: WebhookParamsSchema, response: { 200: WebhookSchema } },
    handler: (request) => service.get(request.principal, request.params.accountId, request.params.webhookId),
  })

  app.patch('/accounts/:accountId/webhooks/:webhookId', {
    schema: { operationId: 'updateWebhook', tags, summary: 'Change an endpoint’s URL, event types, or enable it again (admins)', params: WebhookParamsSchema, body: PatchWebhookSchema, response: { 200: WebhookSchema } },
    handler: (request) => service.patch(request.principal, request.params.accountId, request.params.webhookId, request.body),
  })

  app.delete('/accounts/:accountId/webhooks/:webhookId', {
    schema: { operationId: 'deleteWebhook', tags, summary: 'Remove an endpoint and its deliveries (admins)', params: WebhookParamsSchema, response: { 204: z.undefined().describe('Removed') } },
    handler: async (request, reply) => {
      await service.remove(request.principal, request.params.accountId, request.params.webhookId)
      return reply.code(204).send()
    },
  })

  app.post('/accounts/:accountId/webhooks/:webhookId/rotate-secret', {
    schema: {
      operationId: 'rotateWebhookSecret',
      tags,
      summary: 'Issue a new signing secret, shown once; deliveries carry signatures of both secrets for 24 hours (admins)',
      params: WebhookParamsSchema,
      response: { 200: WebhookWithSecretSchema },
    },
    handler: (request) => service.rotateSecret(request.principal, request.params.accountId, request.params.webhookId),
  })

  app.get('/accounts/:accountId/webhooks/:webhookId/deliveries', {
    schema: { operationId: 'listWebhookDeliveries', tags, summary: 'The endpoint’s latest deliveries: attempts, status codes, latency (admins)', params: WebhookParamsSchema, response: { 200: DeliveryListSchema } },
    handler: (request) => service.deliveries(request.principal, request.params.accountId, request.params.webhookId),
  })

  app.post('/accounts/:accountId/webhooks/:webhookId/deliveries/:deliveryId/redeliver', {
    schema: {
      operationId: 'redeliverWebhook',
      tags,
      summary: 'Deliver an event to the endpoint again (admins)',
      params: DeliveryParamsSchema,
      response: { 202: DeliverySchema, 404: problemResponse('No such webhook or delivery') },
    },
    handler: async (request, reply) => reply.code(202).send(await service.redeliver(request.principal, request.params.accountId, request.params.webhookId, request.params.deliveryId)),
  })
}

export default routes
