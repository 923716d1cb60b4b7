import type { InTransaction } from '../../../db/client.js'
import type { BlobStore } from '../../lib/blob-store.js'
import type { Clock } from '../../lib/clock.js'
import type { ReceiptKey } from '../../lib/receipt-key.js'
import { signCheckpoint } from '../audit/audit.chain.js'
import { type AuditRepository, SYSTEM_ACTOR } from '../audit/audit.repository.js'
import type { DataCategory } from './retention.catalog.js'
import type { PickedRow, RetentionRepository, SweptCategory, WithheldRow } from './retention.repository.js'

const DAY_MS = 86_400_000
const DEFAULT_BATCH = 500
const SWEPT_ORDER: SweptCategory[] = ['recordings', 'transcripts', 'attention_spans', 'media_diagnostics', 'idempotent_answers', 'export_documents', 'events', 'webhook_deliveries', 'finished_jobs']
/** A blob no row points at is collected only once older than this: an upload is renamed into place just before its row commits. */
const ORPHAN_GRACE_MS = 3_600_000

export interface PurgeLine {
  accountId: string | null
  category: DataCategory
  purged: number
  withheld: number
  holdIds: string[]
  /** Dry runs: the ids that would go (recordings and transcripts). */
  ids?: string[]
}

export interface PurgeOptions {
  /** The instant the periods are measured to; the clock's now by default. */
  asOf?: Date
  /** Report, change nothing. */
  dryRun?: boolean
  /** Only these accounts (tests on a shared database; an operator purging one tenant). */
  accountIds?: string[]
  /** Rows per transaction (default DEFAULT_BATCH). */
  batchSize?: number
  /** Called after each committed batch (a test stops a run there, as a crash would). */
  afterBatch?: () => unknown
}

export interface PurgeReport {
  asOf: string
  dryRun: boolean
  lines: PurgeLine[]
  orphanBlobsRemoved: number
}

interface Deps {
  retention: RetentionRepository
  inTransaction: InTransaction
  audit: AuditRepository
  blobs: BlobStore
  receiptKey: ReceiptKey
  clock: Clock
}

/**
 * The purge (P-RET-1…3, P-REC-5): deletes what is past its period, category by category, in
 * batches (no transaction holds its locks for long), skipping what a legal hold covers. Each batch
 * commits with one audit entry per account it touched, saying how much of which category went
 * (never what); a run that stops half-way lost nothing it should keep, and the next run finishes.
 * Several runs at once share the work (SKIP LOCKED): none counts a row twice.
 */
