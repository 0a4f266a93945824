import { createActor, fromCallback, fromPromise, type Actor, type ActorOptions } from 'xstate'
import { mediaMachine, mediaStateName, type MediaServerCommand, type MediaServerEvent, type MediaServerInput } from '../../machines/media.machine.js'
import {
  HEARTBEAT_INTERVAL_MS,
  startHeartbeatWatch,
  watchHeartbeat,
  type HeartbeatEvent,
  type HeartbeatWatch,
} from '../../machines/media.heartbeat.js'
import { systemClock, type Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { probeMediaHttp } from './probe.js'
import { forkMediaServer } from './spawn.js'
import type { MediaSpare } from './spare.js'
import { flvUrl, rtmpUrl, type MediaPorts } from './urls.js'
import type { MediaSigner } from './signer.js'

export { flvUrl, rtmpUrl, signedFlvUrl, signedRtmpUrl, streamPath, healthUrl, type MediaPorts } from './urls.js'
export { MediaSigner, PROCESS_SIGN_TTL_S } from './signer.js'
export { pickFreePort, resolveMediaPorts } from './ports.js'
export { spawnMediaServer, MEDIA_SERVER_ENTRY } from './spawn.js'
export { createMediaSpare, type MediaSpare } from './spare.js'
export { mediaStateName } from '../../machines/media.machine.js'

export interface MediaActorConfig extends MediaPorts {
  probeIntervalMs: number
  probeMisses: number
  /** `media.heartbeatTimeoutMs`; default MEDIA_DEFAULTS (1500). */
  heartbeatTimeoutMs?: number
  startTimeoutMs?: number
  stopGraceMs?: number
}

export interface MediaActorDeps {
  /** Real ports (resolve config port 0 first with `resolveMediaPorts`). */
  config: MediaActorConfig
  processes: ProcessOwner
  log: Logger
  /** The rig's media secret: one per rig start, shared with every client the rig runs. */
  signer: MediaSigner
  /** node-media-server's store dir, e.g. `<dataDir>/media`; default under the OS temp dir. */
  dataDir?: string
  /** Times the heartbeats (monotonic); default the system clock. */
  clock?: Pick<Clock, 'monotonic'>
  /** A warm spare to start from (spare.ts); absent: every start forks a new server. */
  spare?: MediaSpare
}

export type MediaActor = Actor<typeof mediaMachine>

function checkPorts(config: MediaActorConfig): void {
  for (const key of ['rtmpPort', 'httpPort'] as const) {
    const port = config[key]
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`media.${key} must be a real port (got ${port}); resolve 0 with resolveMediaPorts() before creating the actor`)
    }
  }
}

