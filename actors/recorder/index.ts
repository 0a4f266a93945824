import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createActor, fromPromise, type Actor } from 'xstate'
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
  type FinalizeInput,
  type FinalizeOutput,
  type OpenedSession,
  type RecorderEventKind,
  type RecorderReply,
  type RecorderStateName,
  type SessionSummary,
} from '../../machines/recorder.machine.js'
import { machineChild } from '../supervisor/machineChild.js'
import type { ChildFactory, ChildInstance } from '../supervisor/child.js'
import { ExitTracker, ffmpegCaptureLogic } from './capture.js'
import { applyRetention } from './retention.js'
import {
  collectSegments,
  deleteSessionDir,
  listOwnedSessions,
  reconcileInterrupted,
  writeSession,
  SESSION_SCHEMA_VERSION,
  type GapRecord,
  type SessionFile,
} from './session.js'
import { createSessionIds, type SessionIdSource } from './sessionId.js'
import { bufferDirOf, createModeActor } from './mode.js'
import { takePreRoll } from './preRollBuffer.js'
import type { OpenInput, PreRollFile, SessionTrigger, StartTrigger } from '../../machines/recorder.types.js'
import type { RecordingMode } from '../../machines/recordingMode.machine.js'

export { recorderStateNameOf } from '../../machines/recorder.machine.js'
export type { SessionSummary } from '../../machines/recorder.machine.js'

type ModeKeys = 'mode' | 'continuousSessionS' | 'preRollS' | 'postRollS'
/** The recorder's config section; the mode keys default as in the schema (manual). */
export type RecorderConfig = Omit<Config['recorder'], ModeKeys> & Partial<Pick<Config['recorder'], ModeKeys>>

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
    /** A requested stop keeps ffmpeg running this long (the stream arrives late). */
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
}

export interface RecorderActor {
  readonly actor: Actor<typeof recorderMachine>
  start(args?: StartArgs): Promise<SessionSummary>
  stop(): Promise<SessionSummary>
  status(): RecorderStatus
  /** The runtime saw the media server or camera go away / come back (e.g. their restarts). */
  sourceLost(reason: string): void
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
  const timing = { ...recorderTimingDefaults, pollMs: 1000, stopGraceMs: 5000, postRollMs: 500, ...deps.timing }
  const ids = deps.sessionIds ?? createSessionIds({ now: () => clock.now() })
  const exits = new ExitTracker()
  const live = new Set<OwnedProcess>()
  const pending = new Map<string, { resolve(s: SessionSummary): void; reject(e: VigilError): void }>()
  let nextRequest = 0
  let activeId: string | null = null
  const retentionPolicy = config.retention

  const retention = async () => {
    try {
      await applyRetention(recordingsDir, retentionPolicy, log, clock.now(), { activeId })
    } catch (err) {
      log.error({ err }, 'retention failed')
    }
  }

  const prepareStore = fromPromise<void, void>(async () => {
    await mkdir(recordingsDir, { recursive: true, mode: 0o700 })
    await reconcileInterrupted(recordingsDir, log)
    for (const o of await listOwnedSessions(recordingsDir)) ids.observe(o.session.id)
    await retention()
  })

  // Final session.json files a full disk refused (ENOSPC): written again by the next disk
  // probe (every second in disk_full), so a session does not stay `recording` on disk until
  // a restart reconciles it.
  const unwritten = new Map<string, SessionFile>()
  const writeUnwritten = async () => {
    for (const [dir, file] of unwritten) {
      try {
        await writeSession(dir, file)
        unwritten.delete(dir)
        log.info({ session: file.id, state: file.state }, 'final session.json written now that the disk has space')
      } catch (err) {
        // Gone (deleted by an operator): nothing left to finalize. Anything else: next probe.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') unwritten.delete(dir)
      }
    }
  }

  const probeDisk = fromPromise<{ freeBytes: number }, void>(async () => {
    const { freeBytes } = await deps.disk.free(recordingsDir)
    if (unwritten.size > 0) await writeUnwritten()
    return { freeBytes }
  })

  const mode: RecordingMode = config.mode ?? 'manual'
  const preRollMs = (config.preRollS ?? 5) * 1000
  const openSession = fromPromise<OpenedSession, OpenInput>(async ({ input }) => {
    await mkdir(recordingsDir, { recursive: true, mode: 0o700 })
    for (let attempt = 0; ; attempt++) {
      const id = ids.next()
      const dir = join(recordingsDir, id)
      try {
        // Private whatever the process mask: a session is someone's home on video.
        await mkdir(dir, { mode: 0o700 })
      } catch (err) {
        // Another process (or an earlier life of this one) made this id: take the next.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue
        throw err
      }
      const startedAt = new Date(clock.now()).toISOString()
      const startedMono = clock.monotonic()
      const t = input.trigger
      const trigger: SessionTrigger = t ? { kind: t.kind, at: t.at } : { kind: 'manual', at: startedAt }
      let preRollFiles: PreRollFile[] = []
      if (mode === 'events' && t && (t.kind === 'motion' || t.kind === 'sound')) {
        // From the trigger back preRollS, plus the time the start took to get here.
        const needMs = preRollMs + Math.max(0, startedMono - (t.mono ?? startedMono))
        preRollFiles = await takePreRoll(bufferDirOf(recordingsDir), dir, needMs, log).catch((err: unknown) => {
          log.warn({ err, session: id }, 'no pre-roll: the buffer could not be read')
          return []
        })
      }
      const opened: OpenedSession = { id, name: input.name ?? 'recording', dir, startedAt, startedMono, trigger, preRollFiles }
      try {
        await writeSession(dir, {
          schemaVersion: SESSION_SCHEMA_VERSION,
          node: config.node,
          name: opened.name,
          id,
          startedAt: opened.startedAt,
          startedMono: opened.startedMono,
          state: 'recording',
          stopReason: null,
          stoppedAt: null,
          durationMs: null,
          segments: [],
          gaps: [],
          trigger,
          events: [],
          ...(preRollFiles.length > 0 ? { preRollFiles } : {}),
        })
      } catch (err) {
        await deleteSessionDir(recordingsDir, dir).catch(() => undefined)
        throw err
      }
      activeId = id
      log.info({ session: id, name: opened.name, dir }, 'session opened')
      return opened
    }
  })

