import { createActor, type Actor } from 'xstate'
import type { AlertInput } from '../../infra/alerts.js'
import type { Clock } from '../../infra/clock.js'
import type { Config } from '../../infra/config/schema.js'
import type { DiskProbe } from '../../infra/disk.js'
import { VigilError } from '../../infra/errors.js'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import {
  recorderMachine,
  recorderStateName,
  recorderStateNameOf,
  recorderTimingDefaults,
  type RecorderEventKind,
  type RecorderReply,
  type RecorderStateName,
  type SessionSummary,
} from '../../machines/recorder.machine.js'
import { machineChild } from '../supervisor/machineChild.js'
import type { ChildFactory, ChildInstance } from '../supervisor/child.js'
import { ExitTracker, ffmpegCaptureLogic } from './capture.js'
import { createSessionIds, type SessionIdSource } from './sessionId.js'
import { bridgeToFirstFootage } from './bridge.js'
import { bufferDirOf, createModeActor } from './mode.js'
import { createSessionStore, type RecorderConfig } from './store.js'
import type { SessionTrigger, StartTrigger } from '../../machines/recorder.types.js'
import type { RecordingMode } from '../../machines/recordingMode.machine.js'

export { recorderStateNameOf } from '../../machines/recorder.machine.js'
export type { SessionSummary } from '../../machines/recorder.machine.js'

export type { RecorderConfig } from './store.js'

export interface RecorderDeps {
  config: RecorderConfig & { node: string }
  recordingsDir: string
  /** The live stream (media server RTMP or HTTP-FLV); a function when the port is picked at start. */
  inputUrl: string | (() => string)
  ffmpegPath: string
  processes: ProcessOwner
  disk: DiskProbe
  clock: Clock
  log: Logger
  alert(a: AlertInput): void
  publishEvent(kind: RecorderEventKind, payload: Record<string, unknown>): void
  /** Shared across restarts so ids stay ordered; made here when absent. */
  sessionIds?: SessionIdSource
  /** Test and bench knobs; defaults are the operator's. */
  timing?: Partial<{
    diskProbeMs: number
    reconnectMs: number
    sourceWaitMs: number
    pollMs: number
    stopGraceMs: number
    readTimeoutMs: number
    /**
     * A requested stop keeps ffmpeg running this long (the stream arrives late). 300 ms: the
     * camera's stream reaches the recorder within ~0.1–0.2 s now that it leaves in step (it
     * left in bursts of up to 1 s, hence the old 500), and the stop reply must come in
     * ≤ 0.6 s (DESIGN §9.5): tail + ffmpeg's exit + finalize.
     */
    postRollMs: number
    /** continuous: pause before a new start after one failed. */
    modeRetryMs: number
  }>
}

/** `recorder.status` (DESIGN.md §4). `down`: no live recorder instance (between supervisor restarts). */
export interface RecorderStatus {
  state: RecorderStateName | 'down'
  session: null | { id: string; name: string; dir: string; startedAt: string; bytes: number; segments: number }
}

export interface StartArgs {
  name?: string
  idempotencyKey?: string
  /** Set by the recording modes only (never from a command's args). */
  trigger?: StartTrigger
  /** The command's deadline (CommandContext.signal): aborted while still queued, it is dropped. */
  signal?: AbortSignal
}

export interface StopArgs {
  signal?: AbortSignal
}

export interface RecorderActor {
  readonly actor: Actor<typeof recorderMachine>
  start(args?: StartArgs): Promise<SessionSummary>
  stop(args?: StopArgs): Promise<SessionSummary>
  status(): RecorderStatus
  /** The runtime saw the media server or camera go away / come back (e.g. their restarts). */
  sourceLost(reason: string): void
  /** The camera is restarting and the media server holds its stream: the running ffmpeg reads on. */
  sourcePaused(reason: string): void
  sourceResumed(): void
  /** OS processes owned now (ffmpeg), including one still exiting after a stop. */
  pids(): number[]
  /** SIGKILL every ffmpeg of this instance: the supervisor's kill, no grace. */
  killProcesses(): void
  /** Rejects the commands still waiting; called when the instance is gone. */
  dispose(reason: string): void
  /** A motion or sound event (the rig's feed): opens or extends a session in events mode, listed in the session. */
  event?(kind: 'motion' | 'sound', at?: string): void
  readonly mode?: RecordingMode
}

