import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { problemResponse } from '../../plugins/problem.js'
import { AccountParamsSchema } from '../accounts/accounts.schemas.js'
import { UserParamsSchema } from '../users/users.schemas.js'
import {
  CatalogSchema,
  EffectiveSettingsSchema,
  GroupSettingsParamsSchema,
  LayerSettingsSchema,
  PatchLayerSchema,
  PatchLockableLayerSchema,
} from './settings.schemas.js'
import { signalsOf } from './settings.signals.js'

const LOCK_CONFLICT = problemResponse('setting_locked: a lock above forbids the change; setting_floor: the value is less private than a floor lock')

const routes: FastifyPluginAsyncZod = async (app) => {
  const service = app.services.settings

  app.get('/settings/catalog', {
    schema: {
      operationId: 'getSettingsCatalog',
      tags: ['settings'],
      summary: 'Every setting key with its JSON Schema, default, settable layers and privacy order',
      response: { 200: CatalogSchema },
    },
    handler: async () => service.catalog(),
  })

  app.get('/accounts/:accountId/settings', {
    schema: {
      operationId: 'getAccountSettings',
      tags: ['settings'],
      summary: "The account layer's own values and locks",
      params: AccountParamsSchema,
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) => service.getLayer(request.principal, request.params.accountId, { layer: 'account' }),
  })

  app.patch('/accounts/:accountId/settings', {
    schema: {
      operationId: 'updateAccountSettings',
      tags: ['settings'],
      summary: 'Set, remove (null) or lock account-layer settings',
      params: AccountParamsSchema,
      body: PatchLockableLayerSchema,
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) =>
      service.patchLayer(request.principal, request.params.accountId, { layer: 'account' }, request.body),
  })

  app.get('/accounts/:accountId/groups/:groupId/settings', {
    schema: {
      operationId: 'getGroupSettings',
      tags: ['settings'],
      summary: "A group layer's own values and locks",
      params: GroupSettingsParamsSchema,
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) =>
      service.getLayer(request.principal, request.params.accountId, { layer: 'group', groupId: request.params.groupId }),
  })

  app.patch('/accounts/:accountId/groups/:groupId/settings', {
    schema: {
      operationId: 'updateGroupSettings',
      tags: ['settings'],
      summary: 'Set, remove (null) or lock group-layer settings',
      params: GroupSettingsParamsSchema,
      body: PatchLockableLayerSchema,
      response: { 200: LayerSettingsSchema, 409: LOCK_CONFLICT },
    },
    handler: (request) =>
      service.patchLayer(
        request.principal,
        request.params.accountId,
        { layer: 'group', groupId: request.params.groupId },
        request.body,
      ),
  })

  app.get('/accounts/:accountId/users/:userId/settings', {
    schema: {
      operationId: 'getUserSettings',
      tags: ['settings'],
      summary: "A user layer's own values",
      params: UserParamsSchema,
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) =>
      service.getLayer(request.principal, request.params.accountId, { layer: 'user', userId: request.params.userId }),
  })

  app.patch('/accounts/:accountId/users/:userId/settings', {
    schema: {
      operationId: 'updateUserSettings',
      tags: ['settings'],
      summary: "Set or remove (null) a user's settings as an admin",
      params: UserParamsSchema,
      body: PatchLayerSchema,
      response: { 200: LayerSettingsSchema, 409: LOCK_CONFLICT },
    },
    handler: (request) =>
      service.patchLayer(
        request.principal,
        request.params.accountId,
        { layer: 'user', userId: request.params.userId },
        request.body,
      ),
  })

  app.get('/accounts/:accountId/users/:userId/settings/effective', {
    schema: {
      operationId: 'getUserEffectiveSettings',
      tags: ['settings'],
      summary: "Every key's effective value for a user, with where it came from and its lock",
      params: UserParamsSchema,
      response: { 200: EffectiveSettingsSchema },
    },
    handler: (request) => service.effective(request.principal, request.params.accountId, request.params.userId),
  })

  app.get('/me/settings', {
    schema: {
      operationId: 'getMySettings',
      tags: ['settings'],
      summary: 'The calling user\'s own values (permission toggles, privacy choices, meeting defaults)',
      response: { 200: LayerSettingsSchema },
    },
    handler: (request) => service.getMine(request.principal),
  })

  app.patch('/me/settings', {
    schema: {
      operationId: 'updateMySettings',
      tags: ['settings'],
      summary: 'Turn the calling user\'s permissions and privacy choices on or off (P-SET-2, P-SET-4)',
      body: PatchLayerSchema,
      response: {
        200: LayerSettingsSchema,
        409: problemResponse('setting_locked / setting_floor: an admin lock forbids it; privacy_signal_conflict: the request\'s Sec-GPC or DNT opts out of it'),
      },
    },
    handler: (request) => service.patchMine(request.principal, request.body, signalsOf(request)),
  })

  app.get('/me/settings/effective', {
    schema: {
      operationId: 'getMyEffectiveSettings',
      tags: ['settings'],
      summary: "Every key's effective value for the calling user, with provenance",
      response: { 200: EffectiveSettingsSchema },
    },
    handler: (request) => service.effectiveMine(request.principal),
  })
}

export default routes
