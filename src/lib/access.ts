import { ForbiddenError, NotFoundError } from './errors.js'

// Who may do what, in one place. Every service method starts with one of these calls.

export const ROLES = ['platform', 'admin', 'member', 'recorder'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  /** The token's `sub`: a user id, or the operator's own id for `platform` tokens. */
  subject: string
  accountId: string
  roles: readonly Role[]
}

/**
 * The caller must belong to `accountId` (another account's resources answer 404, as if they did
 * not exist) and hold one of `roles`. `platform` reaches any account, but only where a route
 * lists it: the operator acts on the customer's instructions, not on its data (P-GOV-1).
 */
export function requireAccountRole(principal: Principal, accountId: string, roles: readonly Role[]): void {
  if (roles.includes('platform') && principal.roles.includes('platform')) return
  if (principal.accountId !== accountId) throw new NotFoundError('Account')
  if (!principal.roles.some((role) => roles.includes(role))) throw new ForbiddenError()
}

export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (!principal.roles.some((role) => roles.includes(role))) throw new ForbiddenError()
}
