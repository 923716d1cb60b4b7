import fastifyHelmet from '@fastify/helmet'
import fp from 'fastify-plugin'

// An API answers JSON only: nothing it serves needs scripts, frames or third-party origins.
// /docs sets its own, script-hashed policy (swagger-ui's staticCSP).
export default fp(
  async (app) => {
    await app.register(fastifyHelmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'", "'unsafe-inline'"],
          imgSrc: ["'self'", 'data:'],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
        },
      },
      hsts: { maxAge: 31536000, includeSubDomains: true },
    })
  },
  { name: 'security-headers' },
)
