import { z } from 'zod'
import { RETENTION_BOUNDS, type RetentionBounds } from '../retention/retention.catalog.js'

// Every setting key the service knows, in one place: its type, its platform default (always the
// private choice, P-SET-4), the layers that may set it, and which of its values are more private
// (what a floor lock compares). Nothing else in the code declares a key.

export type Layer = 'account' | 'group' | 'user' | 'meeting'
export const ALL_LAYERS: Layer[] = ['account', 'group', 'user', 'meeting']
const ABOVE_MEETING: Layer[] = ['account', 'group', 'user']

export type Category = 'recording' | 'transcript' | 'attention_tracking' | 'media_monitoring' | 'meeting' | 'permissions' | 'privacy' | 'retention'

/** How values compare for privacy: `false`/`true` is the private boolean, an array lists enum values from most to least private. */
export type PrivacyOrder =
  | { kind: 'boolean'; private: boolean }
  | { kind: 'enum'; mostPrivateFirst: readonly string[] }
  | { kind: 'number'; morePrivate: 'lower' | 'higher' }
  | { kind: 'none' }

export interface SettingDefinition {
  key: string
  category: Category
  description: string
  schema: z.ZodType
  default: unknown
  layers: readonly Layer[]
  privacy: PrivacyOrder
  /**
   * A consent only the user can give (P-SET-4): account and group layers may set only the private
   * value, so an admin can forbid it but never opt users in.
   */
  userOptIn?: boolean
  /**
   * The user's private choice wins over any lock (P-SET-2: permissions can be turned off at any
   * time; P-DSR-7: withdrawing is as easy as giving).
   */
  userRestrictionWins?: boolean
  /**
   * Processing that a restriction or an objection stops while it stands (P-DSR-4: marketing and
   * profiling): for a restricted user the key resolves to its most private value, whatever is set.
   */
  stopsWhileRestricted?: boolean
  /** A retention period: a value outside its floor and ceiling is 400 retention_out_of_bounds (P-RET-3). */
  retention?: RetentionBounds
}

/** A retention period in whole units; its bounds live in the retention catalogue. */
const period = (key: string, category: Category, description: string, layers: readonly Layer[], morePrivate: 'lower' | 'none' = 'lower'): SettingDefinition => {
  const bounds = RETENTION_BOUNDS[key]!
  return {
    key,
    category,
    description: `${description} (${bounds.unit}; default ${bounds.default}, at least ${bounds.floor}, at most ${bounds.ceiling})`,
    schema: z.number().int(),
    default: bounds.default,
    layers,
    privacy: morePrivate === 'lower' ? { kind: 'number', morePrivate: 'lower' } : { kind: 'none' },
    retention: bounds,
  }
}

const bool = (
  key: string,
  category: Category,
  description: string,
  defaultValue: boolean,
  privateValue: boolean,
  layers: readonly Layer[] = ALL_LAYERS,
): SettingDefinition => ({
  key,
  category,
  description,
  schema: z.boolean(),
  default: defaultValue,
  layers,
  privacy: { kind: 'boolean', private: privateValue },
})

const choice = <const T extends readonly [string, ...string[]]>(
  key: string,
  category: Category,
  description: string,
  mostPrivateFirst: T,
  defaultValue: T[number],
  layers: readonly Layer[] = ALL_LAYERS,
): SettingDefinition => ({
  key,
  category,
  description,
  schema: z.enum(mostPrivateFirst),
  default: defaultValue,
  layers,
  privacy: { kind: 'enum', mostPrivateFirst },
})

const consentModes = ['explicit', 'acknowledge', 'notice'] as const

const permission = (definition: SettingDefinition): SettingDefinition => ({ ...definition, userRestrictionWins: true })
const userConsent = (definition: SettingDefinition): SettingDefinition => ({ ...definition, userOptIn: true, userRestrictionWins: true })
const restrictable = (definition: SettingDefinition): SettingDefinition => ({ ...definition, stopsWhileRestricted: true })

