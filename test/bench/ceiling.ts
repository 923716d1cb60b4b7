import { randomUUID } from 'node:crypto'
import jwt from '@fastify/jwt'
import Fastify from 'fastify'
import { postgres } from '../../db/postgres.js'

// The ceiling of `npm run bench`: fastify with the same HS256 verification as the service and
// one statement per request, through raw postgres.js (prepared; the client of db/postgres.ts, as
// the service's), on the same database and pool size. GET /select: one SELECT by primary key.
// POST /insert: one INSERT.

const url = process.env.DATABASE_URL!
const pool = Number(process.env.DATABASE_POOL_MAX ?? 10)
const sql = postgres(url, { max: pool, onnotice: () => {} })

const app = Fastify({ logger: false })
await app.register(jwt, { secret: process.env.JWT_SECRET!, verify: { algorithms: ['HS256'] } })
app.addHook('onRequest', async (request) => {
  await request.jwtVerify()
})

app.get<{ Params: { accountId: string; meetingId: string } }>('/select/:accountId/:meetingId', async (request) => {
  const [row] = await sql`select id, topic, status from meetings where account_id = ${request.params.accountId} and id = ${request.params.meetingId}`
  return row
})

app.post<{ Body: { participantId: string } }>('/insert', async (request, reply) => {
  const id = randomUUID()
  await sql`insert into bench_ceiling (id, participant_id, at) values (${id}, ${request.body.participantId}, now())`
  return reply.code(201).send({ id })
})

const address = await app.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ address }))
process.once('SIGTERM', () => void app.close().then(() => sql.end({ timeout: 2 })).then(() => process.exit(0)))