/** The media machine with its process and probe implementations. */
export function provideMedia(deps: MediaActorDeps) {
  checkPorts(deps.config)
  const { log } = deps
  const ports: MediaPorts = { rtmpPort: deps.config.rtmpPort, httpPort: deps.config.httpPort }
  const probeTimeoutMs = Math.max(200, Math.min(1000, Math.floor(deps.config.probeIntervalMs / 2)))

  const clock = deps.clock ?? systemClock

  const runServer = fromCallback<MediaServerCommand, MediaServerInput>(({ sendBack, receive, input }) => {
    const send = (e: MediaServerEvent) => sendBack(e)
    // The heartbeat watch (machines/media.heartbeat.ts) runs from the ready report until
    // it reports a silence or the machine asks for a stop; its timer is this actor's.
    const settings = { timeoutMs: input.heartbeatTimeoutMs, checkEveryMs: HEARTBEAT_INTERVAL_MS }
    let watch: HeartbeatWatch | null = null
    let checks: NodeJS.Timeout | undefined
    const stopWatching = () => {
      clearInterval(checks)
      watch = null
    }
    const step = (event: HeartbeatEvent) => {
      if (watch === null) return
      const next = watchHeartbeat(watch, event, settings)
      watch = next.watch
      if (next.silentMs === null) return
      stopWatching()
      log.warn({ pid: proc.pid, silentMs: Math.round(next.silentMs), heartbeatTimeoutMs: settings.timeoutMs }, 'media server silent: frozen?')
      send({ type: 'MEDIA.UNRESPONSIVE', silentMs: next.silentMs })
    }
    const warm = deps.spare?.take() ?? null
    const forked = warm ?? forkMediaServer(deps.processes, { ports, ...(deps.dataDir ? { dataDir: deps.dataDir } : {}), log })
    const proc = forked.proc
    if (warm) log.info({ pid: proc.pid }, 'media server started from the warm spare')
    forked.activate(deps.signer, {
      onReady: (m) => {
        log.info({ pid: m.pid, rtmp: rtmpUrl(ports), flv: flvUrl(ports), warm: warm !== null }, 'media server ready')
        watch = startHeartbeatWatch(clock.monotonic())
        checks = setInterval(() => step({ type: 'check', now: clock.monotonic() }), HEARTBEAT_INTERVAL_MS)
        send({ type: 'MEDIA.READY' })
        deps.spare?.prepareLater()
      },
      onHeartbeat: () => step({ type: 'beat', now: clock.monotonic() }),
    })
    if (proc.pid > 0) send({ type: 'MEDIA.STARTED', pid: proc.pid })
    void proc.exited.then((info) => {
      stopWatching()
      send({ type: 'MEDIA.EXITED', reason: info.reason, normal: info.normal, stderr: proc.stderrTail() })
    })
    receive((cmd) => {
      if (cmd.type !== 'STOP') return
      // A stopping server stops its heartbeats; that silence is not a freeze.
      stopWatching()
      // Closing the channel is the server's orderly stop (the same path as "parent died").
      if (proc.child.connected) proc.child.disconnect()
    })
    return () => {
      stopWatching()
      // A server still running here is frozen, wedged, deaf to its probe, never ready or
      // ignoring its stop: SIGKILL (it holds no footage to flush; a stopped process dies
      // too) frees its ports at once for the supervisor's immediate restart, where a
      // SIGTERM grace left a wedged one holding them while the new one started.
      if (proc.isRunning()) proc.signal('SIGKILL')
    }
  })

  const probe = fromPromise<void>(async ({ signal }) => {
    try {
      await probeMediaHttp(ports, { timeoutMs: probeTimeoutMs, signal })
    } catch (err) {
      log.warn({ err: (err as Error).message, httpPort: ports.httpPort }, 'media health probe missed')
      throw err
    }
  })

  return mediaMachine.provide({ actors: { runServer, probe } })
}

/** An unstarted media actor (the supervisor starts it through `mediaChild`). */
export function createMediaActor(
  deps: MediaActorDeps,
  options: Omit<ActorOptions<ReturnType<typeof provideMedia>>, 'input'> = {},
): MediaActor {
  const { probeIntervalMs, probeMisses, heartbeatTimeoutMs, startTimeoutMs, stopGraceMs } = deps.config
  const input = {
    probeIntervalMs,
    probeMisses,
    ...(heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs } : {}),
    ...(startTimeoutMs !== undefined ? { startTimeoutMs } : {}),
    ...(stopGraceMs !== undefined ? { stopGraceMs } : {}),
  }
  return createActor(provideMedia(deps), { ...options, input }) as MediaActor
}

/** The supervisor's child factory: a fresh process and machine per (re)start. */
export function mediaChild(deps: MediaActorDeps): ChildFactory {
  return () => machineChild(() => createMediaActor(deps), { stateName: mediaStateName })
}

export interface MediaStatus {
  state: string
  pids: number[]
  ports: MediaPorts
  rtmpUrl: string
  flvUrl: string
  lastError: string | null
}

export function mediaStatus(actor: MediaActor, ports: MediaPorts): MediaStatus {
  const s = actor.getSnapshot()
  return {
    state: mediaStateName(s.value),
    pids: s.context.pids,
    ports,
    rtmpUrl: rtmpUrl(ports),
    flvUrl: flvUrl(ports),
    lastError: s.context.lastError,
  }
}
