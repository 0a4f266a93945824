import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import type { Feed } from '../../../infra/feed.js'
import { sendError } from '../httpErrors.js'
import type { RigState } from '../state.js'
import { MAX_CLIENT_MESSAGE_BYTES, runWsSession } from '../websocket.js'

/** The live view's files (no build step): web/ at the repository root. */
export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../web')

/** mpegts.js is served from the project's node_modules: the page works with no internet. */
const MPEGTS_DIR = dirname(createRequire(import.meta.url).resolve('mpegts.js'))

export const WS_PROTOCOL = 'vigil'

/**
 * The page's assets, by name: public (the login page needs them before anyone has
 * logged in), and nothing else of web/ is reachable under /static/, least of all
 * index.html or login.html (a second copy of a page is a second thing to secure).
 */
export const STATIC_FILES: Readonly<Record<string, string>> = {
  'app.js': 'application/javascript; charset=utf-8',
  'format.js': 'application/javascript; charset=utf-8',
  'login.js': 'application/javascript; charset=utf-8',
  'recordings.js': 'application/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'theme.css': 'text/css; charset=utf-8',
  'login.css': 'text/css; charset=utf-8',
}

export interface LiveDeps {
  webDir?: string
  feed: Feed
  state: () => RigState
  secrets: string[]
  wsPingIntervalMs?: number
}

export async function registerLiveRoutes(app: FastifyInstance, deps: LiveDeps): Promise<void> {
  const root = deps.webDir ?? WEB_DIR
  // sendFile only (serve: false): the routes below say which files exist and who may fetch them.
  await app.register(fastifyStatic, {
    root,
    serve: false,
    dotfiles: 'deny',
    // Served straight from the repo: always revalidate (cheap with the ETag) so an update is seen.
    cacheControl: true,
    maxAge: 0,
  })

  app.get('/', { config: { role: 'viewer', loginRedirect: true }, schema: {} }, async (_request, reply) => reply.sendFile('index.html', root))

  app.get<{ Params: { file: string } }>('/static/:file', { config: { role: 'public' }, schema: {} }, async (request, reply) => {
    const type = STATIC_FILES[request.params.file]
    if (!Object.hasOwn(STATIC_FILES, request.params.file) || type === undefined) return sendError(reply, 'NOT_FOUND', 'no such static file')
    return reply.type(type).sendFile(request.params.file, root)
  })

  for (const file of ['mpegts.js', 'mpegts.js.map']) {
    app.get(`/static/vendor/${file}`, { config: { role: 'public' }, schema: {} }, async (_request, reply) => reply.sendFile(file, MPEGTS_DIR))
  }

  app.route({
    method: 'GET',
    url: '/api/v1/ws',
    config: { role: 'viewer' },
    schema: {},
    handler: async (_request, reply) => sendError(reply, 'BAD_REQUEST', 'this endpoint speaks WebSocket: send an Upgrade request'),
    wsHandler: (socket, request) => {
      runWsSession(socket, {
        feed: deps.feed,
        state: deps.state,
        secrets: deps.secrets,
        log: request.log,
        ...(deps.wsPingIntervalMs === undefined ? {} : { pingIntervalMs: deps.wsPingIntervalMs }),
      })
    },
  })
}

export const wsServerOptions = {
  maxPayload: MAX_CLIENT_MESSAGE_BYTES,
  // Scripts may offer their token as a second protocol (the page sends its cookie):
  // answer `vigil`, never echo the token back.
  handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
}
