import { bearerOf, wsProtocolToken } from '../auth.js'
import { SESSION_COOKIE, cookieValue } from './cookie.js'
import { hostAllowed, originAllowed } from './hostAllowList.js'
import { roleSatisfies, type Role, type RouteRole } from './roles.js'
import type { Session } from './sessions.js'

/**
 * The one decision every request and WebSocket upgrade goes through, in the order
 * of DESIGN.md §9.1: Host allow-list, then (for mutations and upgrades) Origin,
 * then who the caller is, then whether the route's role lets them. Pure: the
 * token check and the session lookup come in as functions.
 */

export interface Principal {
  /** The web.users name; `token` for the bearer token; `local` with auth off. */
  user: string
  role: Role
  via: 'token' | 'session' | 'none'
}

export type Refusal = {
  ok: false
  code: 'MISDIRECTED' | 'FORBIDDEN' | 'UNAUTHORIZED' | 'TOO_MANY_REQUESTS'
  message: string
  /** 401 only: a wrong credential was offered (counted against the address). */
  wrongCredential?: boolean
  retryAfterS?: number
}
export type Verdict = { ok: true; principal: Principal | null } | Refusal

export interface RequestFacts {
  method: string
  host: string | undefined
  origin: string | undefined
  upgrade: boolean
  authorization: string | undefined
  cookie: string | undefined
  wsProtocol: string | undefined
  /** The route's declared role; undefined for a URL no route matched (treated as `viewer`). */
  role: RouteRole | undefined
}

export interface AdmitContext {
  allowedHosts: ReadonlySet<string>
  authOn: boolean
  tokenMatches: (given: string) => boolean
  session: (id: string) => Session | undefined
  /** Seconds this address must wait after too many wrong credentials, or null. */
  retryAfterS: () => number | null
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const LOCAL: Principal = { user: 'local', role: 'operator', via: 'none' }

export function admit(req: RequestFacts, ctx: AdmitContext): Verdict {
  if (!hostAllowed(req.host, ctx.allowedHosts)) {
    return { ok: false, code: 'MISDIRECTED', message: 'this rig does not answer to that Host: add the name it is reached by to web.allowedHosts (VIGIL_WEB_ALLOWED_HOSTS)' }
  }
  if ((req.upgrade || !SAFE_METHODS.has(req.method)) && !originAllowed(req.origin, req.host)) {
    return { ok: false, code: 'FORBIDDEN', message: 'cross-origin request refused' }
  }
  const role = req.role ?? 'viewer'
  if (role === 'public') return { ok: true, principal: null }
  if (!ctx.authOn) return { ok: true, principal: LOCAL }

  let principal: Principal | undefined
  const given = bearerOf(req.authorization) ?? (req.upgrade ? wsProtocolToken(req.wsProtocol) : undefined)
  if (given !== undefined) {
    const wait = ctx.retryAfterS()
    if (wait !== null) return { ok: false, code: 'TOO_MANY_REQUESTS', message: 'too many failed attempts from this address: try again later', retryAfterS: wait }
    if (!ctx.tokenMatches(given)) return { ok: false, code: 'UNAUTHORIZED', message: 'wrong token', wrongCredential: true }
    principal = { user: 'token', role: 'operator', via: 'token' }
  } else {
    const id = cookieValue(req.cookie, SESSION_COOKIE)
    if (id === undefined || id === '') return { ok: false, code: 'UNAUTHORIZED', message: 'log in first (POST /api/v1/login) or send Authorization: Bearer <web.token>' }
    const session = ctx.session(id)
    if (session === undefined) return { ok: false, code: 'UNAUTHORIZED', message: 'the session has expired or ended: log in again' }
    principal = { user: session.user, role: session.role, via: 'session' }
  }
  if (!roleSatisfies(principal.role, role)) return { ok: false, code: 'FORBIDDEN', message: `this needs the ${role} role; ${principal.user} is a ${principal.role}` }
  return { ok: true, principal }
}