export const CATALOG: readonly SettingDefinition[] = [
  bool('recording.cloud.enabled', 'recording', 'Cloud recording may be started (P-REC-5)', false, false),
  bool('recording.local.enabled', 'recording', 'Local recording may be started on a client (P-REC-5)', false, false),
  choice(
    'recording.consent_mode',
    'recording',
    'notice: participants are shown a notice; acknowledge: they must press continue; explicit: non-consenting participants are kept out of capture (P-REC-3)',
    consentModes,
    'explicit',
  ),
  bool('recording.audio_cue', 'recording', 'Play an audible cue when recording starts', true, true),
  bool('recording.host_confirm_disclaimer', 'recording', 'The host confirms a disclaimer before recording', true, true),
  period('recording.auto_delete_days', 'recording', 'Cloud recordings and their transcripts are deleted this long after they end, fixed when stored (P-REC-5)', ALL_LAYERS),
  {
    key: 'recording.denial_action',
    category: 'recording',
    description:
      'What the client does with a participant who declines: remove (they leave), read_only (they stay out of capture), stop_capture (capture stops for everyone)',
    schema: z.enum(['remove', 'read_only', 'stop_capture']),
    default: 'read_only',
    layers: ALL_LAYERS,
    privacy: { kind: 'none' },
  },
  choice(
    'recording.on_erasure',
    'recording',
    'What erasure of a participant does to recordings they appear in: delete them, or withhold them where other participants’ rights require keeping them (listed in the erasure’s result) (P-DSR-3)',
    ['delete', 'withhold'],
    'delete',
    ['account'],
  ),
  bool('transcript.enabled', 'transcript', 'Transcripts may be produced', false, false),
  choice('transcript.consent_mode', 'transcript', 'As recording.consent_mode, for transcripts (P-REC-2)', consentModes, 'explicit'),
  bool('attention_tracking.allowed', 'attention_tracking', 'The account allows attention tracking; false with a fixed lock prohibits it (P-ATT-1)', false, false, ['account']),
  bool('attention_tracking.enabled', 'attention_tracking', 'The meeting tracks attention while the host shares a screen (P-ATT-1)', false, false),
  {
    key: 'attention_tracking.threshold_seconds',
    category: 'attention_tracking',
    description: 'Only out-of-focus spans at least this long are ever kept (P-ATT-3)',
    schema: z.number().int().min(30).max(3600),
    default: 30,
    layers: ALL_LAYERS,
    privacy: { kind: 'number', morePrivate: 'higher' },
  },
  period('attention_tracking.retention_days', 'attention_tracking', 'Kept attention spans are deleted this long after they end', ['account']),
  bool('media_monitoring.allowed', 'media_monitoring', 'The account allows media-traffic diagnostics of users who opt in (P-MED-2)', false, false, ['account']),
  period('media_monitoring.retention_days', 'media_monitoring', 'Media diagnostics are deleted this long after they are received', ['account']),
  bool('meeting.join_video_off', 'meeting', 'Participants join with video off (P-SET-1)', true, true),
  bool('meeting.join_muted', 'meeting', 'Participants join muted (P-SET-1)', true, true),
  bool('meeting.waiting_room', 'meeting', 'Participants wait until admitted (P-SET-1)', true, true),
  bool('meeting.passcode_required', 'meeting', 'Joining needs the passcode (P-SET-1)', true, true),
  choice('meeting.screen_share', 'meeting', 'Who may share a screen (P-SET-1)', ['host_only', 'all'], 'host_only'),
  permission(bool('permissions.camera', 'permissions', 'The camera may be used; off means nothing from it is collected (P-SET-2)', true, false, ABOVE_MEETING)),
  permission(bool('permissions.microphone', 'permissions', 'The microphone may be used (P-SET-2)', true, false, ABOVE_MEETING)),
  permission(bool('permissions.screen_capture', 'permissions', 'The screen may be captured (P-SET-2)', true, false, ABOVE_MEETING)),
  restrictable(userConsent(bool('privacy.marketing_email', 'privacy', 'Marketing messages (P-SET-4)', false, false, ABOVE_MEETING))),
  restrictable(userConsent(bool('privacy.analytics', 'privacy', 'Product analytics; DNT turns it off (P-SET-4, P-SET-5)', false, false, ABOVE_MEETING))),
  userConsent(bool('privacy.non_essential_cookies', 'privacy', 'Non-essential cookies (P-SET-4)', false, false, ABOVE_MEETING)),
  restrictable(userConsent(bool('privacy.targeted_ads', 'privacy', 'Targeted advertising; Sec-GPC turns it off (P-SET-4, P-SET-5)', false, false, ABOVE_MEETING))),
  restrictable(userConsent(bool('privacy.data_sharing', 'privacy', 'Sale or sharing of personal data with third parties; Sec-GPC turns it off (P-GOV-4, P-SET-5)', false, false, ABOVE_MEETING))),
  {
    key: 'privacy.essential_cookies',
    category: 'privacy',
    description: 'Strictly necessary cookies: always on, no layer can turn them off (P-SET-4)',
    schema: z.literal(true),
    default: true,
    layers: [],
    privacy: { kind: 'none' },
  },
  period('retention.audit_days', 'retention', 'Audit entries are deleted this long after they were written (P-RET-3)', ['account'], 'none'),
  period('retention.evidence_years', 'retention', 'Consent records are kept this long as proof, and longer while a meeting still has stored recordings or transcripts', ['account'], 'none'),
  userConsent(choice('privacy.location_precision', 'privacy', 'Location kept at most to the nearest city (P-SET-6)', ['none', 'city'], 'none', ABOVE_MEETING)),
]

export const CATALOG_BY_KEY: ReadonlyMap<string, SettingDefinition> = new Map(CATALOG.map((entry) => [entry.key, entry]))

/** Keys a privacy signal turns off on the user's behalf. */
export const SIGNAL_KEYS = {
  gpc: ['privacy.targeted_ads', 'privacy.data_sharing'],
  dnt: ['privacy.analytics', 'privacy.targeted_ads'],
} as const

/** The most private value of a key, where its order has one end (booleans and enums). */
export function mostPrivateValue(definition: SettingDefinition): unknown {
  const order = definition.privacy
  if (order.kind === 'boolean') return order.private
  if (order.kind === 'enum') return order.mostPrivateFirst[0]
  return undefined
}

/** A number where higher means more private; undefined when the key has no privacy order. */
export function privacyRank(definition: SettingDefinition, value: unknown): number | undefined {
  const order = definition.privacy
  switch (order.kind) {
    case 'boolean':
      return value === order.private ? 1 : 0
    case 'enum':
      return order.mostPrivateFirst.length - order.mostPrivateFirst.indexOf(value as string)
    case 'number':
      return order.morePrivate === 'lower' ? -(value as number) : (value as number)
    case 'none':
      return undefined
  }
}

/** True when `candidate` is at least as private as `floor`. */
export function atLeastAsPrivate(definition: SettingDefinition, candidate: unknown, floor: unknown): boolean {
  const a = privacyRank(definition, candidate)
  const b = privacyRank(definition, floor)
  return a !== undefined && b !== undefined && a >= b
}
