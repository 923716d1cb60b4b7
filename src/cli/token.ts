import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { loadConfig } from '../config.js'
import { ROLES } from '../lib/access.js'
import { signToken } from '../lib/jwt-keys.js'

const USAGE = `Usage: npm run token -- --sub <id> --acc <accountId> --roles <roles> [--ttl <seconds>] [--key <file>]

Prints a bearer token for development, signed with the key the service is configured with
(the same environment as npm start: JWT_SECRET, or the secret generated in $DATA_DIR/jwt-secret).

  --sub <id>          the subject: a user id, or a service name such as operator
  --acc <accountId>   the account id (uuid); 00000000-0000-4000-8000-000000000000 for the platform
  --roles <roles>     comma list of ${ROLES.join(', ')}
  --ttl <seconds>     lifetime (default 3600)
  --key <file>        a PEM private key to sign with, when JWT_PUBLIC_KEY is configured
  -h, --help          this text

Example: npm run token -- --sub operator --acc 00000000-0000-4000-8000-000000000000 --roles platform`

const ArgsSchema = z.object({
  sub: z.string().min(1, '--sub is required'),
  acc: z.uuid('--acc must be an account id (uuid)'),
  roles: z
    .string()
    .transform((value) => value.split(',').map((role) => role.trim()))
    .pipe(z.array(z.enum(ROLES)).min(1)),
  ttl: z.coerce.number().int().positive().default(3600),
  key: z.string().optional(),
})

/** A mistake in the arguments: answered with the usage, unlike a configuration error. */
class UsageError extends Error {}

function parse() {
  try {
    return parseArgs({
      options: {
        sub: { type: 'string' },
        acc: { type: 'string' },
        roles: { type: 'string' },
        ttl: { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (error) {
    // An unknown flag or a stray argument.
    throw new UsageError(`token: ${(error as Error).message}`)
  }
}

try {
  const values = parse()
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const args = ArgsSchema.safeParse(values)
  if (!args.success) {
    const issue = args.error.issues[0]!
    throw new UsageError(`token: --${String(issue.path[0])}: ${issue.message}`)
  }
  const { sub, acc, roles, ttl, key } = args.data
  const privateKey = key ? readFileSync(key, 'utf8') : undefined
  console.log(signToken(loadConfig(), { sub, acc, roles }, { expiresInSeconds: ttl, ...(privateKey ? { privateKey } : {}) }))
} catch (error) {
  console.error((error as Error).message)
  if (error instanceof UsageError) console.error(`\n${USAGE}`)
  process.exit(1)
}
