import path from 'node:path'
import { sql } from 'drizzle-orm'
import { type Database, transactionRunner } from '../db/client.js'
import type { Config } from './config.js'
import { type BlobStore, createFileBlobStore } from './lib/blob-store.js'
import { createS3BlobStore } from './lib/s3-blob-store.js'
import { CacheBus } from './lib/cache.js'
import type { Clock } from './lib/clock.js'
import { resolveReceiptKeys } from './lib/receipt-key.js'
import { createAttentionRepository } from './modules/attention/attention.repository.js'
import { createAttentionService, createShareStopper } from './modules/attention/attention.service.js'
import { createMonitoringRepository } from './modules/monitoring/monitoring.repository.js'
import { createMonitoringService } from './modules/monitoring/monitoring.service.js'
import { createConsentsRepository } from './modules/consents/consents.repository.js'
import { createConsentsService } from './modules/consents/consents.service.js'
import { createGateRepository } from './modules/gate/gate.repository.js'
import { createGateService } from './modules/gate/gate.service.js'
import { createNoticesRepository } from './modules/notices/notices.repository.js'
import { createNoticesService } from './modules/notices/notices.service.js'
import { createRecordingsRepository } from './modules/recordings/recordings.repository.js'
import { createRecordingsService } from './modules/recordings/recordings.service.js'
import { createTranscriptsRepository } from './modules/transcripts/transcripts.repository.js'
import { createTranscriptsService } from './modules/transcripts/transcripts.service.js'
import { createAccountsRepository } from './modules/accounts/accounts.repository.js'
import { createAccountsService } from './modules/accounts/accounts.service.js'
import { createAuditRepository } from './modules/audit/audit.repository.js'
import { createAuditChainer } from './modules/audit/audit.chainer.js'
import { createAuditService } from './modules/audit/audit.service.js'
import { createIdempotencyRepository } from './modules/idempotency/idempotency.repository.js'
import { createMeetingsRepository } from './modules/meetings/meetings.repository.js'
import { createMeetingsService } from './modules/meetings/meetings.service.js'
import { createParticipantsService } from './modules/meetings/participants.service.js'
import { createGroupsRepository } from './modules/groups/groups.repository.js'
import { createGroupsService } from './modules/groups/groups.service.js'
import { createUsersRepository } from './modules/users/users.repository.js'
import { createUsersService } from './modules/users/users.service.js'
import { createSettingsRepository } from './modules/settings/settings.repository.js'
import { createSettingsService } from './modules/settings/settings.service.js'
import { createSupportRepository } from './modules/support/support.repository.js'
import { createSupportService } from './modules/support/support.service.js'
import { createJobRunner } from './modules/jobs/jobs.runner.js'
import { createLegalHoldsRepository } from './modules/legal-holds/legal-holds.repository.js'
import { createLegalHoldsService } from './modules/legal-holds/legal-holds.service.js'
import { createRetentionRepository } from './modules/retention/retention.repository.js'
import { createRetentionService } from './modules/retention/retention.service.js'
import { createPrivacyRepository } from './modules/privacy/privacy.repository.js'
import { createPrivacyService, PRIVACY_JOB, PRIVACY_JOB_ATTEMPTS } from './modules/privacy/privacy.service.js'
import { DELIVERY_JOB, EVENTS_CHANNEL } from './modules/events/events.catalog.js'
import { createEventRelay } from './modules/events/events.relay.js'
import { createEventsRepository } from './modules/events/events.repository.js'
import { createWebhooksService, retryInSeconds } from './modules/events/webhooks.service.js'
import { secretBox } from './lib/secret-box.js'

// The composition root: each repository is built once per database (its prepared statements
// with it) and handed to the services that need it.
export type ServicesConfig = Pick<Config, 'joinUrlBase' | 'dataDir' | 'uploadLimit' | 'receiptSigningKey' | 'receiptRetiredKeys'> &
  Partial<Pick<Config, 'purgeIntervalMinutes' | 'webhooks' | 'blobStore' | 'servedRegions'>>

