import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { buildTestApp, createTenant, TEST_SECRET, tokenFor } from '../helpers/app.js'

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

t.test('bearer tokens', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const claims = { sub: tenant.adminId, acc: tenant.accountId, roles: ['admin'] }
  const me = (token?: string, headers?: Record<string, string>) =>
    api.request({ method: 'GET', url: '/v1/me', ...(token ? { token } : {}), ...(headers ? { headers } : {}) })

  t.test('a valid token answers 200', async (t) => {
    const res = await me(tokenFor(api.config, claims))
    t.equal(res.status, 200)
    t.equal(res.body.id, tenant.adminId)
  })

  t.test('no token is 401 problem', async (t) => {
    const res = await me()
    t.equal(res.status, 401)
    t.equal(res.body.code, 'unauthorized')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  })

  t.test('a non-bearer authorization header is 401', async (t) => {
    const res = await me(undefined, { authorization: 'Basic dXNlcjpwYXNz' })
    t.equal(res.status, 401)
    t.equal(res.body.code, 'unauthorized')
  })

  t.test('alg none is refused', async (t) => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}.`
    const res = await me(unsigned)
    t.equal(res.status, 401)
    t.equal(res.body.code, 'unauthorized')
  })

  t.test('an expired token is refused', async (t) => {
    const sign = createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000, clockTimestamp: Date.now() - 3_600_000 })
    const res = await me(sign(claims))
    t.equal(res.status, 401)
    t.equal(res.body.detail, 'The bearer token has expired')
  })

  t.test('a token answered from the verified tokens kept still ends at its exp', async (t) => {
    const token = createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 3_000 })(claims)
    const exp = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp
    t.equal((await me(token)).status, 200, 'verified')
    t.equal((await me(token)).status, 200, 'again, from the kept claims')
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 50))
    const res = await me(token)
    t.equal(res.status, 401, 'refused once its exp has passed')
    t.equal(res.body.detail, 'The bearer token has expired')
  })

  t.test('a foreign signature is refused', async (t) => {
    const sign = createSigner({ key: 'another-secret-that-is-long-enough-0123456789', algorithm: 'HS256', expiresIn: 60_000 })
    const res = await me(sign(claims))
    t.equal(res.status, 401)
  })

  t.test('a tampered payload is refused', async (t) => {
    const [header, , signature] = tokenFor(api.config, claims).split('.')
    const forged = `${header}.${b64({ ...claims, roles: ['admin', 'platform'], exp: Math.floor(Date.now() / 1000) + 600 })}.${signature}`
    const res = await me(forged)
    t.equal(res.status, 401)
  })

  t.test('an unexpected algorithm is refused even with the right secret', async (t) => {
    const sign = createSigner({ key: TEST_SECRET, algorithm: 'HS512', expiresIn: 60_000 })
    const res = await me(sign(claims))
    t.equal(res.status, 401)
  })

  t.test('well-signed tokens with malformed claims are refused', async (t) => {
    for (const bad of [
      { ...claims, roles: ['superuser'] },
      { ...claims, roles: [] },
      { ...claims, acc: 'not-a-uuid' },
      { sub: claims.sub, acc: claims.acc },
    ]) {
      const res = await me(tokenFor(api.config, bad as typeof claims))
      t.equal(res.status, 401, JSON.stringify(bad))
    }
  })
})

t.test('issuer and audience are checked when configured', async (t) => {
  const api = await buildTestApp(t, { env: { JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'consentry' } })
  const plain = await buildTestApp(t)
  const tenant = await createTenant(plain)
  const claims = { sub: tenant.adminId, acc: tenant.accountId, roles: ['admin'] }
  const sign = (extra: object) => createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000, ...extra })(claims)

  const right = await api.request({ method: 'GET', url: '/v1/me', token: sign({ iss: 'https://idp.example', aud: 'consentry' }) })
  t.equal(right.status, 200)
  for (const extra of [{}, { iss: 'https://evil.example', aud: 'consentry' }, { iss: 'https://idp.example', aud: 'other' }]) {
    const res = await api.request({ method: 'GET', url: '/v1/me', token: sign(extra) })
    t.equal(res.status, 401, JSON.stringify(extra))
  }
})

for (const [algorithm, keyType] of [
  ['RS256', 'rsa'],
  ['ES256', 'ec'],
] as const) {
  t.test(`${algorithm} with a configured public key`, async (t) => {
    const { publicKey, privateKey } =
      keyType === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const idp = { JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'consentry' }
    const api = await buildTestApp(t, { env: { JWT_PUBLIC_KEY: publicPem, JWT_SECRET: '', ...idp } })
    t.equal(api.config.jwt.algorithm, algorithm, 'the algorithm is inferred from the key')
    const tenant = await createTenant(await buildTestApp(t))
    const claims = { sub: tenant.adminId, acc: tenant.accountId, roles: ['admin'], iss: idp.JWT_ISSUER, aud: idp.JWT_AUDIENCE }

    const good = createSigner({ key: privatePem, algorithm, expiresIn: 60_000 })(claims)
    t.equal((await api.request({ method: 'GET', url: '/v1/me', token: good })).status, 200)

    // The classic key-confusion attack: an HS256 token whose secret is the public key.
    const confused = createSigner({ key: publicPem, algorithm: 'HS256', expiresIn: 60_000 })(claims)
    t.equal((await api.request({ method: 'GET', url: '/v1/me', token: confused })).status, 401)

    const other = keyType === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const foreign = createSigner({ key: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm, expiresIn: 60_000 })(claims)
    t.equal((await api.request({ method: 'GET', url: '/v1/me', token: foreign })).status, 401)
  })
}

t.test('roles are checked after tenancy: a member on an admin route is 403, another account is 404', async (t) => {
  const api = await buildTestApp(t)
  const a = await createTenant(api)
  const b = await createTenant(api)
  const member = await a.user(['member'])
  const asMember = await api.request({ method: 'GET', url: `/v1/accounts/${a.accountId}/users`, token: member.token })
  t.equal(asMember.status, 403)
  t.equal(asMember.body.code, 'forbidden')
  const otherAccount = await api.request({ method: 'GET', url: `/v1/accounts/${b.accountId}/users`, token: member.token })
  t.equal(otherAccount.status, 404)
  t.equal(otherAccount.body.code, 'not_found')
})

t.test('a token lives at most JWT_MAX_AGE_SECONDS, and says when it was issued', async (t) => {
  const api = await buildTestApp(t, { env: { JWT_MAX_AGE_SECONDS: '3600' } })
  const tenant = await createTenant(api)
  const claims = { sub: tenant.adminId, acc: tenant.accountId, roles: ['admin'] }
  const me = (token: string) => api.request({ method: 'GET', url: '/v1/me', token })
  t.equal((await me(createSigner({ key: TEST_SECRET, expiresIn: 3600_000 })(claims))).status, 200, 'exactly the maximum')
  const long = await me(createSigner({ key: TEST_SECRET, expiresIn: 3601_000 })(claims))
  t.equal(long.status, 401, 'a second longer')
  t.equal(long.body.code, 'unauthorized')
  const noIat = await me(createSigner({ key: TEST_SECRET, expiresIn: 60_000, noTimestamp: true })(claims))
  t.equal(noIat.status, 401, 'without iat')
  const defaults = await buildTestApp(t)
  t.equal(defaults.config.jwt.maxAgeSeconds, 86400, 'a day by default')
  const day = createSigner({ key: TEST_SECRET, expiresIn: 86401_000 })(claims)
  t.equal((await defaults.request({ method: 'GET', url: '/v1/me', token: day })).status, 401, 'a day and a second is refused by default')
})

t.test('roles follow the user: a demoted admin loses admin power at once; service principals keep their token roles', async (t) => {
  const api = await buildTestApp(t)
  const tenant = await createTenant(api)
  const second = await tenant.user(['admin', 'member'])
  const users = `/v1/accounts/${tenant.accountId}/users`
  t.equal((await api.request({ method: 'GET', url: users, token: second.token })).status, 200, 'an admin lists users')
  const demoted = await api.request({ method: 'PATCH', url: `${users}/${second.id}`, token: tenant.admin, body: { roles: ['member'] } })
  t.equal(demoted.status, 200)
  const after = await api.request({ method: 'GET', url: users, token: second.token })
  t.equal(after.status, 403, 'the same token, demoted: no admin power')
  t.equal(after.body.code, 'forbidden')
  t.equal((await api.request({ method: 'GET', url: '/v1/me', token: second.token })).status, 200, 'still a member')
  // A token claiming a role its user never had gets nothing from it.
  const member = await tenant.user(['member'])
  const inflated = tokenFor(api.config, { sub: member.id, acc: tenant.accountId, roles: ['admin', 'member'] })
  t.equal((await api.request({ method: 'GET', url: users, token: inflated })).status, 403, 'roles a user row lacks do not count')
  // The platform's recorder is a service, not a user: its token's roles are its roles.
  const recorder = tokenFor(api.config, { sub: 'recorder-service', acc: tenant.accountId, roles: ['recorder'] })
  t.equal((await api.request({ method: 'GET', url: '/v1/meetings', token: recorder })).status, 200, 'a service principal keeps its roles')
})
