import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { auditEntries } from '../../db/schema/index.js'
import { type AuditEntryRow, createAuditRepository } from '../../src/modules/audit/audit.repository.js'
import { testDatabase } from './app.js'

/**
 * The account's audit trail once every committed event is in it, in chain order. The hot writes
 * (joins, consents) answer before their events are chained; this chains what is pending, as the
 * sweep or any reader of the trail would, then reads the entries.
 */
export async function chainedTrail(db: Db, accountId: string): Promise<AuditEntryRow[]> {
  await createAuditRepository(db).chainAll(accountId)
  return db.select().from(auditEntries).where(eq(auditEntries.accountId, accountId)).orderBy(asc(auditEntries.seq))
}

/** The chained trail of the test database's account, only the entries of `action` when given. */
export async function auditRows(accountId: string, action?: string): Promise<AuditEntryRow[]> {
  const rows = await chainedTrail((await testDatabase()).db, accountId)
  return action === undefined ? rows : rows.filter((row) => row.action === action)
}
