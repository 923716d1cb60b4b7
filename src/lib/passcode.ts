import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>

// Meeting passcodes are stored as salted scrypt hashes: a leaked table does not give them away.
export async function hashPasscode(passcode: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scrypt(passcode, salt, 32)
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

export async function verifyPasscode(passcode: string, stored: string): Promise<boolean> {
  const [scheme, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scrypt(passcode, Buffer.from(salt, 'base64url'), expected.length)
  return timingSafeEqual(actual, expected)
}
