import { randomBytes, randomInt, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto'
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

// Letters and digits that cannot be mistaken for one another when read aloud or typed.
const PASSCODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'

/** A passcode the server makes when one is required and none was given (as Zoom does): 10 characters, about 58 bits. */
export function generatePasscode(length = 10): string {
  let passcode = ''
  for (let i = 0; i < length; i++) passcode += PASSCODE_ALPHABET[randomInt(PASSCODE_ALPHABET.length)]
  return passcode
}
