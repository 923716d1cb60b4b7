import type { InTransaction } from '../../../db/client.js'
import { type Principal, requireAccountRole } from '../../lib/access.js'
import type { Clock } from '../../lib/clock.js'
import { ConflictError, isUniqueViolation, NotFoundError } from '../../lib/errors.js'
import { newId } from '../../lib/ids.js'
import { decodeCursor, toPage } from '../../lib/pagination.js'
import { type AuditRepository, auditActor } from '../audit/audit.repository.js'
import type { UsersRepository } from '../users/users.repository.js'
import type { GroupMemberRow, GroupRow, GroupsRepository } from './groups.repository.js'
import type { CreateGroup } from './groups.schemas.js'

export function toGroup(row: GroupRow) {
  return {
    id: row.id,
    accountId: row.accountId,
    name: row.name,
    rank: row.rank,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

const toMember = (row: GroupMemberRow) => ({ userId: row.userId, addedAt: row.addedAt.toISOString() })

interface Deps {
  inTransaction: InTransaction
  groups: GroupsRepository
  users: UsersRepository
  audit: AuditRepository
  clock: Clock
}

export function createGroupsService({ inTransaction, groups, users, audit, clock }: Deps) {
  return {
    async create(principal: Principal, accountId: string, input: CreateGroup) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      try {
        const row = await inTransaction(async (tx) => {
          const group = await groups.insert(tx, {
            accountId,
            id: newId(now.getTime()),
            name: input.name,
            rank: input.rank ?? 0,
            createdAt: now,
            updatedAt: now,
          })
          await audit.append(tx, accountId, {
            actor: auditActor(principal),
            action: 'group.created',
            targetType: 'group',
            targetId: group.id,
            details: { rank: group.rank },
          }, now)
          return group
        })
        return toGroup(row)
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new ConflictError('group_name_taken', 'The account already has a group with this name', [
            { pointer: '/body/name', detail: 'already used in this account' },
          ])
        }
        throw error
      }
    },

    async list(principal: Principal, accountId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      const rows = await groups.page(accountId, decodeCursor(query.cursor), query.limit + 1)
      return toPage(rows, query.limit, (row) => row.id, toGroup)
    },

    async members(principal: Principal, accountId: string, groupId: string, query: { limit: number; cursor?: string | undefined }) {
      requireAccountRole(principal, accountId, ['admin'])
      if (!(await groups.findById(accountId, groupId))) throw new NotFoundError('Group')
      const rows = await groups.members(accountId, groupId, decodeCursor(query.cursor), query.limit + 1)
      return toPage(rows, query.limit, (row) => row.userId, toMember)
    },

    /** Idempotent: adding a member twice changes nothing and writes one audit entry. */
    async addMember(principal: Principal, accountId: string, groupId: string, userId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      await inTransaction(async (tx) => {
        if (!(await groups.findById(accountId, groupId, tx))) throw new NotFoundError('Group')
        const user = await users.findById(accountId, userId, tx)
        if (!user || user.status === 'cancelled') throw new NotFoundError('User')
        if (await groups.addMember(tx, { accountId, groupId, userId, addedAt: now })) {
          await audit.append(tx, accountId, {
            actor: auditActor(principal),
            action: 'group.member_added',
            targetType: 'group',
            targetId: groupId,
            details: { userId },
          }, now)
        }
      })
    },

    async removeMember(principal: Principal, accountId: string, groupId: string, userId: string) {
      requireAccountRole(principal, accountId, ['admin'])
      const now = clock.now()
      await inTransaction(async (tx) => {
        if (!(await groups.removeMember(tx, accountId, groupId, userId))) throw new NotFoundError('Group membership')
        await audit.append(tx, accountId, {
          actor: auditActor(principal),
          action: 'group.member_removed',
          targetType: 'group',
          targetId: groupId,
          details: { userId },
        }, now)
      })
    },
  }
}

export type GroupsService = ReturnType<typeof createGroupsService>