const NAME_MAX = 128
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

function validateStart(args: StartArgs): void {
  if (args.name !== undefined && (typeof args.name !== 'string' || args.name.length > NAME_MAX || CONTROL.test(args.name))) {
    throw new VigilError('BAD_REQUEST', `name must be a string of at most ${NAME_MAX} printable characters`)
  }
  if (args.idempotencyKey !== undefined && (typeof args.idempotencyKey !== 'string' || args.idempotencyKey.length < 1 || args.idempotencyKey.length > 200)) {
    throw new VigilError('BAD_REQUEST', 'idempotencyKey must be a string of 1 to 200 characters')
  }
}

/**
 * The recorder machine with its I/O provided, plus the command API. Commands are
 * events with a `requestId`; the machine answers through its `reply` action,
 * which settles the promise kept here. Nothing here decides anything.
 */
export function createRecorderActor(deps: RecorderDeps): RecorderActor {
  const log = deps.log
  const { config, recordingsDir, clock } = deps
  const timing = { ...recorderTimingDefaults, pollMs: 1000, stopGraceMs: 5000, postRollMs: 300, ...deps.timing }
  const ids = deps.sessionIds ?? createSessionIds({ now: () => clock.now() })
  const exits = new ExitTracker()
  const live = new Set<OwnedProcess>()
  const pending = new Map<string, { resolve(s: SessionSummary): void; reject(e: VigilError): void }>()
  let nextRequest = 0
  const mode: RecordingMode = config.mode ?? 'manual'
  const preRollMs = (config.preRollS ?? 5) * 1000
  const warmStartMs = Math.round((config.warmStartS ?? 1) * 1000)
  const store = createSessionStore({ config, recordingsDir, clock, log, disk: deps.disk, ids, exits, mode, preRollMs, warmStartMs })
  const { prepareStore, probeDisk, openSession, finalizeSession } = store

  const machine = recorderMachine.provide({
    actors: {
      prepareStore,
      probeDisk,
      openSession,
      finalizeSession,
      ffmpegCapture: ffmpegCaptureLogic({
        inputUrl: deps.inputUrl,
        ffmpegPath: deps.ffmpegPath,
        processes: deps.processes,
        clock,
        log,
        segmentS: config.segmentS,
        pollMs: timing.pollMs,
        stopGraceMs: timing.stopGraceMs,
        ...(timing.readTimeoutMs === undefined ? {} : { readTimeoutMs: timing.readTimeoutMs }),
        exits,
        live,
      }),
    },
    actions: {
      reply: (_, r: RecorderReply | null) => {
        if (!r) return
        const waiter = pending.get(r.requestId)
        if (!waiter) return
        pending.delete(r.requestId)
        if (r.ok) waiter.resolve(r.result)
        else waiter.reject(new VigilError(r.error.code, r.error.message, r.error.details))
      },
      raiseAlert: (_, a) => deps.alert({ ...a, source: 'recorder' }),
      publishEvent: (_, e) => {
        deps.publishEvent(e.kind, { node: config.node, ...e.payload })
        const id = String(e.payload.id)
        if (e.kind === 'recording.started') modeActor.send({ type: 'RECORDER.STARTED', id, kind: (e.payload.trigger as SessionTrigger | undefined)?.kind ?? 'manual' })
        else if (e.kind === 'recording.stopped') modeActor.send({ type: 'RECORDER.STOPPED', id })
      },
      note: (_, n) => log[n.level](n.details ?? {}, n.message),
    },
  })

  const actor = createActor(machine, {
    input: {
      settings: {
        node: config.node,
        segmentS: config.segmentS,
        minFreeBytes: config.minFreeBytes,
        stopBelowBytes: config.stopBelowBytes,
        stallWarnMs: config.stallWarnMs,
        stallStopMs: config.stallStopMs,
        diskProbeMs: timing.diskProbeMs,
        reconnectMs: timing.reconnectMs,
        sourceWaitMs: timing.sourceWaitMs,
        postRollMs: timing.postRollMs,
      },
    },
  })

  const modeActor = createModeActor({
    settings: {
      mode,
      preRollMs,
      warmStartMs,
      postRollMs: (config.postRollS ?? 30) * 1000,
      continuousSessionMs: (config.continuousSessionS ?? 3600) * 1000,
      retryMs: timing.modeRetryMs ?? 1000,
      // On in every mode (DESIGN.md §9.3): out of the box the recorder never fills the disk.
      freeSpaceRetention: config.retention.keepFreeBytes !== 0,
      keepFreeBytes: config.retention.keepFreeBytes ?? null,
      minFreeBytes: config.minFreeBytes,
      diskProbeMs: timing.diskProbeMs,
      bufferRestartMs: timing.reconnectMs,
    },
    node: config.node,
    recordingsDir,
    inputUrl: deps.inputUrl,
    ffmpegPath: deps.ffmpegPath,
    processes: deps.processes,
    disk: deps.disk,
    clock,
    log,
    stopGraceMs: timing.stopGraceMs,
    live,
    recorder: {
      start: (args) => api.start(args),
      stop: () => api.stop(),
      sessionId: () => actor.getSnapshot().context.session?.id ?? null,
      noteEvent: (kind, at) => actor.send({ type: 'SESSION.EVENT', kind, at }),
    },
  })
  // The modes run while the recorder serves: from its first settled state (after the store
  // was prepared) until it shuts down, so a mode never starts what a shutdown must finalize.
  let modeState: 'waiting' | 'running' | 'ended' = 'waiting'
  const endModes = () => {
    if (modeState === 'running') modeActor.stop()
    modeState = 'ended'
  }
  actor.subscribe({
    next: (snap) => {
      if (snap.context.shutdown || snap.status !== 'active') endModes()
      else if (modeState === 'waiting' && snap.hasTag('ready')) {
        modeState = 'running'
        modeActor.start()
      }
    },
    complete: endModes,
    error: endModes,
  })

  const endBridge = bridgeToFirstFootage({ actor, bufferDir: bufferDirOf(recordingsDir), clock, log })
  actor.subscribe({ complete: endBridge, error: endBridge })

  const dispose = (reason: string) => {
    for (const [id, waiter] of pending) {
      pending.delete(id)
      waiter.reject(new VigilError('UNAVAILABLE', `the recorder stopped before answering (${reason})`))
    }
  }
  actor.subscribe({
    complete: () => dispose('stopped'),
    error: (err) => dispose(err instanceof Error ? err.message : String(err)),
  })

  const command = (send: (requestId: string) => void, signal: AbortSignal | undefined): Promise<SessionSummary> => {
    const status = actor.getSnapshot().status
    if (status !== 'active') {
      return Promise.reject(new VigilError(status === 'done' ? 'SHUTTING_DOWN' : 'UNAVAILABLE', `the recorder is not running (${status})`))
    }
    if (signal?.aborted) return Promise.reject(new VigilError('TIMEOUT', 'the deadline passed before the command reached the recorder; it was not run'))
    const requestId = `rec-${++nextRequest}`
    // The machine decides whether the command had begun: only a queued one is dropped.
    const expire = () => actor.send({ type: 'COMMAND.EXPIRED', requestId })
    signal?.addEventListener('abort', expire, { once: true })
    const settled = () => signal?.removeEventListener('abort', expire)
    return new Promise<SessionSummary>((resolve, reject) => {
      pending.set(requestId, {
        resolve: (s) => {
          settled()
          resolve(s)
        },
        reject: (e) => {
          settled()
          reject(e)
        },
      })
      send(requestId)
    })
  }

  const api: RecorderActor = {
    actor,
    mode,
    start(args = {}) {
      try {
        validateStart(args)
      } catch (err) {
        return Promise.reject(err)
      }
      return command((requestId) =>
        actor.send({
          type: 'START',
          requestId,
          ...(args.name === undefined ? {} : { name: args.name }),
          ...(args.idempotencyKey === undefined ? {} : { idempotencyKey: args.idempotencyKey }),
          ...(args.trigger === undefined ? {} : { trigger: args.trigger }),
        }),
        args.signal,
      )
    },
    stop(args = {}) {
      return command((requestId) => actor.send({ type: 'STOP_RECORDING', requestId, mono: clock.monotonic() }), args.signal)
    },
    status() {
      const snap = actor.getSnapshot()
      const s = snap.context.session
      return {
        state: recorderStateName(snap),
        session: s && { id: s.id, name: s.name, dir: s.dir, startedAt: s.startedAt, bytes: s.bytes, segments: s.segments },
      }
    },
    sourceLost(reason) {
      actor.send({ type: 'SOURCE.LOST', reason, at: new Date(clock.now()).toISOString(), mono: clock.monotonic() })
    },
    sourcePaused(reason) {
      actor.send({ type: 'SOURCE.PAUSED', reason, at: new Date(clock.now()).toISOString(), mono: clock.monotonic() })
    },
    sourceResumed() {
      actor.send({ type: 'SOURCE.RESUMED' })
    },
    pids() {
      return [...live].filter((p) => p.isRunning() && p.pid > 0).map((p) => p.pid)
    },
    killProcesses() {
      endModes()
      for (const p of live) p.signal('SIGKILL')
    },
    dispose(reason) {
      endModes()
      dispose(reason)
    },
    event(kind, at) {
      if (modeState !== 'running') return
      modeActor.send({ type: 'TRIGGER', kind, at: at ?? new Date(clock.now()).toISOString(), mono: clock.monotonic() })
    },
  }
  return api
}

