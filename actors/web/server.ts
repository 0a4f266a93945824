import fastifyWebsocket from '@fastify/websocket'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import type { AlertLog } from '../../infra/alerts.js'
import type { DiskProbe } from '../../infra/disk.js'
import type { Feed } from '../../infra/feed.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import { checkAuth, sameOrigin, type AuthPolicy } from './auth.js'
import { createReadiness } from './health.js'
import { clientErrorResponse, errorBody, errorSchema, handleError, sendError } from './httpErrors.js'
import type { RecordingView, WebMetrics } from './metrics.js'
import { registerApiRoutes } from './routes/api.js'
import { registerFileRoutes } from './routes/files.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerLiveRoutes, wsServerOptions } from './routes/live.js'
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

/**
 * The Fastify instance with every route of DESIGN.md §5, not yet listening.
 * Built fresh for every start of the web actor: nothing survives a restart but
 * what the deps hold (metrics, alerts, the feed).
 */
export async function buildWebServer(deps: WebServerDeps, auth: AuthPolicy): Promise<FastifyInstance> {
  const log = deps.log
  const secrets = auth.token ? [auth.token] : []
  const app = Fastify({
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
      const response = socket.destroyed ? null : clientErrorResponse(err as NodeJS.ErrnoException, newTraceId())
      if (response !== null && socket.writable) socket.write(response)
      socket.destroy()
    },
    frameworkErrors: (error, request, reply) => {
      // The router refused the URL before any hook ran: set what the hooks would have.
      void (reply as FastifyReply)
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

  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!sameOrigin(request.headers.origin, request.headers.host)) {
      await sendError(reply, 'FORBIDDEN', 'cross-origin request refused')
      return
    }
    const result = checkAuth(auth, request.headers)
    if (!result.ok) {
      reply.header('WWW-Authenticate', 'Bearer realm="vigil"')
      await sendError(reply, 'UNAUTHORIZED', result.reason)
    }
  }

  const monotonic = deps.monotonic ?? (() => performance.now())
  const state = () => rigState({ node: deps.node, supervisor: deps.supervisor, alerts: deps.alerts, ports: deps.ports, secrets })
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

  await app.register(fastifyWebsocket, { options: wsServerOptions })
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
  registerApiRoutes(app, { router: deps.router, alerts: deps.alerts, state, guard })
  registerFileRoutes(app, deps.dirs)
  await registerLiveRoutes(app, {
    feed: deps.feed,
    state,
    secrets,
    guard,
    ...(deps.webDir === undefined ? {} : { webDir: deps.webDir }),
    ...(deps.wsPingIntervalMs === undefined ? {} : { wsPingIntervalMs: deps.wsPingIntervalMs }),
  })
  for (const plugin of deps.plugins ?? []) await app.register(plugin)
  return app
}
