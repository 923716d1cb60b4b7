import { createCipheriv, createDecipheriv, createHash, hkdfSync, type KeyObject, randomBytes } from 'node:crypto'

/**
 * Secrets kept encrypted at rest (webhook signing secrets): AES-256-GCM under a key derived from
 * the receipt signing keys, which every process of a deployment already shares (configured with
 * DATABASE_URL, generated into the data folder when embedded). Each box names the key it was
 * sealed with, so a secret sealed before a key rotation still opens with the retired key.
 */
export interface SecretBox {
  seal(plain: string): string
  open(sealed: string): string
}

export function secretBox(keys: readonly { kid: string; privateKey: KeyObject }[]): SecretBox {
  const derived = new Map(
    keys.map((key) => {
      const material = key.privateKey.export({ type: 'pkcs8', format: 'der' })
      const id = createHash('sha256').update(key.kid).digest('base64url').slice(0, 12)
      return [id, Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'consentry secret box', 32))] as const
    }),
  )
  const [currentId, currentKey] = [...derived.entries()][0]!
  return {
    seal(plain) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return ['v1', currentId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.')
    },
    open(sealed) {
      const [version, id, iv, tag, body] = sealed.split('.')
      const key = id ? derived.get(id) : undefined
      if (version !== 'v1' || !key || !iv || !tag || body === undefined) throw new Error('a sealed secret this process cannot open')
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8')
    },
  }
}
