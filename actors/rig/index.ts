import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Config } from '../../infra/config/schema.js'
import { PRIVATE_UMASK, prepareDataDir, type DataDirs } from '../../infra/config/load.js'
import type { Logger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import { systemClock, type Clock } from '../../infra/clock.js'
import { AlertLog, type Alert, type AlertInput } from '../../infra/alerts.js'
import { createFeed, type Feed } from '../../infra/feed.js'
import { EventRing } from '../../infra/eventRing.js'
import { PreviewState } from '../../infra/preview.js'
import { isPortFree, resolvePort } from '../../infra/ports.js'
import { resolveFfmpeg, resolveNatsServer } from '../../infra/binaries.js'
import { createBus, type Bus } from '../../infra/nats/bus.js'
import { MessageOutbox } from '../../infra/nats/outbox.js'
import { connectNats } from '../../infra/nats/connect.js'
import { natsCredentialOptions } from '../../infra/nats/credentials.js'
import { keepStreams } from '../../infra/nats/streams.js'
import { createCommandRouter, type CommandRouter } from '../../infra/nats/commands.js'
import { createIdempotencyStore } from '../../infra/nats/idempotency.js'
import { createSupervisor, type SupervisedChild, type SupervisorHandle } from '../supervisor/index.js'
import { registerSupervisorCommands } from './commands.js'
import { createEventLog } from '../inspect/events.js'
import { createStatelyBridge } from '../inspect/stately.js'
import { createLogFiles, type LogFiles } from '../logs/index.js'
import { createWebMetrics } from '../web/index.js'
import { MediaSigner } from '../media/signer.js'
import { createMediaSpare } from '../media/spare.js'
import { embeddedNatsChild } from './natsChild.js'
import { createRigPresence } from '../fleet/presence.js'
import { mqttChildren } from './mqttChild.js'
import { defaultChildren, shutdownOrder, type RigContext, type SpecBuilder } from './children.js'

export interface RigPorts {
  nats: number | null
  /** The embedded server's MQTT listener (null on nats.servers). */
  mqtt: number | null
  web: number
  rtmp: number
  flv: number
}

export interface RigOptions {
  config: Config
  log: Logger
  clock?: Clock
  processes?: ProcessOwner
  /** Replace the subsystem children (tests supervise test children). The nats child is kept. */
  children?: (ctx: RigContext, spec: SpecBuilder) => SupervisedChild[]
  /** The rotated log files; `vigil start` opens them before the logger. Made here when absent. */
  logFiles?: LogFiles
  /** `--inspect stately`: also stream every actor to Stately's inspector (WebSocket, default ws://localhost:8080). */
  inspect?: 'stately' | 'none'
  statelyUrl?: string
}

/** The rig cannot start as configured (a port in use, a missing binary): exit 1 with this line. */
export class RigStartError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RigStartError'
  }
}

export interface Rig {
  node: string
  ports: RigPorts
  dirs: DataDirs
  supervisor: SupervisorHandle
  router: CommandRouter
  bus: Bus
  alerts: AlertLog
  /** Raises an alert the way every actor does: alert log, log line, bus, feed. */
  alert(input: AlertInput): Alert
  feed: Feed
  /** The last 200 events (motion, sound, recording.*), newest first: GET /api/v1/events. */
  events: EventRing
  /** The preview level the governor set (full, low, off): the live routes and the page follow it. */
  preview: PreviewState
  processes: ProcessOwner
  /** Signs media URLs for this rig's media server (in-process tools and tests: a peer publisher). */
  mediaSigner: MediaSigner
  /** First call: orderly shutdown bounded by shutdown.timeoutMs; a second call forces. */
  requestShutdown(reason: string): void
  /** Resolves with the exit code: 0 after an orderly stop, 1 when it had to be forced. */
  exited: Promise<number>
}

/**
 * The composition root: builds the supervisor tree for one rig from its config,
 * connects it to NATS, and owns the shutdown sequence of DESIGN.md §3.
 */
