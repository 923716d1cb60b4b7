import { is } from 'drizzle-orm'
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core'
import t from 'tap'
import { DISTRIBUTION_COLUMN, LOCAL_TABLES, REFERENCE_TABLES } from '../../db/distribution.js'
import * as schema from '../../db/schema/index.js'

// Issue 18, item 5: ready for distributed PostgreSQL. Every table's primary key, unique indexes
// and foreign keys lead with its distribution column (account_id, or the one db/distribution.ts
// names), and a foreign key points at a colocated table by that table's distribution column (or
// at a reference table); otherwise the table is declared a reference or coordinator-only table.
// A key that does not lead with the tenant would have to be enforced across nodes, which Citus
// refuses.

const tables = (Object.values(schema) as unknown[]).filter((value): value is PgTable => is(value, PgTable)).map((table) => getTableConfig(table))
const names = (columns: { name: string }[]) => columns.map((column) => column.name)

/** What would keep `table` from living on one tenant's node. */
function problemsOf(table: ReturnType<typeof getTableConfig>): string[] {
  const column = DISTRIBUTION_COLUMN[table.name] ?? 'account_id'
  const problems: string[] = []
  const leads = (what: string, columns: string[]) => {
    if (columns[0] !== column) problems.push(`${what} (${columns.join(', ')}) does not lead with ${column}`)
  }
  if (!table.columns.some((c) => c.name === column)) problems.push(`no ${column} column`)
  const primary = table.columns.filter((c) => c.primary)
  if (primary.length > 0) leads('primary key', names(primary))
  for (const key of table.primaryKeys) leads('primary key', names(key.columns))
  if (primary.length === 0 && table.primaryKeys.length === 0) problems.push('no primary key')
  for (const c of table.columns) if (c.isUnique) leads(`unique ${c.name}`, [c.name])
  for (const unique of table.uniqueConstraints) leads(`unique constraint ${unique.name ?? ''}`.trim(), names(unique.columns))
  for (const index of table.indexes) {
    if (!index.config.unique) continue
    const columns = index.config.columns.map((c) => ('name' in c && typeof c.name === 'string' ? c.name : '(an expression)'))
    leads(`unique index ${index.config.name}`, columns)
  }
  for (const key of table.foreignKeys) {
    const reference = key.reference()
    const target = getTableConfig(reference.foreignTable).name
    const local = names(reference.columns)
    leads(`foreign key to ${target}`, local)
    if (REFERENCE_TABLES.includes(target)) continue
    const targetColumn = DISTRIBUTION_COLUMN[target] ?? 'account_id'
    if (LOCAL_TABLES.includes(target)) problems.push(`foreign key to ${target}, a coordinator-only table`)
    else if (names(reference.foreignColumns)[0] !== targetColumn) problems.push(`foreign key to ${target} (${names(reference.foreignColumns).join(', ')}) does not lead with its distribution column ${targetColumn}: not colocated`)
  }
  return problems
}

t.test('every table is distributed by its tenant column, or declared a reference or coordinator-only table', async (t) => {
  t.ok(tables.length >= 20, `${tables.length} tables walked`)
  const known = new Set(tables.map((table) => table.name))
  for (const declared of [...Object.keys(DISTRIBUTION_COLUMN), ...REFERENCE_TABLES, ...LOCAL_TABLES]) t.ok(known.has(declared), `${declared} (declared in db/distribution.ts) is a table`)

  for (const table of tables) {
    if (REFERENCE_TABLES.includes(table.name) || LOCAL_TABLES.includes(table.name)) continue
    t.same(problemsOf(table), [], `${table.name}, distributed by ${DISTRIBUTION_COLUMN[table.name] ?? 'account_id'}`)
  }
})

t.test('the walk catches a key that does not lead with the tenant', async (t) => {
  const { pgTable, uuid, text, uniqueIndex, primaryKey } = await import('drizzle-orm/pg-core')
  const bad = getTableConfig(
    pgTable('bad', { accountId: uuid('account_id').notNull(), id: uuid('id').notNull(), email: text('email').notNull() }, (table) => [
      primaryKey({ columns: [table.id, table.accountId] }),
      uniqueIndex('bad_email').on(table.email),
    ]),
  )
  t.same(problemsOf(bad), ['primary key (id, account_id) does not lead with account_id', 'unique index bad_email (email) does not lead with account_id'])
})
