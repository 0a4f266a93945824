import fastifyWebsocket from '@fastify/websocket'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify'
import type { AlertLog } from '../../infra/alerts.js'
import type { DiskProbe } from '../../infra/disk.js'
import type { Feed } from '../../infra/feed.js'
import type { EventRing } from '../../infra/eventRing.js'
import type { PreviewView } from '../../infra/preview.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { AuthPolicy } from './auth.js'
import { createReadiness } from './health.js'
import { clientErrorResponse, errorBody, errorSchema, handleError, sendError } from './httpErrors.js'
import type { RecordingView, WebMetrics } from './metrics.js'
import { registerApiRoutes } from './routes/api.js'
import { registerFileRoutes } from './routes/files.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerRecordingsRoutes } from './routes/recordings.js'
import { WEB_DIR, registerLiveRoutes, wsServerOptions } from './routes/live.js'
import { securityHeaders } from './security/headers.js'
import { securityPlugin, type SecurityState } from './security/index.js'
import { rigState, type SupervisorView } from './state.js'
import { RESPONSE_TIME_HEADER, addTraceHooks, responseTimeMs, traceIdOfRequest } from './trace.js'
import { newTraceId } from '../../infra/nats/codec.js'

/** Everything the server is built from; the web actor adds only the bind and timings. */
export interface WebServerDeps {
  node: string
  log: Logger
  router: CommandRouter
  alerts: AlertLog
  feed: Feed
  /** The rig's recent events (GET /api/v1/events): made once per rig, outlives web restarts. */
  events: EventRing
  /** The rig's preview level (made once per rig): in the sync state, live on the feed. */
  preview: PreviewView
  supervisor: () => SupervisorView
  dirs: { recordings: string; snapshots: string }
  /** Reported in /api/v1/state: the page builds the video URL from `flv`. */
  ports: { flv: number } & Record<string, number | null>
  disk: DiskProbe
  /** Readiness: disk free must stay above this (config recorder.stopBelowBytes). */
  stopBelowBytes: number
  natsConnected: () => boolean
  mediaReachable?: () => Promise<boolean>
  metrics: WebMetrics
  recorderStatus?: () => RecordingView
  /** Extra routes (the inspector's /inspect), registered inside the server. */
  plugins?: FastifyPluginAsync[]
  webDir?: string
  monotonic?: () => number
  /** Requests slower than this are logged at warn. */
  slowMs?: number
  readyCacheMs?: number
  wsPingIntervalMs?: number
}

/** How the server is reached and who may use it (DESIGN.md §9.1). */
export interface WebAccess {
  auth: AuthPolicy
  /** web.host, on the Host allow-list with the port. */
  bindHost: string
  allowedHosts?: readonly string[]
  /** PEM cert and key: serve HTTPS. */
  tls?: { cert: string; key: string }
  /** Sessions and the login limiter: made once per rig, outliving server restarts. */
  security: SecurityState
}

/**
 * The Fastify instance with every route of DESIGN.md §5, not yet listening.
 * Built fresh for every start of the web actor: nothing survives a restart but
 * what the deps hold (metrics, alerts, the feed).
 */
export async function buildWebServer(deps: WebServerDeps, access: WebAccess): Promise<FastifyInstance> {
  const log = deps.log
  const { auth } = access
  const secrets = auth.token ? [auth.token] : []
  const tls = access.tls !== undefined
  const app = Fastify({
    ...(access.tls ? { https: { cert: access.tls.cert, key: access.tls.key } } : {}),
    // The rig's pino logger: one logger tree (requests are children carrying traceId).
    loggerInstance: log as FastifyBaseLogger,
    genReqId: traceIdOfRequest,
    // Per-request lines come from our onResponse hook (debug, or warn when slow).
    logController: new LogController({ requestIdLogLabel: 'traceId', disableRequestLogging: true }),
    // A download or a WebSocket must not keep a stop waiting forever.
    forceCloseConnections: true,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 500 },
    // Misspelt fields are refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
    clientErrorHandler: (err, socket) => {
      const response = socket.destroyed ? null : clientErrorResponse(err as NodeJS.ErrnoException, newTraceId(), securityHeaders({ tls }))
      if (response !== null && socket.writable) socket.write(response)
      socket.destroy()
    },
    frameworkErrors: (error, request, reply) => {
      // The router refused the URL before any hook ran: set what the hooks would have.
      void (reply as FastifyReply)
        .headers(securityHeaders({ tls }))
        .header('X-Trace-ID', request.id)
        .header(RESPONSE_TIME_HEADER, responseTimeMs(0))
        .code(400)
        .header('Content-Type', 'application/json; charset=utf-8')
        .send(errorBody('BAD_REQUEST', error.message))
    },
  })
  app.addSchema(errorSchema)
  app.setErrorHandler(handleError)
  app.setNotFoundHandler((request, reply) => sendError(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  addTraceHooks(app, { slowMs: deps.slowMs ?? 200, metrics: deps.metrics })
  // Before security: its onRequest marks an upgrade so its onResponse closes the socket of
  // one security refused (registered after, a refused upgrade would leave the socket open).
  await app.register(fastifyWebsocket, { options: wsServerOptions })
  // Before any route: its onRoute refuses a route without a role, its onRequest guards them all.
  await app.register(securityPlugin, {
    auth,
    bindHost: access.bindHost,
    ...(access.allowedHosts ? { allowedHosts: access.allowedHosts } : {}),
    tls,
    state: access.security,
    webDir: deps.webDir ?? WEB_DIR,
  })

  const monotonic = deps.monotonic ?? (() => performance.now())
  const state = () => rigState({ node: deps.node, supervisor: deps.supervisor, alerts: deps.alerts, preview: deps.preview, ports: deps.ports, secrets })
  const readiness = createReadiness({
    supervisor: deps.supervisor,
    natsConnected: deps.natsConnected,
    ...(deps.mediaReachable ? { mediaReachable: deps.mediaReachable } : {}),
    disk: deps.disk,
    diskPath: deps.dirs.recordings,
    stopBelowBytes: deps.stopBelowBytes,
    monotonic,
    ...(deps.readyCacheMs === undefined ? {} : { ttlMs: deps.readyCacheMs }),
  })

  registerHealthRoutes(app, {
    uptimeS: () => deps.supervisor().uptimeS(),
    readiness,
    metrics: deps.metrics,
    metricsSource: {
      supervisor: deps.supervisor,
      alertCounts: () => deps.alerts.counts(),
      ...(deps.recorderStatus ? { recorderStatus: deps.recorderStatus } : {}),
    },
  })
  registerApiRoutes(app, { router: deps.router, alerts: deps.alerts, state })
  registerFileRoutes(app, deps.dirs, { node: deps.node })
  registerRecordingsRoutes(app, { router: deps.router, events: deps.events, webDir: deps.webDir ?? WEB_DIR, secrets })
  await registerLiveRoutes(app, {
    feed: deps.feed,
    state,
    secrets,
    ...(deps.webDir === undefined ? {} : { webDir: deps.webDir }),
    ...(deps.wsPingIntervalMs === undefined ? {} : { wsPingIntervalMs: deps.wsPingIntervalMs }),
  })
  for (const plugin of deps.plugins ?? []) await app.register(plugin)
  return app
}
