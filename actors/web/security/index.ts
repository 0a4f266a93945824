import type { AddressInfo } from 'node:net'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { tokenMatches, type AuthPolicy } from '../auth.js'
import { sendError } from '../httpErrors.js'
import { admit, type Principal, type Refusal } from './admit.js'
import { securityHeaders } from './headers.js'
import { allowedHosts } from './hostAllowList.js'
import { registerLoginRoutes } from './loginRoutes.js'
import { isRouteRole, type RouteRole } from './roles.js'
import type { SecurityState } from './state.js'

/**
 * Security lives here and nowhere else (STYLE.md point 8). Routes declare
 * `config: { role }` and never look at a credential; this plugin's onRequest runs
 * first for every request and every WebSocket upgrade: headers, Host allow-list,
 * Origin, authentication, role.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may use the route: required on every route (registration fails without it). */
    role?: RouteRole
    /** An HTML page: a browser without credentials is sent to /login instead of a JSON 401. */
    loginRedirect?: boolean
  }
  interface FastifyRequest {
    /** Who is asking, once the plugin admitted the request (null on public routes). */
    principal: Principal | null
  }
}

export interface SecurityOptions {
  auth: AuthPolicy
  /** web.host: it is on the allow-list with the port. */
  bindHost: string
  /** web.allowedHosts. */
  allowedHosts?: readonly string[]
  tls: boolean
  state: SecurityState
  /** Where login.html is. */
  webDir: string
}

export interface DeclaredRoute {
  method: string
  url: string
  role: RouteRole
}

const tables = new WeakMap<FastifyInstance, DeclaredRoute[]>()

/** Every route and the role it declared, for the attack tests that walk the whole table. */
export function routeTable(app: FastifyInstance): readonly DeclaredRoute[] {
  return tables.get(app) ?? []
}

function refuse(request: FastifyRequest, reply: FastifyReply, verdict: Refusal): FastifyReply {
  if (verdict.code === 'UNAUTHORIZED') {
    if (request.routeOptions.config.loginRedirect === true && request.method === 'GET') {
      return reply.code(303).header('Location', '/login').header('Cache-Control', 'no-store').send()
    }
    reply.header('WWW-Authenticate', 'Bearer realm="vigil"')
  }
  if (verdict.retryAfterS !== undefined) reply.header('Retry-After', String(verdict.retryAfterS))
  return sendError(reply, verdict.code, verdict.message)
}

const plugin: FastifyPluginAsync<SecurityOptions> = async (app, opts) => {
  const { auth, state, tls } = opts
  const headers = securityHeaders({ tls })
  const table: DeclaredRoute[] = []
  tables.set(app, table)

  app.addHook('onRoute', (route) => {
    const role = route.config?.role
    // No default-open: a route nobody thought about is a route nobody secured.
    if (!isRouteRole(role)) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no config.role ('public' | 'viewer' | 'operator'): every route must say who may use it`)
    }
    for (const method of [route.method].flat()) table.push({ method, url: route.url, role })
  })

  // The port is known once the server listens (config 0 picks one); the list is made on first use.
  let hosts: Set<string> | undefined
  const hostList = () =>
    (hosts ??= allowedHosts({ port: (app.server.address() as AddressInfo | null)?.port ?? 0, bindHost: opts.bindHost, extra: opts.allowedHosts ?? [] }))

  app.decorateRequest('principal', null)
  app.addHook('onRequest', async (request, reply) => {
    // First, so every answer below (421, 401, 404, 500, files) carries them.
    reply.headers(headers)
    const h = request.headers
    const verdict = admit(
      {
        method: request.method,
        host: h.host,
        origin: h.origin,
        upgrade: (h.upgrade ?? '').toLowerCase() === 'websocket',
        authorization: h.authorization,
        cookie: h.cookie,
        wsProtocol: h['sec-websocket-protocol'],
        role: request.routeOptions.config.role,
      },
      {
        allowedHosts: hostList(),
        authOn: auth.required,
        tokenMatches: (given) => auth.token !== undefined && tokenMatches(given, auth.token),
        session: (id) => state.sessions.get(id),
        retryAfterS: () => state.limiter.retryAfterS(request.ip),
      },
    )
    if (!verdict.ok) {
      if (verdict.wrongCredential === true) {
        state.limiter.failed(request.ip)
        request.log.warn({ ip: request.ip, url: request.url }, 'wrong bearer token')
      }
      return refuse(request, reply, verdict)
    }
    request.principal = verdict.principal
  })

  registerLoginRoutes(app, { auth, state, tls, webDir: opts.webDir })
}

/** Registered on the root instance (skip-override): its hooks cover every route, the inspector's too. */
export const securityPlugin = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'vigil-security',
})

export { createSecurityState, type SecurityState } from './state.js'
export type { Principal } from './admit.js'
export type { RouteRole, Role } from './roles.js'
