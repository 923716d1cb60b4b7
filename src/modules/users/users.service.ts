import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, isUniqueViolation, NotFoundError } from '../../lib/errors.js'
import { isUuid, newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import type { AccountsRepository } from '../accounts/accounts.repository.js'
import { type AuditActor, type AuditRepository, auditActor, changedFields } from '../audit/audit.repository.js'
import type { GroupsRepository } from '../groups/groups.repository.js'
import type { NewUserRow, UserWithThreshold, UsersRepository } from './users.repository.js'
import type { CreateUser, ListUsersQuery, UpdateUser } from './users.schemas.js'

export function ageOn(birthDate: string, at: Date): number {
  const [year, month, day] = birthDate.split('-').map(Number) as [number, number, number]
  let age = at.getUTCFullYear() - year
  if (at.getUTCMonth() + 1 < month || (at.getUTCMonth() + 1 === month && at.getUTCDate() < day)) age--
  return age
}

/** A verified flag, or a birth date under the account's threshold, makes a minor (P-MIN-1). */
export function isMinor(user: Pick<UserWithThreshold, 'isMinor' | 'birthDate' | 'minorAgeThreshold'>, at: Date): boolean {
  return user.isMinor || (user.birthDate !== null && ageOn(user.birthDate, at) < user.minorAgeThreshold)
}

export function toUser(row: UserWithThreshold, now: Date) {
  return {
    id: row.id,
    accountId: row.accountId,
    email: row.email,
    displayName: row.displayName,
    pictureUrl: row.pictureUrl,
    roles: row.roles as ('admin' | 'member' | 'recorder')[],
    birthDate: row.birthDate,
    isMinor: isMinor(row, now),
    guardianConsent:
      row.guardianConsentBy && row.guardianConsentAt
        ? { by: row.guardianConsentBy, at: row.guardianConsentAt.toISOString() }
        : null,
    status: row.status,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}


const emailTaken = () =>
  new ConflictError('email_taken', 'Another user of this account has this email', [
    { pointer: '/body/email', detail: 'already used in this account' },
  ])

interface Deps {
  inTransaction: InTransaction
  accounts: AccountsRepository
  users: UsersRepository
  groups: GroupsRepository
  audit: AuditRepository
  clock: Clock
}

export function createUsersService({ inTransaction, accounts, users, groups, audit, clock }: Deps) {
  async function create(actor: AuditActor, accountId: string, input: CreateUser) {
    const now = clock.now()
    const id = newId(now.getTime())
    try {
      return await inTransaction(async (tx) => {
        if (!(await accounts.findById(accountId, tx))) throw new NotFoundError('Account')
        await users.insert(tx, {
          accountId,
          id,
          email: input.email.toLowerCase(),
          displayName: input.displayName,
          pictureUrl: input.pictureUrl ?? null,
          roles: [...new Set(input.roles)],
          isMinor: input.isMinor ?? false,
          birthDate: input.birthDate ?? null,
          createdAt: now,
          updatedAt: now,
        })
        await audit.append(tx, accountId, {
          actor,
          action: 'user.created',
          targetType: 'user',
          targetId: id,
          details: { fields: Object.keys(input), roles: [...new Set(input.roles)] },
        }, now)
        return toUser((await users.findById(accountId, id, tx))!, now)
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw emailTaken()
      throw error
    }
  }

  return {
    /** Used by the admin's POST and by the embedded demo bootstrap. */
    createAs: create,

    async create(principal: Principal, accountId: string, input: CreateUser) {
      requireAccountRole(principal, accountId, ['platform', 'admin'])
      return create(auditActor(principal), accountId, input)
    },

    async list(principal: Principal, accountId: string, query: ListUsersQuery) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      const rows = await users.page(accountId, {
        afterId: decodeCursor(query.cursor),
        limit: query.limit + 1,
        status: query.status,
      })
      return toPage(rows, query.limit, (row) => row.id, (row) => toUser(row, now))
    },

    async get(principal: Principal, accountId: string, userId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const row = await users.findById(accountId, userId)
      if (!row) throw new NotFoundError('User')
      return toUser(row, clock.now())
    },

    /** The caller's own user; a cancelled user no longer exists for the API. */
    async me(principal: Principal) {
      // A platform token's subject is the operator, not a user of the account.
      const row = isUuid(principal.subject) ? await users.findById(principal.accountId, principal.subject) : undefined
      if (!row || row.status === 'cancelled') throw new NotFoundError('User')
      return toUser(row, clock.now())
    },

    async update(principal: Principal, accountId: string, userId: string, input: UpdateUser) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      try {
        return await inTransaction(async (tx) => {
          const before = await users.findById(accountId, userId, tx)
          if (!before || before.status === 'cancelled') throw new NotFoundError('User')
          const { guardianConsent, ...plain } = input
          const changes: Partial<NewUserRow> = {
            ...plain,
            ...(plain.email !== undefined ? { email: plain.email.toLowerCase() } : {}),
            ...(plain.roles !== undefined ? { roles: [...new Set(plain.roles)] } : {}),
          }
          if (guardianConsent === null) Object.assign(changes, { guardianConsentBy: null, guardianConsentAt: null })
          if (guardianConsent) Object.assign(changes, { guardianConsentBy: guardianConsent.by, guardianConsentAt: now })
          const fields = changedFields(before, changes)
          if (fields.length > 0) {
            await users.update(tx, accountId, userId, { ...changes, updatedAt: now })
            await audit.append(tx, accountId, {
              actor: auditActor(principal),
              action: 'user.updated',
              targetType: 'user',
              targetId: userId,
              details: { fields, ...(changes.roles ? { roles: changes.roles } : {}), ...(changes.status ? { status: changes.status } : {}) },
            }, now)
          }
          return toUser((await users.findById(accountId, userId, tx))!, now)
        })
      } catch (error) {
        if (isUniqueViolation(error)) throw emailTaken()
        throw error
      }
    },

    /**
     * Cancels a user: the row stays (consents and audit entries keep pointing at it) but every
     * personal field is replaced, and the user leaves all groups (P-DSR-5).
     */
    async cancel(principal: Principal, accountId: string, userId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      await inTransaction(async (tx) => {
        const before = await users.findById(accountId, userId, tx)
        if (!before) throw new NotFoundError('User')
        if (before.status === 'cancelled') return
        await users.update(tx, accountId, userId, {
          email: `${userId}@cancelled.invalid`,
          displayName: 'Cancelled user',
          pictureUrl: null,
          birthDate: null,
          guardianConsentBy: null,
          guardianConsentAt: null,
          status: 'cancelled',
          updatedAt: now,
        })
        const groupsLeft = await groups.removeUserFromAll(tx, accountId, userId)
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'user.cancelled',
          targetType: 'user',
          targetId: userId,
          details: { anonymised: ['email', 'displayName', 'pictureUrl', 'birthDate', 'guardianConsent'], groupsLeft },
        }, now)
      })
    },
  }
}

export type UsersService = ReturnType<typeof createUsersService>
