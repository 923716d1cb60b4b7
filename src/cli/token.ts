import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { ConfigError, loadConfig } from '../config.js'
import { ROLES } from '../lib/access.js'
import { signToken } from '../lib/jwt-keys.js'

// `npm run token -- --sub <userId> --acc <accountId> --roles admin,member [--ttl 3600] [--key private.pem]`
// prints a bearer token signed with the configured development key.

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

try {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      acc: { type: 'string' },
      roles: { type: 'string' },
      ttl: { type: 'string' },
      key: { type: 'string' },
    },
  })
  const args = ArgsSchema.safeParse(values)
  if (!args.success) {
    const issue = args.error.issues[0]!
    throw new ConfigError(`token: --${String(issue.path[0])}: ${issue.message}`)
  }
  const { sub, acc, roles, ttl, key } = args.data
  const privateKey = key ? readFileSync(key, 'utf8') : undefined
  console.log(signToken(loadConfig(), { sub, acc, roles }, { expiresInSeconds: ttl, ...(privateKey ? { privateKey } : {}) }))
} catch (error) {
  console.error((error as Error).message)
  process.exit(1)
}
