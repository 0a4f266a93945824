import { createHash, timingSafeEqual } from 'node:crypto'
import { isLoopback } from '../../infra/config/load.js'

/**
 * Who may change the rig over HTTP (DESIGN.md §5). On loopback anyone on the
 * machine may; bound elsewhere, mutating routes and the WebSocket need the token.
 * Pure functions of their inputs, so the policy is unit-tested without a network.
 */

export interface AuthPolicy {
  required: boolean
  /** Present when required. */
  token?: string
}

/** Every wildcard and non-loopback address counts as public: `0.0.0.0` listens on the LAN too. */
export function authRequired(host: string, opts: { force?: boolean } = {}): boolean {
  return opts.force === true || !isLoopback(host)
}

/**
 * The policy for a bind, or the reason the server must not start: a public bind
 * without a token would hand the recorder to anyone on the network.
 */
export function authPolicy(host: string, token: string | undefined, opts: { force?: boolean } = {}): AuthPolicy | { refused: string } {
  if (!authRequired(host, opts)) return { required: false }
  if (token === undefined || token.length === 0) {
    return { refused: `web.host ${host} is not loopback and no web.token is set: refusing to serve the API unauthenticated (set VIGIL_WEB_TOKEN)` }
  }
  return { required: true, token }
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
 * Browsers cannot set headers on a WebSocket; the page sends the token as a
 * subprotocol `vigil.bearer.<token>` instead (never in the URL, which ends up in logs).
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

export type AuthResult = { ok: true } | { ok: false; reason: string }

export function checkAuth(policy: AuthPolicy, headers: { authorization?: string | undefined; 'sec-websocket-protocol'?: string | undefined }): AuthResult {
  if (!policy.required) return { ok: true }
  const given = bearerOf(headers.authorization) ?? wsProtocolToken(headers['sec-websocket-protocol'])
  if (given === undefined) return { ok: false, reason: 'this server requires Authorization: Bearer <web.token>' }
  return tokenMatches(given, policy.token ?? '') ? { ok: true } : { ok: false, reason: 'wrong token' }
}

/**
 * A browser on another site can send a simple POST (no preflight) or open a
 * WebSocket to 127.0.0.1: a page the operator visits must not start a recording
 * or read the rig's state. Browsers always send Origin on those; non-browser
 * clients (curl, the CLI) send none and pass.
 */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true
  if (host === undefined) return false
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host.toLowerCase() === host.toLowerCase()
}
