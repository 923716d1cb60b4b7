import { z } from 'zod'

const LayerName = z.enum(['account', 'group', 'user', 'meeting'])
const LockKind = z.enum(['fixed', 'floor'])

export const GroupSettingsParamsSchema = z.strictObject({ accountId: z.uuid(), groupId: z.uuid() })

const valuesField = z
  .record(z.string().max(100), z.unknown())
  .describe('Setting key → new value, or null to remove this layer\'s value and inherit again')

export const PatchLockableLayerSchema = z
  .strictObject({
    values: valuesField.optional(),
    locks: z
      .record(z.string().max(100), LockKind.nullable())
      .optional()
      .describe('Setting key → fixed (no lower layer may change it), floor (lower layers may only be more private), or null to unlock'),
  })
  .meta({
    id: 'PatchLockableSettings',
    examples: [{ values: { 'recording.auto_delete_days': 14, 'meeting.waiting_room': true }, locks: { 'recording.auto_delete_days': 'floor' } }],
  })

export const PatchLayerSchema = z.strictObject({ values: valuesField.optional() }).meta({ id: 'PatchSettings', examples: [{ values: { 'recording.auto_delete_days': 7, 'meeting.join_muted': null } }] })

export const LayerSettingsSchema = z
  .object({
    layer: LayerName,
    id: z.uuid().describe('The account, group, user or meeting id of the layer'),
    values: z.record(z.string(), z.unknown()),
    locks: z.record(z.string(), z.object({ kind: LockKind, by: z.string(), since: z.iso.datetime() })),
  })
  .meta({ id: 'LayerSettings' })

export const EffectiveSettingSchema = z
  .object({
    value: z.unknown(),
    source: z.object({
      layer: z.enum(['platform', 'account', 'group', 'user', 'meeting']),
      id: z.uuid().nullable(),
      origin: z
        .enum(['explicit', 'gpc_signal', 'dnt_signal', 'restriction'])
        .optional()
        .describe('Set for user values and values written by a privacy signal; restriction: the user restricted processing (P-DSR-4), which holds this key at its most private value'),
    }),
    lock: z
      .object({ kind: LockKind, layer: z.enum(['account', 'group']), id: z.uuid(), by: z.string(), since: z.iso.datetime() })
      .nullable(),
    overridden: z
      .array(
        z.object({
          layer: z.enum(['platform', 'account', 'group', 'user', 'meeting']),
          id: z.uuid().nullable(),
          value: z.unknown(),
          reason: z.enum(['fixed_lock', 'floor_lock', 'restriction']),
        }),
      )
      .describe('Values set at lower layers that a lock keeps inactive, and the value a restriction of processing holds off (kept, not deleted)'),
  })
  .meta({ id: 'EffectiveSetting' })

export const EffectiveSettingsSchema = z
  .object({
    subject: z.object({ type: z.enum(['user', 'meeting']), id: z.uuid() }),
    settings: z.record(z.string(), EffectiveSettingSchema),
  })
  .meta({ id: 'EffectiveSettings' })

export const CatalogSchema = z
  .object({
    settings: z.array(
      z.object({
        key: z.string(),
        category: z.string(),
        description: z.string(),
        default: z.unknown(),
        layers: z.array(LayerName).describe('Layers that may set the key; empty for values no one can change'),
        privacyOrder: z.object({
          kind: z.enum(['boolean', 'enum', 'number', 'none']),
          privateValue: z.boolean().optional(),
          mostPrivateFirst: z.array(z.string()).optional(),
          morePrivate: z.enum(['lower', 'higher']).optional(),
        }),
        userOptIn: z.boolean().describe('Only the user can turn it on; account and group layers may only set the private value'),
        userRestrictionWins: z.boolean().describe("The user's most private choice applies even under a lock"),
        stopsWhileRestricted: z.boolean().describe('Held at its most private value while the user restricts processing or objects (P-DSR-4: marketing, profiling)'),
        schema: z.record(z.string(), z.unknown()).describe('JSON Schema of the value'),
      }),
    ),
  })
  .meta({ id: 'SettingsCatalog' })

export type PatchLockableLayer = z.infer<typeof PatchLockableLayerSchema>
