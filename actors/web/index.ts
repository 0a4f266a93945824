import type { FastifyInstance } from 'fastify'
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate'
import { webMachine, webStateName, type WebAlert, type WebProbeInput, type WebServerCommand, type WebServerEvent, type WebSettings } from '../../machines/web.machine.js'
import type { AlertInput } from '../../infra/alerts.js'
import { systemDisk, type DiskProbe } from '../../infra/disk.js'
import { EventRing } from '../../infra/eventRing.js'
import type { Feed } from '../../infra/feed.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { authPolicy, type WebUser } from './auth.js'
import { createWebMetrics, type WebMetrics } from './metrics.js'
import { probeWebHealth } from './probe.js'
import { buildWebServer, type WebServerDeps } from './server.js'
import { createSecurityState, type SecurityState } from './security/index.js'
import { loadWebTls, type WebTlsMode } from './security/tls.js'

export { webStateName } from '../../machines/web.machine.js'
export { createWebMetrics, type WebMetrics, type RecordingView } from './metrics.js'
export { authPolicy, authRequired, type WebUser } from './auth.js'
export { createSecurityState, type SecurityState } from './security/index.js'
export { webTlsMode, type WebTlsMode, type WebTlsSetting } from './security/tls.js'
export type { RigState, SupervisorView } from './state.js'

export interface WebConfig {
  host: string
  /** A real port, or 0 to pick one (reported in the machine's context and logged). */
  port: number
  token?: string
  /** web.users: names, scrypt hashes (`vigil passwd`), roles. */
  users?: readonly WebUser[]
  /** web.allowedHosts: further names the rig is reached by (the Host allow-list). */
  allowedHosts?: readonly string[]
  /** Resolved from web.tls and the bind (webTlsMode); absent: plain HTTP. */
  tls?: WebTlsMode
  /** Treat the bind as public even on loopback (tests of the public-bind path). */
  forceAuth?: boolean
}

export interface WebDeps extends Omit<WebServerDeps, 'disk' | 'metrics' | 'events'> {
  config: WebConfig
  /** Raise an alert (RigContext.alert): `web.down` when the server fails. */
  alert(input: AlertInput): void
  /** Default: statfs of the recordings dir's filesystem. */
  disk?: DiskProbe
  /** Made once per rig (createWebMetrics) and shared by every instance; made here when absent. */
  metrics?: WebMetrics
  /** The rig's recent events (RigContext.events); without one, a ring following `feed` (made once in webChild). */
  events?: EventRing
  /** Sessions and the login limiter, likewise once per rig (webChild makes them). */
  security?: SecurityState
  timing?: Partial<WebSettings> & { probeTimeoutMs?: number }
  /** Tests: the Fastify instance once it listens (to close it under the machine). */
  onListening?(app: FastifyInstance): void
}

/** A ring of its own for a web built without the rig's (tests): it follows the feed for the feed's life. */
function followingRing(feed: Feed): EventRing {
  const ring = new EventRing()
  ring.follow(feed)
  return ring
}

export type WebActor = Actor<ReturnType<typeof provideWeb>>

