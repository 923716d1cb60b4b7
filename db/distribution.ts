// How the schema spreads over a distributed PostgreSQL (Citus), by tenant. Every table is
// distributed by `account_id` (colocated: one account's rows live on one node, so its
// transactions and joins stay there) unless named here. test/db/distribution.test.ts walks the
// drizzle schema and fails on a table whose keys would cross nodes.

/** Tables distributed by a column other than `account_id`: the tenant row by its own id. */
export const DISTRIBUTION_COLUMN: Record<string, string> = { accounts: 'id' }

/** Small tables copied to every node (none yet: the settings catalogue and data regions are code). */
export const REFERENCE_TABLES: string[] = []

/** Tables that stay on the coordinator alone: the job runner's queue (a few rows, SKIP LOCKED) and the event outbox. */
export const LOCAL_TABLES: string[] = [
  'jobs',
  // The outbox: its cursor is one sequence in commit order across all accounts, stamped by one
  // relay at a time; it stays beside the jobs it feeds.
  'events',
]
