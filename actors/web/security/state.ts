import { createLoginLimiter, DEFAULT_LOGIN_LIMIT, type LoginLimiter, type LoginLimiterOptions } from './rateLimit.js'
import { createSessionStore, DEFAULT_SESSION_TTL_MS, type SessionStore } from './sessions.js'

/**
 * What the security plugin keeps between requests. Made once per rig (webChild),
 * not per server instance: a web restart must neither log everyone out nor wipe
 * the count of an address that was guessing passwords.
 */
export interface SecurityState {
  sessions: SessionStore
  limiter: LoginLimiter
}

export function createSecurityState(opts: { sessionTtlMs?: number; loginLimit?: Partial<LoginLimiterOptions>; now?: () => number } = {}): SecurityState {
  const now = opts.now ?? Date.now
  return {
    sessions: createSessionStore({ ttlMs: opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS, now }),
    limiter: createLoginLimiter({ ...DEFAULT_LOGIN_LIMIT, ...opts.loginLimit, now }),
  }
}
