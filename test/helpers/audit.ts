import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { auditEntries } from '../../db/schema/index.js'
import { type AuditEntryRow, CHAIN_BATCH, createAuditRepository } from '../../src/modules/audit/audit.repository.js'

/**
 * The account's audit trail once every committed event is in it. The hot writes (joins, consents)
 * answer before their events are chained; this chains what is pending, as the sweep or any reader
 * of the trail would, then reads the entries in chain order.
 */
export async function chainedTrail(db: Db, accountId: string): Promise<AuditEntryRow[]> {
  const audit = createAuditRepository(db)
  while ((await audit.chain(accountId)) === CHAIN_BATCH) {
    // a full batch: there may be more
  }
  return db.select().from(auditEntries).where(eq(auditEntries.accountId, accountId)).orderBy(asc(auditEntries.seq))
}
