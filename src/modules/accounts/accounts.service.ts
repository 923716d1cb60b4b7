import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole, requireRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, NotFoundError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { type AuditActor, type AuditRepository, auditActor, changedFields } from '../audit/audit.repository.js'
import type { AccountRow, AccountsRepository } from './accounts.repository.js'
import type { CreateAccount, UpdateAccount } from './accounts.schemas.js'

export function toAccount(row: AccountRow) {
  return {
    id: row.id,
    name: row.name,
    dataRegion: row.dataRegion,
    minorAgeThreshold: row.minorAgeThreshold,
    requestDeadlineDays: row.requestDeadlineDays,
    requestDeadlineBusinessDays: row.requestDeadlineBusinessDays,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

interface Deps {
  inTransaction: InTransaction
  accounts: AccountsRepository
  audit: AuditRepository
  clock: Clock
  /** The data regions this deployment's database holds (P-RES-1); undefined: all. */
  servedRegions?: string[] | undefined
}

export function createAccountsService({ inTransaction, accounts, audit, clock, servedRegions }: Deps) {
  async function create(actor: AuditActor, input: CreateAccount) {
    // Rows follow the bytes' rule: an account of another region belongs to that region's deployment.
    if (servedRegions && !servedRegions.includes(input.dataRegion)) {
      throw new ConflictError('region_not_served', `This deployment holds accounts of ${servedRegions.join(', ')}; an account in ${input.dataRegion} is created by that region's deployment`)
    }
    const now = clock.now()
    const row = await inTransaction(async (tx) => {
      const account = await accounts.insert(tx, { id: newId(now.getTime()), ...input, createdAt: now, updatedAt: now })
      await audit.startChain(tx, account.id)
      await audit.append(tx, account.id, {
        actor,
        action: 'account.created',
        targetType: 'account',
        targetId: account.id,
        details: { fields: Object.keys(input) },
      }, now)
      return account
    })
    return toAccount(row)
  }

  return {
    /** Used by the platform's POST and by the embedded demo bootstrap. */
    createAs: create,

    async create(principal: Principal, input: CreateAccount) {
      requireRole(principal, ['platform'])
      return create(auditActor(principal), input)
    },

    async get(principal: Principal, accountId: string) {
      requireAccountRole(principal, accountId, ['platform', 'admin'])
      const row = await accounts.findById(accountId)
      if (!row) throw new NotFoundError('Account')
      return toAccount(row)
    },

    async update(principal: Principal, accountId: string, input: UpdateAccount) {
      requireAccountRole(principal, accountId, ['platform', 'admin'])
      const now = clock.now()
      const row = await inTransaction(async (tx) => {
        const before = await accounts.findById(accountId, tx)
        if (!before) throw new NotFoundError('Account')
        if (input.dataRegion !== undefined && input.dataRegion !== before.dataRegion) {
          throw new ConflictError(
            'data_region_immutable',
            'An account is not moved to another data region by an API call (P-RES-1)',
            [{ pointer: '/body/dataRegion', detail: 'differs from the account\'s region' }],
          )
        }
        const fields = changedFields(before, input)
        if (fields.length === 0) return before
        const updated = await accounts.update(tx, accountId, { ...input, updatedAt: now })
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'account.updated',
          targetType: 'account',
          targetId: accountId,
          details: { fields },
        }, now)
        return updated!
      })
      return toAccount(row)
    },
  }
}

export type AccountsService = ReturnType<typeof createAccountsService>