/** Node's listen errors, as the operator should read them. */
export function describeListenError(err: unknown, host: string, port: number): string {
  const e = err as NodeJS.ErrnoException
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use (another vigil or web server?): set VIGIL_WEB_PORT to a free port, or 0 to pick one`
    case 'EACCES':
      return `not permitted to listen on ${host}:${port} (ports below 1024 need privileges)`
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine (VIGIL_WEB_HOST)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `web.host ${host} does not resolve`
    default:
      return e instanceof Error ? e.message : String(err)
  }
}

/** The web machine with its server and probe provided. */
export function provideWeb(deps: WebDeps) {
  const { log, config } = deps
  const metrics = deps.metrics ?? createWebMetrics({ node: deps.node })
  const disk = deps.disk ?? systemDisk
  const security = deps.security ?? createSecurityState()
  const events = deps.events ?? followingRing(deps.feed)
  const probeIntervalMs = deps.timing?.probeIntervalMs ?? 2000
  const probeTimeoutMs = deps.timing?.probeTimeoutMs ?? Math.max(100, Math.min(1000, Math.floor(probeIntervalMs / 2)))

  const runServer = fromCallback<WebServerCommand>(({ sendBack, receive }) => {
    const send = (e: WebServerEvent) => sendBack(e)
    let app: FastifyInstance | undefined
    let closing: Promise<void> | undefined
    let disposed = false
    // Fastify's close is not for calling twice (stop, then the cleanup).
    const close = (): Promise<void> => (app ? (closing ??= app.close()) : Promise.resolve())
    const policy = authPolicy(config.host, { token: config.token, users: config.users }, { force: config.forceAuth === true })

    const start = async () => {
      if ('refused' in policy) throw Object.assign(new Error(policy.refused), { code: 'VIGIL_NO_TOKEN' })
      const tls = await loadWebTls(config.tls ?? { kind: 'off' }, { bindHost: config.host })
      if (tls !== null) {
        // The fingerprint is public (it is what a browser shows): the operator compares it on first visit.
        log.info({ fingerprint256: tls.fingerprint256, created: tls.created }, `web TLS certificate SHA-256 ${tls.fingerprint256}`)
      }
      const built = await buildWebServer(
        { ...deps, disk, metrics, events },
        {
          auth: policy,
          bindHost: config.host,
          ...(config.allowedHosts ? { allowedHosts: config.allowedHosts } : {}),
          ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
          security,
        },
      )
      app = built
      if (disposed) return void close()
      const auth = policy.required ? 'login or bearer token required' : 'no auth: loopback only'
      await built.listen({ host: config.host, port: config.port, listenTextResolver: (address) => `web listening at ${address} (${auth})` })
      if (disposed) return void close()
      const address = built.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : config.port
      deps.onListening?.(built)
      send({ type: 'WEB.LISTENING', host: config.host, port })
    }
    start().catch((err: unknown) => {
      const reason = describeListenError(err, config.host, config.port)
      log.error({ err: (err as Error).message, host: config.host, port: config.port }, 'web server could not start')
      void close().catch(() => {})
      if (!disposed) send({ type: 'WEB.LISTEN_FAILED', reason })
    })

    receive((cmd) => {
      if (cmd.type !== 'STOP') return
      close().then(
        () => send({ type: 'WEB.CLOSED' }),
        (err: unknown) => {
          log.warn({ err }, 'web server close failed')
          send({ type: 'WEB.CLOSED' })
        },
      )
    })

    return () => {
      disposed = true
      // Already closed on an orderly stop; after a failure or a kill this frees the port.
      close().catch((err: unknown) => log.warn({ err }, 'web server close failed'))
    }
  })

  const probe = fromPromise<void, WebProbeInput>(async ({ input, signal }) => {
    try {
      await probeWebHealth(input, { timeoutMs: probeTimeoutMs, signal, tls: config.tls !== undefined && config.tls.kind !== 'off' })
    } catch (err) {
      log.warn({ err: (err as Error).message, port: input.port }, 'web health probe missed')
      throw err
    }
  })

  return webMachine.provide({
    actors: { runServer, probe },
    actions: {
      raiseAlert: (_, alert: WebAlert) => deps.alert({ source: 'web', ...alert }),
    },
  })
}

/** An unstarted web actor (the supervisor starts it through `webChild`). */
export function createWebActor(deps: WebDeps): WebActor {
  const { probeTimeoutMs: _ignored, ...settings } = deps.timing ?? {}
  return createActor(provideWeb(deps), { input: settings })
}

/**
 * The supervisor's child factory: a fresh Fastify instance and machine per
 * (re)start. Create `metrics` once outside and pass it, or the command histogram
 * starts over with every restart.
 */
export function webChild(deps: WebDeps): ChildFactory {
  const shared: WebDeps = {
    ...deps,
    metrics: deps.metrics ?? createWebMetrics({ node: deps.node }),
    security: deps.security ?? createSecurityState(),
    events: deps.events ?? followingRing(deps.feed),
  }
  // Its probe loop (waiting ⇄ probing) is not news: the operator sees `listening`.
  return () => machineChild(() => createWebActor(shared), { stateName: webStateName })
}