  const finalizeSession = fromPromise<FinalizeOutput, FinalizeInput>(async ({ input }) => {
    const { session } = input
    await exits.settled(session.dir)
    // The recording ended when ffmpeg did: measure before the (disk-bound) bookkeeping.
    const endMono = clock.monotonic()
    const stoppedAt = new Date(clock.now()).toISOString()
    const segments = await collectSegments(session.dir, log)
    const bytes = segments.reduce((n, s) => n + s.bytes, 0)
    const gaps: GapRecord[] = [...session.gaps]
    if (input.openGap) {
      gaps.push({ at: input.openGap.at, reason: input.openGap.reason, ms: Math.max(0, Math.round(endMono - input.openGap.mono)) })
    }
    const summary: SessionSummary = {
      id: session.id,
      name: session.name,
      dir: session.dir,
      startedAt: session.startedAt,
      bytes,
      segments: segments.length,
      state: input.endState,
      stoppedAt,
      durationMs: Math.max(0, Math.round((input.stopMono !== null && input.stopMono < endMono ? input.stopMono : endMono) - session.startedMono)),
      stopReason: input.stopReason,
      deleted: false,
      ...(session.trigger ? { trigger: session.trigger } : {}),
    }
    if (bytes === 0) {
      // Nothing was recorded (no source, stopped at once): an empty dir is noise, not a session.
      await deleteSessionDir(recordingsDir, session.dir)
      summary.deleted = true
      log.info({ session: session.id }, 'session had no media; deleted')
    } else {
      const final: SessionFile = {
        schemaVersion: SESSION_SCHEMA_VERSION,
        node: config.node,
        name: session.name,
        id: session.id,
        startedAt: session.startedAt,
        startedMono: session.startedMono,
        state: input.endState,
        stopReason: input.stopReason,
        stoppedAt: summary.stoppedAt,
        durationMs: summary.durationMs,
        preRollMs: session.preRollMs,
        postRollMs: input.postRollMs,
        segments,
        gaps,
        trigger: session.trigger ?? { kind: 'manual', at: session.startedAt },
        events: session.events,
        ...(session.preRollFiles && session.preRollFiles.length > 0 ? { preRollFiles: session.preRollFiles } : {}),
      }
      try {
        await writeSession(session.dir, final)
      } catch (err) {
        // A full disk can refuse even this small write. The segments are safe: report, do not
        // fail the stop, and write it again once the disk has space (a restart before that
        // reconciles the session to `interrupted`).
        log.error({ err, session: session.id }, 'could not write the final session.json; will retry when the disk has space')
        unwritten.set(session.dir, final)
      }
      log.info({ session: session.id, state: input.endState, bytes, segments: segments.length, durationMs: summary.durationMs }, 'session finalized')
    }
    activeId = null
    await retention()
    return { summary, files: segments.map((s) => ({ file: s.file, bytes: s.bytes })) }
  })

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
      postRollMs: (config.postRollS ?? 30) * 1000,
      continuousSessionMs: (config.continuousSessionS ?? 3600) * 1000,
      retryMs: timing.modeRetryMs ?? 1000,
      freeSpaceRetention: mode !== 'manual' || config.retention.keepFreeBytes !== undefined,
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

  const command = (send: (requestId: string) => void): Promise<SessionSummary> => {
    const status = actor.getSnapshot().status
    if (status !== 'active') {
      return Promise.reject(new VigilError(status === 'done' ? 'SHUTTING_DOWN' : 'UNAVAILABLE', `the recorder is not running (${status})`))
    }
    const requestId = `rec-${++nextRequest}`
    return new Promise<SessionSummary>((resolve, reject) => {
      pending.set(requestId, { resolve, reject })
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
      )
    },
    stop() {
      return command((requestId) => actor.send({ type: 'STOP_RECORDING', requestId, mono: clock.monotonic() }))
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

  stop(): Promise<SessionSummary> {
    return this.#current ? this.#current.stop() : Promise.reject(new VigilError('UNAVAILABLE', 'the recorder is not running'))
  }

  status(): RecorderStatus {
    return this.#current ? this.#current.status() : { state: 'down', session: null }
  }

  sourceLost(reason: string): void {
    this.#current?.sourceLost(reason)
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
