import { randomBytes } from 'node:crypto'
import type { Role } from './roles.js'

/**
 * Login sessions, in memory: a rig restart logs everyone out (said in the docs),
 * a logout ends the session here and not only in the browser, so a copied cookie
 * is dead too. Bounded: a flood of logins evicts the oldest, never grows without end.
 */

export interface Session {
  id: string
  user: string
  role: Role
  expiresAt: number
}

export interface SessionStore {
  create(user: string, role: Role): Session
  /** The live session for this id; an expired one is gone. */
  get(id: string): Session | undefined
  end(id: string): boolean
  size(): number
  readonly ttlMs: number
}

export interface SessionStoreOptions {
  ttlMs: number
  now?: () => number
  max?: number
}

export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000

export function createSessionStore({ ttlMs, now = Date.now, max = 10_000 }: SessionStoreOptions): SessionStore {
  // Insertion order is creation order: the first key is the oldest.
  const sessions = new Map<string, Session>()
  const prune = () => {
    const t = now()
    for (const [id, s] of sessions) if (s.expiresAt <= t) sessions.delete(id)
    while (sessions.size >= max) sessions.delete(sessions.keys().next().value!)
  }
  return {
    ttlMs,
    create(user, role) {
      prune()
      // 256 bits from the OS: the id is the whole credential.
      const session = { id: randomBytes(32).toString('base64url'), user, role, expiresAt: now() + ttlMs }
      sessions.set(session.id, session)
      return session
    },
    get(id) {
      const s = sessions.get(id)
      if (s === undefined) return undefined
      if (s.expiresAt <= now()) {
        sessions.delete(id)
        return undefined
      }
      return s
    },
    end: (id) => sessions.delete(id),
    size: () => sessions.size,
  }
}
