import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { tokenMatches, type AuthPolicy } from '../auth.js'
import { sendError } from '../httpErrors.js'
import { strictValidatorCompiler } from '../strictSchema.js'
import { SESSION_COOKIE, clearedSessionCookie, cookieValue, sessionCookie } from './cookie.js'
import { decoyHash, verifyPassword } from './passwords.js'
import type { Role } from './roles.js'
import type { SecurityState } from './state.js'

/**
 * GET /login, POST /api/v1/login, POST /api/v1/logout (DESIGN.md §9.1). Public by
 * role, but still behind the Host and Origin checks: another site cannot log the
 * operator's browser in or out either.
 */

export interface LoginDeps {
  auth: AuthPolicy
  state: SecurityState
  tls: boolean
  webDir: string
}

const LoginBody = Type.Union([
  Type.Object({ token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
  Type.Object({ user: Type.String({ minLength: 1, maxLength: 128 }), password: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
])
type LoginBody = { token: string } | { user: string; password: string }

const errors = { 400: { $ref: 'vigil.error#' }, 401: { $ref: 'vigil.error#' }, 429: { $ref: 'vigil.error#' } }

async function whoIs(auth: AuthPolicy, body: LoginBody): Promise<{ user: string; role: Role } | null> {
  if ('token' in body) return auth.token !== undefined && tokenMatches(body.token, auth.token) ? { user: 'token', role: 'operator' } : null
  const user = auth.users.find((u) => u.name === body.user)
  // An unknown name costs the same scrypt as a known one: names cannot be probed by timing.
  const ok = await verifyPassword(body.password, user?.passwordHash ?? (await decoyHash()))
  return ok && user !== undefined ? { user: user.name, role: user.role } : null
}

export function registerLoginRoutes(app: FastifyInstance, deps: LoginDeps): void {
  const { auth, state, tls } = deps
  const maxAgeS = Math.floor(state.sessions.ttlMs / 1000)

  app.get('/login', { config: { role: 'public' }, schema: {} }, async (_request, reply) => {
    // Nothing to log in to (loopback, no credentials configured): the page itself.
    if (!auth.required) return reply.code(303).header('Location', '/').send()
    const html = await readFile(join(deps.webDir, 'login.html'), 'utf8')
    return reply.header('Cache-Control', 'no-cache').type('text/html; charset=utf-8').send(html)
  })

  app.post(
    '/api/v1/login',
    { config: { role: 'public' }, validatorCompiler: strictValidatorCompiler, schema: { body: LoginBody, response: errors } },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store')
      if (!auth.required) return sendError(reply, 'BAD_REQUEST', 'this rig has no web.token and no web.users: there is nothing to log in to')
      const wait = state.limiter.retryAfterS(request.ip)
      if (wait !== null) {
        return sendError(reply.header('Retry-After', String(wait)), 'TOO_MANY_REQUESTS', 'too many failed logins from this address: try again later')
      }
      const body = request.body as LoginBody
      const who = await whoIs(auth, body)
      if (who === null) {
        state.limiter.failed(request.ip)
        // The name is not a secret and tells the operator who is being guessed; the password never goes to a log.
        request.log.warn({ ip: request.ip, user: 'user' in body ? body.user : 'token' }, 'failed login')
        return sendError(reply, 'UNAUTHORIZED', 'wrong user name, password or token')
      }
      state.limiter.succeeded(request.ip)
      const session = state.sessions.create(who.user, who.role)
      request.log.info({ ip: request.ip, user: who.user, role: who.role }, 'logged in')
      return reply
        .header('Set-Cookie', sessionCookie(session.id, { maxAgeS, secure: tls }))
        .send({ ok: true, user: who.user, role: who.role, expiresAt: new Date(session.expiresAt).toISOString() })
    },
  )

  // Public: it ends whichever session the cookie names and always clears the cookie.
  app.post('/api/v1/logout', { config: { role: 'public' }, schema: {} }, async (request, reply) => {
    const id = cookieValue(request.headers.cookie, SESSION_COOKIE)
    const ended = id !== undefined && id !== '' && state.sessions.end(id)
    return reply.header('Cache-Control', 'no-store').header('Set-Cookie', clearedSessionCookie({ secure: tls })).send({ ok: true, ended })
  })
}
