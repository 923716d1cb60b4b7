import type { Services } from '../../services.js'
import { SYSTEM_ACTOR } from '../audit/audit.repository.js'

/**
 * A newcomer's first minute on the embedded database: with no account yet, create a demo account
 * and its admin, so the token printed at start answers at once. Later starts reuse them.
 */
export async function ensureDemoAdmin(services: Services): Promise<{ accountId: string; userId: string } | undefined> {
  let account = await services.repositories.accounts.oldest()
  if (!account) {
    const created = await services.accounts.createAs(SYSTEM_ACTOR, { name: 'Demo account', dataRegion: 'eu' })
    await services.users.createAs(SYSTEM_ACTOR, created.id, {
      email: 'admin@demo.invalid',
      displayName: 'Demo admin',
      roles: ['admin', 'member'],
    })
    account = await services.repositories.accounts.oldest()
  }
  const admin = account && (await services.repositories.users.firstAdmin(account.id))
  return admin ? { accountId: admin.accountId, userId: admin.id } : undefined
}