/**
 * The runtime's stable handle on the recorder. The supervisor builds a new
 * instance (new actor, new ffmpeg) on every restart, so NATS and HTTP handlers,
 * registered once at boot, must not hold an instance: they hold this handle,
 * which forwards to whichever instance is live. The factory attaches an instance
 * when the supervisor starts it and detaches it when it exits; in between
 * (crashed, backing off, parked) commands fail fast with UNAVAILABLE instead of
 * reaching a dead actor, and status reports `down`.
 */
export class RecorderHandle {
  #current: RecorderActor | null = null

  get current(): RecorderActor | null {
    return this.#current
  }

  attach(instance: RecorderActor): void {
    this.#current = instance
  }

  /** Only the instance that is attached can detach itself (a late exit of an old one is ignored). */
  detach(instance: RecorderActor): void {
    if (this.#current === instance) this.#current = null
  }

  start(args?: StartArgs): Promise<SessionSummary> {
    return this.#current ? this.#current.start(args) : Promise.reject(new VigilError('UNAVAILABLE', 'the recorder is not running'))
  }

  stop(args?: StopArgs): Promise<SessionSummary> {
    return this.#current ? this.#current.stop(args) : Promise.reject(new VigilError('UNAVAILABLE', 'the recorder is not running'))
  }

  status(): RecorderStatus {
    return this.#current ? this.#current.status() : { state: 'down', session: null }
  }

  sourceLost(reason: string): void {
    this.#current?.sourceLost(reason)
  }

  sourcePaused(reason: string): void {
    this.#current?.sourcePaused(reason)
  }

  sourceResumed(): void {
    this.#current?.sourceResumed()
  }

  event(kind: 'motion' | 'sound', at?: string): void {
    this.#current?.event?.(kind, at)
  }
}

/**
 * The supervisor's factory for the recorder child. One session-id source for
 * every instance, so ids stay ordered across restarts even if the clock moved back.
 */
export function recorderChild(deps: RecorderDeps, handle: RecorderHandle = new RecorderHandle()): ChildFactory {
  const sessionIds = deps.sessionIds ?? createSessionIds({ now: () => deps.clock.now() })
  return (): ChildInstance => {
    const rec = createRecorderActor({ ...deps, sessionIds })
    const inner = machineChild(() => rec.actor, { pids: () => rec.pids(), stateName: recorderStateNameOf })
    return {
      actor: inner.actor!,
      start(events) {
        handle.attach(rec)
        inner.start({
          onReady: events.onReady,
          onExit: (exit) => {
            handle.detach(rec)
            rec.dispose(exit.reason)
            events.onExit(exit)
          },
        })
      },
      stop: () => inner.stop(),
      kill() {
        rec.killProcesses()
        inner.kill()
      },
      pids: () => inner.pids(),
      stateName: recorderStateNameOf,
    }
  }
}