export function createRetentionService({ retention, inTransaction, audit, blobs, receiptKey, clock }: Deps) {
  type Lines = Map<string, PurgeLine>
  const lineOf = (lines: Lines, accountId: string | null, category: DataCategory) => {
    const id = `${accountId}:${category}`
    let line = lines.get(id)
    if (!line) {
      line = { accountId, category, purged: 0, withheld: 0, holdIds: [] }
      lines.set(id, line)
    }
    return line
  }
  const addWithheld = (lines: Lines, category: DataCategory, rows: WithheldRow[]) => {
    for (const row of rows) {
      const line = lineOf(lines, row.account_id, category)
      line.withheld += Number(row.n)
      if (!line.holdIds.includes(row.hold_id)) line.holdIds.push(row.hold_id)
    }
  }

  /** One audit entry per account the batch touched: the deletion record commits with the deletions. */
  async function recordBatch(tx: Parameters<Parameters<InTransaction>[0]>[0], category: DataCategory, rows: PickedRow[], asOf: Date) {
    const counts = new Map<string, number>()
    for (const row of rows) if (row.account_id) counts.set(row.account_id, (counts.get(row.account_id) ?? 0) + 1)
    for (const [accountId, count] of counts) {
      await audit.append(tx, accountId, { actor: SYSTEM_ACTOR, action: 'retention.purged', targetType: 'account', targetId: accountId, details: { category, count, asOf: asOf.toISOString() } }, clock.now())
    }
  }

  async function sweepCategory(category: SweptCategory, asOf: Date, lines: Lines, options: PurgeOptions) {
    const batchSize = options.batchSize ?? DEFAULT_BATCH
    for (;;) {
      const picked = await inTransaction(async (tx) => {
        const rows = await retention.sweep(tx, category, asOf, batchSize, options.accountIds)
        await recordBatch(tx, category, rows, asOf)
        return rows
      })
      for (const row of picked) lineOf(lines, row.account_id, category).purged++
      // Rows first, then bytes: a crash between the two leaves a blob no row points at, which
      // the orphan sweep below collects on this run or the next.
      for (const row of picked) if (row.storage_key) await blobs.remove(row.storage_key)
      options.afterBatch?.()
      if (picked.length < batchSize) return
    }
  }

  async function purgeEvidence(accountId: string, cutoff: Date, asOf: Date, lines: Lines, { batchSize = DEFAULT_BATCH, afterBatch }: PurgeOptions) {
    for (;;) {
      const picked = await inTransaction(async (tx) => {
        await retention.allowPurgeBefore(tx, cutoff)
        const rows = await retention.sweepEvidence(tx, accountId, cutoff, asOf, batchSize)
        await recordBatch(tx, 'consent_evidence', rows, asOf)
        return rows
      })
      lineOf(lines, accountId, 'consent_evidence').purged += picked.length
      afterBatch?.()
      if (picked.length < batchSize) return
    }
  }

  /** Cuts the account's trail from its start, batch by batch, each behind a new signed checkpoint. */
  async function purgeAudit(accountId: string, cutoff: Date, asOf: Date, lines: Lines, { batchSize = DEFAULT_BATCH, afterBatch }: PurgeOptions) {
    for (;;) {
      const removed = await inTransaction(async (tx) => {
        // One purge per trail at a time; another process's run takes this account.
        if (!(await retention.lockAuditHead(tx, accountId))) return 0
        const range = await retention.auditCut(accountId, cutoff, asOf, tx)
        if (!range) return 0
        const upTo = Math.min(range.cut, range.first + batchSize - 1)
        const last = (await retention.auditEntryAt(tx, accountId, upTo))!
        await retention.saveCheckpoint(tx, signCheckpoint(receiptKey, { accountId, seq: upTo, hash: last.hash, at: last.at }))
        await retention.allowPurgeBefore(tx, cutoff)
        const count = await retention.deleteAuditUpTo(tx, accountId, upTo)
        await audit.append(tx, accountId, { actor: SYSTEM_ACTOR, action: 'retention.purged', targetType: 'account', targetId: accountId, details: { category: 'audit_trail', count, asOf: asOf.toISOString(), checkpointSeq: upTo } }, clock.now())
        return count
      })
      lineOf(lines, accountId, 'audit_trail').purged += removed
      afterBatch?.()
      if (removed < batchSize) return
    }
  }

  async function collectOrphans(now: Date, accountIds: string[] | undefined): Promise<number> {
    let removed = accountIds ? 0 : await blobs.sweepIncoming(new Date(now.getTime() - DAY_MS))
    let batch: string[] = []
    const flush = async () => {
      const referenced = await retention.referencedKeys(batch)
      for (const key of batch) {
        if (!referenced.has(key)) {
          await blobs.remove(key)
          removed++
        }
      }
      batch = []
    }
    for await (const blob of blobs.list()) {
      if (now.getTime() - blob.modifiedAt.getTime() < ORPHAN_GRACE_MS) continue
      if (accountIds && !accountIds.includes(blob.accountId)) continue
      batch.push(blob.key)
      if (batch.length >= 200) await flush()
    }
    await flush()
    return removed
  }

  return {
    /**
     * One pass at `asOf` (the clock's now by default). A dry run reports what would go and what a
     * hold keeps, per account and category, and changes nothing.
     */
    async purge(options: PurgeOptions = {}): Promise<PurgeReport> {
      const asOf = options.asOf ?? clock.now()
      const dryRun = options.dryRun === true
      const lines: Lines = new Map()
      for (const category of SWEPT_ORDER) {
        if (dryRun) {
          for (const row of await retention.eligible(category, asOf, options.accountIds)) {
            const line = lineOf(lines, row.account_id, category)
            line.purged++
            if (category === 'recordings' || category === 'transcripts') (line.ids ??= []).push(row.id)
          }
        } else {
          await sweepCategory(category, asOf, lines, options)
        }
        addWithheld(lines, category, await retention.withheld(category, asOf, options.accountIds))
      }
      for (const account of await retention.accountPeriods(options.accountIds)) {
        const evidenceCutoff = new Date(asOf)
        evidenceCutoff.setUTCFullYear(evidenceCutoff.getUTCFullYear() - Number(account.evidence_years))
        const auditCutoff = new Date(asOf.getTime() - Number(account.audit_days) * DAY_MS)
        if (dryRun) {
          const evidence = await retention.eligibleEvidence(account.id, evidenceCutoff, asOf)
          if (evidence.length > 0) lineOf(lines, account.id, 'consent_evidence').purged += evidence.length
          const cut = await retention.auditCut(account.id, auditCutoff, asOf)
          if (cut) lineOf(lines, account.id, 'audit_trail').purged += cut.cut - cut.first + 1
        } else {
          await purgeEvidence(account.id, evidenceCutoff, asOf, lines, options)
          await purgeAudit(account.id, auditCutoff, asOf, lines, options)
        }
        addWithheld(lines, 'consent_evidence', await retention.withheldEvidence(account.id, evidenceCutoff, asOf))
        addWithheld(lines, 'audit_trail', await retention.withheldAudit(account.id, auditCutoff, asOf))
      }
      // What a hold keeps is recorded too: one entry per account and category, with the holds' ids.
      const held = [...lines.values()].filter((line) => line.withheld > 0 && line.accountId)
      if (!dryRun && held.length > 0) {
        await inTransaction(async (tx) => {
          for (const line of held) {
            await audit.append(tx, line.accountId!, { actor: SYSTEM_ACTOR, action: 'retention.withheld', targetType: 'account', targetId: line.accountId!, details: { category: line.category, count: line.withheld, holdIds: line.holdIds, asOf: asOf.toISOString() } }, clock.now())
          }
        })
      }
      // Blob ages are the file system's, so the grace is measured on this machine's clock.
      const orphanBlobsRemoved = dryRun ? 0 : await collectOrphans(new Date(), options.accountIds)
      const report = [...lines.values()].filter((line) => line.purged > 0 || line.withheld > 0)
      report.sort((a, b) => `${a.accountId}:${a.category}`.localeCompare(`${b.accountId}:${b.category}`))
      return { asOf: asOf.toISOString(), dryRun, lines: report, orphanBlobsRemoved }
    },
  }
}

export type RetentionService = ReturnType<typeof createRetentionService>
