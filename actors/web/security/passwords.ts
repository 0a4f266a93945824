import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * web.users password hashes (`vigil passwd` makes them): scrypt with a per-user
 * salt, self-describing so the cost can rise later without breaking old hashes:
 * `scrypt$N$r$p$<salt base64url>$<hash base64url>`.
 */

export const PASSWORD_HASH_PATTERN = '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9_-]{16,}\\$[A-Za-z0-9_-]{32,}$'

/** 2^15 × 8 × 128 B = 32 MiB and ~50–100 ms per try: cheap for a login, dear for a guesser. */
export const DEFAULT_SCRYPT = { N: 2 ** 15, r: 8, p: 1 }
const KEY_BYTES = 32
const SALT_BYTES = 16

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFC'), salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))))
}

const maxmem = (N: number, r: number, p: number) => 128 * N * r * p + 2 * 1024 * 1024

export async function hashPassword(password: string, cost = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await scrypt(password, salt, KEY_BYTES, { N: cost.N, r: cost.r, p: cost.p, maxmem: maxmem(cost.N, cost.r, cost.p) })
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

interface Parsed {
  N: number
  r: number
  p: number
  salt: Buffer
  key: Buffer
}

/** Bounded: a config typo (or a hostile file) cannot ask for gigabytes of memory per login. */
export function parsePasswordHash(encoded: string): Parsed | null {
  if (!new RegExp(PASSWORD_HASH_PATTERN).test(encoded)) return null
  const [, n, r, p, salt, key] = encoded.split('$')
  const N = Number(n)
  const R = Number(r)
  const P = Number(p)
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0
  if (!powerOfTwo || N > 2 ** 20 || R < 1 || R > 32 || P < 1 || P > 16 || 128 * N * R * P > 256 * 1024 * 1024) return null
  return { N, r: R, p: P, salt: Buffer.from(salt!, 'base64url'), key: Buffer.from(key!, 'base64url') }
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded)
  if (parsed === null) return false
  const key = await scrypt(password, parsed.salt, parsed.key.length, { N: parsed.N, r: parsed.r, p: parsed.p, maxmem: maxmem(parsed.N, parsed.r, parsed.p) })
  return timingSafeEqual(key, parsed.key)
}

/**
 * Hashed against when the user name is unknown, so "no such user" takes as long
 * as "wrong password" and names cannot be probed by timing.
 */
let decoy: Promise<string> | undefined
export const decoyHash = (): Promise<string> => (decoy ??= hashPassword(randomBytes(16).toString('hex')))
