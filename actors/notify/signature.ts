import { createHmac, timingSafeEqual } from 'node:crypto'

/** The header a signed delivery carries. */
export const SIGNATURE_HEADER = 'X-Vigil-Signature'

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>` (the GitHub webhook convention). */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/**
 * The receiver's check (docs/SECURITY.md shows it standalone): recompute over the raw body
 * as received, before parsing it, and compare in constant time.
 */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined | null): boolean {
  if (!header) return false
  const expected = Buffer.from(signBody(secret, body))
  const given = Buffer.from(header)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