export async function startRig(opts: RigOptions): Promise<Rig> {
  const { config, log } = opts
  const clock = opts.clock ?? systemClock
  const processes = opts.processes ?? new ProcessOwner()
  const node = config.node
  // Every file the rig and its children make is the rig user's alone (ffmpeg's segments
  // included: children inherit the mask). Process-wide on purpose: one rig per process.
  process.umask(PRIVATE_UMASK)
  const dirs = prepareDataDir(config.dataDir, {
    onDegraded: (problem) => log.warn({ problem }, 'log dir not writable: starting anyway, log lines are dropped until it is'),
    onLoose: (path, reason) => log.warn({ path, reason }, 'could not make a data dir private (0700): others may read it'),
  })
  const embedded = config.nats.servers.length === 0
  const ports: RigPorts = {
    nats: embedded ? await resolvePort(config.nats.port, config.nats.host) : null,
    mqtt: embedded ? await resolvePort(config.nats.mqttPort, config.nats.host) : null,
    web: await resolvePort(config.web.port, config.web.host),
    rtmp: await resolvePort(config.media.rtmpPort),
    flv: await resolvePort(config.media.httpPort),
  }
  if (ports.nats !== null && !(await isPortFree(ports.nats, config.nats.host))) {
    throw new RigStartError(
      `port ${ports.nats} on ${config.nats.host} is in use (another nats-server?): set VIGIL_NATS_PORT to a free port, 0 to pick one, or VIGIL_NATS_SERVERS to use that server`,
    )
  }
  if (ports.mqtt !== null && !(await isPortFree(ports.mqtt, config.nats.host))) {
    throw new RigStartError(
      `MQTT port ${ports.mqtt} on ${config.nats.host} is in use (a mosquitto broker?): set VIGIL_MQTT_PORT to a free port, or 0 to pick one`,
    )
  }
  const natsBinary = embedded ? await resolveNatsServer(process.env) : null
  if (embedded && !natsBinary) {
    throw new RigStartError('nats-server not found: install the Debian package "nats-server" (apt-get install nats-server) or set NATS_SERVER_BIN')
  }
  const ffmpeg = await resolveFfmpeg(process.env)
  if (!ffmpeg) throw new RigStartError('ffmpeg not found: install the Debian package "ffmpeg" (apt-get install ffmpeg) or set FFMPEG_PATH')
  log.info({ ports, dataDir: dirs.root, embeddedNats: embedded, ffmpeg: ffmpeg.path }, 'starting rig')

  const alerts = new AlertLog({ node, now: () => clock.now() })
  // Alerts and events raised while no server takes them survive a restart (DESIGN.md §9.4).
  const outbox = await MessageOutbox.open({ dir: join(dirs.root, 'outbox'), ...config.nats.outbox, log: log.child({ component: 'outbox' }), now: () => clock.now() })
  const bus = createBus({ node, log, clock, maxBuffered: config.nats.publishBuffer, outbox })
  const logFiles = opts.logFiles ?? createLogFiles({ dir: dirs.logs, config: config.logs })
  // Made before the router, so the command latency histogram outlives web restarts.
  const webMetrics = createWebMetrics({ node })
  const router = createCommandRouter({
    node,
    log,
    clock,
    // DESIGN.md §9.5: a retry after a restart gets the reply its first try got.
    idempotency: createIdempotencyStore({ file: join(dirs.root, 'commands', 'idempotency.jsonl'), now: () => clock.now(), log }),
    onCommand: (record) => {
      webMetrics.observeCommand(record)
      logFiles.commandLog.write(record)
    },
  })
  const feed = createFeed()
  // Follows the feed from before any child starts, for the rig's whole life (the feed is the rig's).
  const events = new EventRing()
  events.follow(feed)
  // The governor sets it, the web's live routes and the page follow it; made here so it
  // outlives restarts of both. Each change goes on the feed: open pages switch at once.
  const preview = new PreviewState({ now: () => clock.now(), onListenerError: (err) => log.warn({ err }, 'a preview listener failed') })
  preview.subscribe((p) => {
    log.info({ preview: p.level, reason: p.reason }, `preview ${p.level}: ${p.reason}`)
    feed.next({ type: 'preview', level: p.level, reason: p.reason, at: p.since })
  })
  const raise = (input: AlertInput) => {
    const alert = alerts.add(input)
    const level = input.severity === 'critical' ? 'error' : input.severity === 'warning' ? 'warn' : 'info'
    log[level]({ alert: { code: alert.code, source: alert.source, count: alert.count } }, input.message)
    bus.publishAlert(alert)
    feed.next({ type: 'alert', alert })
    return alert
  }
  // Lost alerts are worth an alert: it is the newest, so the outbox keeps it, and the alert log has it.
  outbox.onDrops((d) => {
    if (d.phase === 'started') {
      raise({ source: 'nats', severity: 'warning', code: 'nats.outbox_full', message: `no NATS server has taken alerts and events for a while: the outbox is full (${d.maxMessages} messages or ${d.maxBytes} bytes), dropping the oldest`, details: d })
    } else {
      raise({ source: 'nats', severity: 'info', code: 'nats.outbox_drained', message: `the outbox is below half its bound again; ${d.dropped} of the oldest alerts and events were dropped meanwhile`, details: { dropped: d.dropped } })
    }
  })
  const publishState = (actor: string, state: string, details: Record<string, unknown>) => {
    bus.publishState(actor, state, details)
    feed.next({ type: 'state', actor, state, at: new Date(clock.now()).toISOString(), details })
  }
  // Every event carries an id, like alerts: webhook and MQTT receivers dedupe by it, the page keys its list by it.
  const publishEvent = (kind: string, payload: Record<string, unknown>) => {
    const withId = { id: randomUUID(), ...payload }
    bus.publishEvent(kind, withId)
    feed.next({ type: 'event', kind, payload: withId, at: new Date(clock.now()).toISOString() })
  }

  let nc: NatsConnection | undefined
  let connecting: Promise<void> | undefined
  // Ends a connect still waiting for a server that answers or accepts the login, at shutdown.
  const stopDialling = new AbortController()
  const connect = () => {
    const servers = embedded ? [`nats://127.0.0.1:${ports.nats}`] : config.nats.servers
    const onLoginRefused = () =>
      raise({ source: 'nats', severity: 'critical', code: 'nats.login_refused', message: 'the NATS server refuses this rig\'s credentials (nats.auth); still trying' })
    const dial = async () => {
      const credentials = natsCredentialOptions(config.nats, node)
      return connectNats({ servers, name: `vigil-${node}`, log, credentials, onLoginRefused, signal: stopDialling.signal })
    }
    connecting ??= dial().then(async (conn) => {
      nc = conn
      // Alerts and last states outlive the rig in JetStream (DESIGN.md §1), on every
      // server the client reaches (a restarted one may have lost its store); never throws.
      // The bus sends what waited only once they exist, so that is stored too.
      // Driven by the bus: one pass per connection, awaited before the backlog goes out.
      const streams = keepStreams(conn, { log, driven: true })
      bus.attach(conn, { beforeResume: () => streams.refresh() })
      await router.listen(conn)
      presence.attach(conn)
      await streams.idle()
    }).catch((err: unknown) => {
      // Dialling ends this way at shutdown; otherwise a seed or CA file gone since the config was checked.
      if (!stopDialling.signal.aborted) log.error({ err }, 'nats: cannot connect')
    })
    return connecting
  }

  // Step 6 of the shutdown: everything else has stopped; say so, then drain.
  let finalPublish: Promise<void> | undefined
  const publishShutdownComplete = () => {
    finalPublish ??= (async () => {
      bus.publishState('supervisor', 'shutdown_complete', { uptimeS: supervisor.uptimeS() })
      // Before the drain: the fleet hears "stopped" (a warning), not a silence (critical).
      await presence.goodbye()
      await bus.flush().catch((err: unknown) => log.warn({ err }, 'flush before shutdown failed'))
      await router.close()
      if (nc && !nc.isClosed()) await nc.drain().catch((err: unknown) => log.warn({ err }, 'nats drain failed'))
    })()
    return finalPublish
  }

  // Literal secrets the inspectors never send.
  const secrets = config.web.token ? [config.web.token] : []
  const inspectEvents = createEventLog({ secrets })
  // One media secret per rig start: media restarts keep it, so clients' URLs stay valid.
  const mediaSigner = new MediaSigner()
  const mediaSpare = createMediaSpare({
    processes,
    ports: { rtmpPort: ports.rtmp, httpPort: ports.flv },
    dataDir: join(dirs.root, 'media'),
    log: log.child({ actor: 'media', part: 'spare' }),
    enabled: config.media.warmSpare,
  })
  const ctx: RigContext = { config, log, clock, processes, dirs, ports, node, ffmpegPath: ffmpeg.path, mediaSigner, mediaSpare, logFiles, webMetrics, inspectEvents, alert: raise, publishState, publishEvent, feed, events, preview, bus, router, alerts, supervisor: () => supervisor, natsConnection: () => nc }
  const spec: SpecBuilder = (id, over) => ({
    id,
    restart: 'permanent',
    shutdownMs: config.supervisor.shutdownMs,
    startTimeoutMs: config.supervisor.startTimeoutMs,
    backoff: config.supervisor.backoff,
    intensity: config.supervisor.intensity,
    parkMs: config.supervisor.parkMs,
    ...over,
  })
  const children = [
    ...(embedded ? [spec('nats', { factory: embeddedNatsChild(ctx, natsBinary!.path, publishShutdownComplete) })] : []),
    ...(opts.children ? opts.children(ctx, spec) : await defaultChildren(ctx, spec)),
    ...mqttChildren(ctx, spec),
  ]

  // DESIGN.md §9.4: this rig's entry in vigil_rigs, and its watch over every other rig's.
  const presence = createRigPresence({
    node,
    heartbeatS: config.fleet.heartbeatS,
    log,
    clock,
    alert: raise,
    // Tried first; an identity that may not (a rig under `vigil nats-config`) uses the one `vigil fleet init` made.
    createBucket: true,
    summary: () => ({
      state: supervisor.state(),
      uptimeS: supervisor.uptimeS(),
      ports: { ...ports },
      children: supervisor.children().map((c) => ({ id: c.id, state: c.state, status: c.status, restarts: c.restarts })),
    }),
  })

  const stately =
    (opts.inspect ?? config.inspect) === 'stately'
      ? createStatelyBridge({ ...(opts.statelyUrl ? { url: opts.statelyUrl } : {}), secrets })
      : undefined
  const supervisor = createSupervisor({
    ...(stately ? { inspect: stately.inspect } : {}),
    children,
    shutdownOrder,
    log,
    alert: raise,
    onChildState: (id, state, details) => {
      publishState(id, state, details)
      presence.changed()
      if (id === 'nats' && state === 'running') void connect()
    },
    onState: (state) => {
      if (state !== 'shutdown_complete') publishState('supervisor', state, {})
      presence.changed()
    },
  })

  let settleExit!: (code: number) => void
  const exited = new Promise<number>((resolve) => {
    settleExit = resolve
  })
  // Log files this rig opened itself are its to close (`vigil start` opens and closes
  // its own): each rig made in one process would otherwise keep its files open.
  let exiting: Promise<void> | undefined
  const resolveExit = (code: number) => {
    exiting ??= Promise.all([
      opts.logFiles ? Promise.resolve() : logFiles.close().catch((err: unknown) => log.warn({ err }, 'closing the log files failed')),
      // What no server took yet stays on disk for the next start.
      outbox.close().catch((err: unknown) => log.warn({ err }, 'closing the outbox failed')),
    ]).then(() => settleExit(code))
  }
  let shuttingDown = false
  let forceTimer: NodeJS.Timeout | undefined
  const force = (why: string) => {
    log.error({ why }, 'forced shutdown: killing what is left')
    presence.stop()
    mediaSpare.dispose()
    supervisor.killAll()
    processes.killAll()
    clearTimeout(forceTimer)
    resolveExit(1)
  }
  const requestShutdown = (reason: string) => {
    if (shuttingDown) return force(`second request (${reason})`)
    shuttingDown = true
    stopDialling.abort()
    // No restart follows a shutdown: the media server's spare has nothing left to wait for.
    mediaSpare.dispose()
    log.info({ reason }, 'shutting down')
    router.setAccepting(false)
    // The bound is owned by the shutdown and cleared when it completes.
    forceTimer = setTimeout(() => force(`shutdown took longer than ${config.shutdown.timeoutMs} ms`), config.shutdown.timeoutMs)
    void supervisor
      .shutdown()
      .then(publishShutdownComplete)
      .then(() => {
        clearTimeout(forceTimer)
        stately?.stop()
        inspectEvents.close()
        log.info('shutdown complete')
        resolveExit(0)
      })
  }

  registerSupervisorCommands(router, { node, supervisor, ports, alerts, bus, requestShutdown })
  // Followed before the tree starts: the first instances' timelines begin at their first event.
  inspectEvents.follow(supervisor)
  stately?.start(() => supervisor)
  supervisor.start()
  if (!embedded) void connect()

  return { node, ports, dirs, supervisor, router, bus, alerts, alert: raise, feed, events, preview, processes, mediaSigner, requestShutdown, exited }
}
