import { type Database, transactionRunner } from '../db/client.js'
import type { Clock } from './lib/clock.js'
import { createAccountsRepository } from './modules/accounts/accounts.repository.js'
import { createAccountsService } from './modules/accounts/accounts.service.js'
import { createAuditRepository } from './modules/audit/audit.repository.js'
import { createAuditService } from './modules/audit/audit.service.js'
import { createIdempotencyRepository } from './modules/idempotency/idempotency.repository.js'
import { createMeetingsRepository } from './modules/meetings/meetings.repository.js'
import { createMeetingsService } from './modules/meetings/meetings.service.js'
import { createGroupsRepository } from './modules/groups/groups.repository.js'
import { createGroupsService } from './modules/groups/groups.service.js'
import { createUsersRepository } from './modules/users/users.repository.js'
import { createUsersService } from './modules/users/users.service.js'
import { createSettingsRepository } from './modules/settings/settings.repository.js'
import { createSettingsService } from './modules/settings/settings.service.js'

// The composition root: each repository is built once per database (its prepared statements
// with it) and handed to the services that need it.
export function createServices(database: Database, clock: Clock, options: { joinUrlBase: string }) {
  const inTransaction = transactionRunner(database.db)
  const audit = createAuditRepository(database.db)
  const accounts = createAccountsRepository(database.db)
  const users = createUsersRepository(database.db)
  const groups = createGroupsRepository(database.db)
  const settings = createSettingsRepository(database.db)
  const settingsService = createSettingsService({ inTransaction, settings, users, groups, audit, clock })
  const meetings = createMeetingsRepository(database.db)
  return {
    audit: createAuditService(audit),
    accounts: createAccountsService({ inTransaction, accounts, audit, clock }),
    users: createUsersService({ inTransaction, accounts, users, groups, audit, clock }),
    groups: createGroupsService({ inTransaction, groups, users, audit, clock }),
    settings: settingsService,
    meetings: createMeetingsService({ inTransaction, meetings, users, settings: settingsService, audit, clock, joinUrlBase: options.joinUrlBase }),
    repositories: { accounts, users, idempotency: createIdempotencyRepository(database.db) },
  }
}

export type Services = ReturnType<typeof createServices>

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}
