import { createHash } from 'node:crypto'
import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, isUniqueViolation, NotFoundError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { NoticeKind, NoticesRepository, NoticeVersionRow, NoticeWithVersion } from './notices.repository.js'
import { canonicalLocale, type CreateNotice, type MeetingNotice, type PublishVersion } from './notices.schemas.js'

export const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex')

const toVersion = (v: NoticeVersionRow) => ({
  id: v.id,
  version: v.version,
  sha256: v.sha256,
  requiresReconsent: v.requiresReconsent,
  publishedAt: v.publishedAt.toISOString(),
})

const toNotice = ({ notice, version }: NoticeWithVersion) => ({
  id: notice.id,
  accountId: notice.accountId,
  kind: notice.kind,
  locale: notice.locale,
  title: version.title,
  createdAt: notice.createdAt.toISOString(),
  currentVersion: toVersion(version),
})

export const toMeetingNotice = ({ notice, version }: NoticeWithVersion): MeetingNotice => ({
  noticeId: notice.id,
  kind: notice.kind,
  locale: notice.locale,
  title: version.title,
  text: version.text,
  versionId: version.id,
  version: version.version,
  sha256: version.sha256,
  requiresReconsent: version.requiresReconsent,
  publishedAt: version.publishedAt.toISOString(),
})

/**
 * One notice per kind in the participant's language: the exact locale, else its base language,
 * else English, else the oldest notice of that kind.
 */
export function pickPerKind(candidates: NoticeWithVersion[], requested: string | undefined): NoticeWithVersion[] {
  const locale = requested === undefined ? undefined : canonicalLocale(requested)
  const byKind = new Map<NoticeKind, NoticeWithVersion[]>()
  for (const c of candidates) byKind.set(c.notice.kind, [...(byKind.get(c.notice.kind) ?? []), c])
  const base = locale?.split('-')[0]
  const picked: NoticeWithVersion[] = []
  for (const list of byKind.values()) {
    const oldestFirst = [...list].sort((a, b) => (a.notice.id < b.notice.id ? -1 : 1))
    picked.push(
      oldestFirst.find((c) => c.notice.locale === locale) ??
        oldestFirst.find((c) => c.notice.locale === base) ??
        oldestFirst.find((c) => c.notice.locale.split('-')[0] === base) ??
        oldestFirst.find((c) => c.notice.locale === 'en') ??
        oldestFirst[0]!,
    )
  }
  return picked.sort((a, b) => a.notice.kind.localeCompare(b.notice.kind))
}

/** The kinds a meeting's participants must be told about, from its effective settings. */
export function meetingNoticeKinds(value: (key: string) => unknown): NoticeKind[] {
  const kinds: NoticeKind[] = ['privacy_policy']
  if (value('recording.cloud.enabled') === true || value('recording.local.enabled') === true) kinds.push('recording')
  if (value('transcript.enabled') === true) kinds.push('transcript')
  if (value('attention_tracking.allowed') === true && value('attention_tracking.enabled') === true) kinds.push('attention_tracking')
  return kinds
}

interface Deps {
  inTransaction: InTransaction
  notices: NoticesRepository
  audit: AuditRepository
  clock: Clock
}

export function createNoticesService({ inTransaction, notices, audit, clock }: Deps) {
  return {
    async create(principal: Principal, accountId: string, input: CreateNotice) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const locale = canonicalLocale(input.locale)
      try {
        return toNotice(
          await inTransaction(async (tx) => {
            const notice = await notices.insertNotice(tx, {
              accountId,
              id: newId(now.getTime()),
              kind: input.kind,
              locale,
              createdBy: principal.subject,
              createdAt: now,
            })
            const version = await notices.insertVersion(tx, {
              accountId,
              id: newId(now.getTime()),
              noticeId: notice.id,
              kind: notice.kind,
              version: 1,
              title: input.title,
              text: input.text,
              sha256: sha256Hex(input.text),
              requiresReconsent: input.requiresReconsent ?? false,
              publishedBy: principal.subject,
              publishedAt: now,
            })
            await audit.append(tx, accountId, {
              actor: auditActor(principal),
              action: 'notice.published',
              targetType: 'notice',
              targetId: notice.id,
              details: { kind: notice.kind, locale: notice.locale, version: 1, sha256: version.sha256 },
            }, now)
            return { notice, version }
          }),
        )
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ConflictError('notice_exists', `A ${input.kind} notice in ${locale} exists; publish a new version of it instead`)
        }
        throw error
      }
    },

    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined; kind?: NoticeKind | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      const rows = await notices.page(accountId, { afterId: decodeCursor(query.cursor), kind: query.kind, limit: query.limit + 1 })
      return toPage(rows, query.limit, (row) => row.notice.id, toNotice)
    },

    /**
     * A new immutable version; the same text and title again are refused, a change of either gets
     * the next number (a new title alone is a new version, so the earlier ones keep what they showed).
     */
    async publish(principal: Principal, accountId: string, noticeId: string, input: PublishVersion) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      return toNotice(
        await inTransaction(async (tx) => {
          const notice = await notices.lockNotice(tx, accountId, noticeId)
          if (!notice) throw new NotFoundError('Notice')
          const latest = (await notices.latestVersion(accountId, noticeId, tx))!
          const sha256 = sha256Hex(input.text)
          const title = input.title ?? latest.title
          if (sha256 === latest.sha256 && title === latest.title) {
            throw new ConflictError('notice_unchanged', `Version ${latest.version} already has this text and title`)
          }
          const version = await notices.insertVersion(tx, {
            accountId,
            id: newId(now.getTime()),
            noticeId,
            kind: notice.kind,
            version: latest.version + 1,
            title,
            text: input.text,
            sha256,
            requiresReconsent: input.requiresReconsent ?? false,
            publishedBy: principal.subject,
            publishedAt: now,
          })
          await audit.append(tx, accountId, {
            actor: auditActor(principal),
            action: 'notice.published',
            targetType: 'notice',
            targetId: noticeId,
            details: {
              kind: notice.kind,
              locale: notice.locale,
              version: version.version,
              sha256,
              requiresReconsent: version.requiresReconsent,
              ...(title !== latest.title ? { title } : {}),
            },
          }, now)
          return { notice, version }
        }),
      )
    },

    /** The current version of each applicable kind, in the participant's language. */
    async currentFor(accountId: string, kinds: NoticeKind[], locale: string | undefined): Promise<MeetingNotice[]> {
      return pickPerKind(await notices.current(accountId, kinds), locale).map(toMeetingNotice)
    },
  }
}

export type NoticesService = ReturnType<typeof createNoticesService>
