import { createHash, timingSafeEqual } from 'node:crypto'
import { isLoopback } from '../../infra/config/load.js'
import type { Role } from './security/roles.js'

/**
 * Whether this bind needs credentials, and which ones (DESIGN.md §9.1). Auth is on
 * when a token or a user is configured, and always on a non-loopback bind (which
 * then must have one). Pure functions of their inputs, unit-tested without a network;
 * the security plugin (./security) applies them.
 */

export interface WebUser {
  name: string
  /** `vigil passwd` output: scrypt$N$r$p$salt$hash. */
  passwordHash: string
  role: Role
}

export interface AuthCredentials {
  token?: string | undefined
  users?: readonly WebUser[] | undefined
}

export interface AuthPolicy {
  required: boolean
  token?: string
  users: readonly WebUser[]
}

/** Every wildcard and non-loopback address counts as public: `0.0.0.0` listens on the LAN too. */
export function authRequired(host: string, opts: { force?: boolean } = {}): boolean {
  return opts.force === true || !isLoopback(host)
}

/**
 * The policy for a bind, or the reason the server must not start: a public bind
 * without credentials would hand the camera and the recorder to anyone on the network.
 */
export function authPolicy(host: string, creds: AuthCredentials, opts: { force?: boolean } = {}): AuthPolicy | { refused: string } {
  const token = creds.token !== undefined && creds.token.length > 0 ? creds.token : undefined
  const users = creds.users ?? []
  const configured = token !== undefined || users.length > 0
  if (!configured && authRequired(host, opts)) {
    return {
      refused: `web.host ${host} is not loopback and no web.token is set (nor web.users): refusing to serve unauthenticated; set VIGIL_WEB_TOKEN, or add web.users (hashes from \`vigil passwd\`), or bind 127.0.0.1`,
    }
  }
  return { required: configured, users, ...(token === undefined ? {} : { token }) }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/** Constant-time: both sides hashed first, so neither content nor length leaks through timing. */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token))
}

/** `Authorization: Bearer <token>`; scheme case-insensitive (RFC 9110). */
export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return m?.[1]
}

/**
 * Scripts cannot always set headers on a WebSocket; they may send the token as a
 * subprotocol `vigil.bearer.<token>` instead (never in the URL, which ends up in
 * logs). The page itself needs neither: the browser sends the session cookie.
 */
export const WS_TOKEN_PROTOCOL_PREFIX = 'vigil.bearer.'

export function wsProtocolToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  for (const p of header.split(',')) {
    const v = p.trim()
    if (v.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return v.slice(WS_TOKEN_PROTOCOL_PREFIX.length)
  }
  return undefined
}
