import { z } from 'zod'
import { NOTICE_KINDS } from '../../../db/schema/index.js'
import { PageQuerySchema, pageSchema } from '../../lib/pagination.js'
import { safeText } from '../../lib/text.js'

// BCP 47 tags compare case-insensitively: every tag is stored and matched in its canonical form
// (de-ch → de-CH, see canonicalLocale), so one notice per kind and locale holds and a lookup finds it.
export const Locale = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a BCP 47 tag such as en or de-CH')
  .max(35)
  .refine((tag) => {
    try {
      return Intl.getCanonicalLocales(tag).length === 1
    } catch {
      return false
    }
  }, 'not a well-formed BCP 47 tag')

/** The canonical form of a tag the Locale schema accepted. */
export const canonicalLocale = (tag: string) => Intl.getCanonicalLocales(tag)[0]!

const NoticeText = safeText(100_000, 'The full text shown to participants; its sha-256 goes into every receipt')

export const NoticeParamsSchema = z.strictObject({ accountId: z.uuid(), noticeId: z.uuid() })

export const CreateNoticeSchema = z
  .strictObject({
    kind: z.enum(NOTICE_KINDS),
    locale: Locale,
    title: safeText(300),
    text: NoticeText,
    requiresReconsent: z.boolean().optional().describe('Meaningful from version 2 on'),
  })
  .meta({
    id: 'CreateNotice',
    examples: [
      {
        kind: 'recording',
        locale: 'en',
        title: 'This meeting may be recorded',
        text: 'The host may record this meeting. Recordings are kept for 30 days and are shared only with the participants.',
      },
    ],
  })

export const PublishVersionSchema = z
  .strictObject({
    title: safeText(300).optional().describe("The notice's title from this version on; without it the current title is kept"),
    text: NoticeText,
    requiresReconsent: z.boolean().optional().describe('true: consent given to earlier versions stops counting once this one is published (P-GOV-3)'),
  })
  .meta({ id: 'PublishNoticeVersion' })

export const NoticeVersionSchema = z
  .object({
    id: z.uuid(),
    version: z.number().int().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    requiresReconsent: z.boolean(),
    publishedAt: z.iso.datetime(),
  })
  .meta({ id: 'NoticeVersion' })

export const NoticeSchema = z
  .object({
    id: z.uuid(),
    accountId: z.uuid(),
    kind: z.enum(NOTICE_KINDS),
    locale: z.string(),
    title: z.string(),
    createdAt: z.iso.datetime(),
    currentVersion: NoticeVersionSchema,
  })
  .meta({ id: 'Notice' })

export const NoticePageSchema = pageSchema(NoticeSchema).meta({ id: 'NoticePage' })

export const ListNoticesQuerySchema = PageQuerySchema.extend({ kind: z.enum(NOTICE_KINDS).optional() })

/** What a participant is shown: the current version of each kind that applies to the meeting. */
export const MeetingNoticeSchema = z
  .object({
    noticeId: z.uuid(),
    kind: z.enum(NOTICE_KINDS),
    locale: z.string(),
    title: z.string(),
    text: z.string(),
    versionId: z.uuid().describe('Pass as noticeVersionId when answering it'),
    version: z.number().int().min(1),
    sha256: z.string(),
    requiresReconsent: z.boolean(),
    publishedAt: z.iso.datetime(),
  })
  .meta({ id: 'MeetingNotice' })

export const MeetingNoticesQuerySchema = z.strictObject({
  locale: Locale.optional().describe("The participant's language; falls back to its base language, then en, then the oldest notice"),
})

export const MeetingNoticeListSchema = z.object({ items: z.array(MeetingNoticeSchema) }).meta({ id: 'MeetingNoticeList' })

export type CreateNotice = z.infer<typeof CreateNoticeSchema>
export type PublishVersion = z.infer<typeof PublishVersionSchema>
export type MeetingNotice = z.infer<typeof MeetingNoticeSchema>