export function createServices(
  database: Database,
  clock: Clock,
  config: ServicesConfig,
  /** Background work that failed: which work (`source`: audit chaining, a job and its attempt, the event relay), and why. */
  onBackgroundError: (error: unknown, source: string) => void = (error) => console.error(error),
) {
  const audit = createAuditRepository(database.db)
  const auditChainer = createAuditChainer(audit, (error) => onBackgroundError(error, 'audit chaining'))
  const cache = new CacheBus()
  // Every transaction drops the cache entries its writes changed and chains the audit events it
  // wrote, before it returns.
  const inTransaction = cache.wrap(auditChainer.wrap(transactionRunner(database.db)))
  const accounts = createAccountsRepository(database.db)
  const users = createUsersRepository(database.db, cache)
  const groups = createGroupsRepository(database.db, cache)
  const settings = createSettingsRepository(database.db, cache)
  const settingsService = createSettingsService({ inTransaction, settings, users, groups, audit, clock })
  const meetings = createMeetingsRepository(database.db, audit, cache)
  const notices = createNoticesRepository(database.db, cache)
  const noticesService = createNoticesService({ inTransaction, notices, audit, clock })
  const consentRecords = createConsentsRepository(database.db, audit)
  const receiptKeys = resolveReceiptKeys(config)
  const consents = createConsentsService({
    inTransaction,
    consents: consentRecords,
    meetings,
    notices,
    noticesService,
    settings: settingsService,
    audit,
    chainAudit: auditChainer.soon,
    clock,
    receiptKeys,
  })
  const supportGrants = createSupportRepository(database.db)
  const support = createSupportService({ inTransaction, support: supportGrants, audit, clock })
  const gate = createGateService({ gate: createGateRepository(database.db), meetings, supportGrants, clock })
  const recordings = createRecordingsRepository(database.db)
  const attention = createAttentionRepository(database.db)
  const blobs: BlobStore = config.blobStore?.kind === 's3' ? createS3BlobStore(config.blobStore) : createFileBlobStore(path.join(config.dataDir, 'blobs'))
  const retention = createRetentionService({ retention: createRetentionRepository(database.db), inTransaction, audit, blobs, receiptKey: receiptKeys.current, clock })
  // The one job runner: background work registers here (its loop is started by the server).
  const jobs = createJobRunner(database.db, { onError: (error, job) => onBackgroundError(error, job ? `job ${job.kind}, attempt ${job.attempts} of ${job.maxAttempts}` : 'job runner') })
  const purgeEvery = (config.purgeIntervalMinutes ?? 0) * 60
  if (purgeEvery > 0) jobs.register('retention.purge', async () => void (await retention.purge()), { leaseSeconds: 1800, everySeconds: purgeEvery })
  const jobsRepository = jobs.repository
  const privacy = createPrivacyService({
    inTransaction,
    privacy: createPrivacyRepository(database.db),
    accounts,
    users,
    meetings,
    settings: settingsService,
    audit,
    blobs,
    clock,
    enqueue: (tx, requestId, accountId) => jobsRepository.enqueue(tx, { kind: PRIVACY_JOB, accountId, payload: { requestId }, maxAttempts: PRIVACY_JOB_ATTEMPTS }),
    receiptOf: consents.receiptOf,
    auditCurrent: auditChainer.current,
  })
  jobs.register(PRIVACY_JOB, (job) => privacy.work(job.accountId!, job.payload.requestId as string), { leaseSeconds: 600 })
  const eventsRepository = createEventsRepository(database.db)
  const webhookConfig = config.webhooks ?? { allowPrivate: false, timeoutMs: 10_000, maxAttempts: 11 }
  const webhooks = createWebhooksService({
    inTransaction,
    events: eventsRepository,
    audit,
    clock,
    box: secretBox([receiptKeys.current, ...[...receiptKeys.byKid.values()].filter((key) => key !== receiptKeys.current)]),
    allowPrivate: webhookConfig.allowPrivate,
    timeoutMs: webhookConfig.timeoutMs,
    enqueueDelivery: (accountId, deliveryId) => jobs.enqueue({ kind: DELIVERY_JOB, accountId, payload: { deliveryId }, maxAttempts: webhookConfig.maxAttempts }),
  })
  jobs.register(DELIVERY_JOB, (job) => webhooks.deliver(job), { leaseSeconds: 120, retryInSeconds, onGiveUp: (job) => webhooks.gaveUp(job) })
  const relay = createEventRelay(eventsRepository, {
    maxAttempts: webhookConfig.maxAttempts,
    // Other processes' streams wake through the database; this process's at once.
    notify: async (cursor) => void (await database.db.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${String(cursor)})`)),
    onStamped: () => jobs.poke(),
    onError: (error) => onBackgroundError(error, 'event relay'),
  })
  return {
    audit: createAuditService(audit, auditChainer, receiptKeys.byKid),
    accounts: createAccountsService({ inTransaction, accounts, audit, clock, servedRegions: config.servedRegions }),
    users: createUsersService({ inTransaction, accounts, users, groups, audit, clock }),
    groups: createGroupsService({ inTransaction, groups, users, audit, clock }),
    settings: settingsService,
    meetings: createMeetingsService({
      inTransaction,
      meetings,
      settings: settingsService,
      audit,
      clock,
      joinUrlBase: config.joinUrlBase,
      onEnd: createShareStopper(attention, settingsService),
    }),
    participants: createParticipantsService({ inTransaction, meetings, users, settings: settingsService, audit, clock, chainAudit: auditChainer.soon, privacy: consents }),
    notices: noticesService,
    consents,
    gate,
    recordings: createRecordingsService({ inTransaction, recordings, accounts, gate, audit, blobs, support, clock, uploadLimit: config.uploadLimit }),
    transcripts: createTranscriptsService({ inTransaction, transcripts: createTranscriptsRepository(database.db), recordings, gate, audit, support, clock }),
    support,
    legalHolds: createLegalHoldsService({ inTransaction, holds: createLegalHoldsRepository(database.db), users, meetings, audit, clock }),
    retention,
    privacy,
    jobs,
    webhooks,
    relay,
    events: eventsRepository,
    attention: createAttentionService({ inTransaction, attention, meetings, users, settings: settingsService, gate, audit, clock }),
    monitoring: createMonitoringService({
      inTransaction,
      monitoring: createMonitoringRepository(database.db),
      consents: consentRecords,
      notices,
      meetings,
      users,
      settings: settingsService,
      audit,
      clock,
    }),
    /** Stops background work (the audit sweep, the job runner's loop). */
    stop: async () => {
      await auditChainer.stop()
      await jobs.stop()
      await relay.stop()
    },
    /** The in-memory lookups; the app keeps them true by listening to the database. */
    cache,
    repositories: { accounts, users, meetings, consents: consentRecords, idempotency: createIdempotencyRepository(database.db) },
    blobs,
  }
}

export type Services = ReturnType<typeof createServices>

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}
