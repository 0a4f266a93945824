import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
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
 * The page talks to its own origin; the video comes from the media server's
 * HTTP-FLV port (another origin), fetched by mpegts.js and fed to MSE as blobs.
 */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' ws: wss: http: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

export interface LiveDeps {
  webDir?: string
  feed: Feed
  state: () => RigState
  secrets: string[]
  /** onRequest for the WebSocket upgrade (auth, same-origin). */
  guard: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  wsPingIntervalMs?: number
}

export async function registerLiveRoutes(app: FastifyInstance, deps: LiveDeps): Promise<void> {
  const root = deps.webDir ?? WEB_DIR
  await app.register(fastifyStatic, {
    root,
    prefix: '/static/',
    index: false,
    list: false,
    dotfiles: 'deny',
    // Served straight from the repo: always revalidate (cheap with the ETag) so an update is seen.
    cacheControl: true,
    maxAge: 0,
  })

  app.get('/', { schema: {} }, async (_request, reply) =>
    reply.header('Content-Security-Policy', PAGE_CSP).header('X-Frame-Options', 'DENY').sendFile('index.html', root),
  )

  for (const file of ['mpegts.js', 'mpegts.js.map']) {
    app.get(`/static/vendor/${file}`, { schema: {} }, async (_request, reply) => reply.sendFile(file, MPEGTS_DIR))
  }

  app.route({
    method: 'GET',
    url: '/api/v1/ws',
    schema: {},
    onRequest: deps.guard,
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
  // The page offers `vigil` (and, on a public bind, its token as a second protocol):
  // answer `vigil`, never echo the token back.
  handleProtocols: (protocols: Set<string>) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
}
