import { mkdirSync } from 'node:fs'
import { Type } from '@sinclair/typebox'
import { createActor, fromCallback, fromPromise, type Actor, type ActorOptions } from 'xstate'
import { systemClock, type Clock } from '../../infra/clock.js'
import type { Config } from '../../infra/config/schema.js'
import { VigilError } from '../../infra/errors.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { ProcessOwner } from '../../infra/process.js'
import {
  MOTION_LIMITS,
  motionMachine,
  motionSettingsErrors,
  type MotionPayload,
  type SavedSnapshot,
  type SnapshotRequest,
} from '../../machines/motion.machine.js'
import type { ChildFactory, ChildInstance } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { encodeGrayJpeg } from './encodeJpeg.js'
import { frameDiff } from './frameDiff.js'
import { snapshotName, storeSnapshot, type SnapshotFs } from './snapshot.js'

export { frameDiff } from './frameDiff.js'
export { SNAPSHOT_FAILED, SNAPSHOT_PATTERN, snapshotName, nodeSnapshotFs, type SnapshotFs } from './snapshot.js'

export interface FrameInfo {
  width: number
  height: number
}

/** Where grey frames come from: the camera's `CameraFrames` fits as it is (`onFrame` returns the unsubscribe). */
export interface FrameSource {
  onFrame(listener: (gray: Buffer, info: FrameInfo) => void): () => void
}

export type MotionEventKind = 'motion' | 'snapshot.saved'

export interface MotionDeps {
  config: Config['motion']
  snapshotsDir: string
  frames: FrameSource
  /** The camera's newest colour JPEG, preferred over encoding the grey frame. */
  latestJpeg?: () => Buffer | null
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  clock?: Clock
  publishEvent(kind: MotionEventKind, payload: Record<string, unknown>): void
  /** Tests make the disk fail here (ENOSPC, EIO). */
  fs?: SnapshotFs
}

export type MotionActor = Actor<typeof motionMachine>

interface InstanceOptions {
  /** Snapshot counter shared by every instance (names stay unique across restarts). */
  nextSeq(): number
  threshold: number
  minFrames: number
  /** Begin paused (the governor's CPU CRITICAL outlives a restart). */
  paused: boolean
}

/** The motion machine with its frame scoring and snapshot store provided. */
export function provideMotion(deps: MotionDeps, nextSeq: () => number) {
  const { log, config } = deps
  const clock = deps.clock ?? systemClock
  // The newest frame of this instance, for a snapshot when the camera has no JPEG.
  let latest: { gray: Buffer; info: FrameInfo } | null = null

  const watchFrames = fromCallback<{ type: 'NONE' }>(({ sendBack }) => {
    let previous: Buffer | null = null
    const off = deps.frames.onFrame((gray, info) => {
      const comparable = previous !== null && previous.length === gray.length && gray.length === info.width * info.height
      const score = comparable ? frameDiff(previous!, gray, config.pixelThreshold) : null
      previous = gray
      latest = { gray, info }
      if (score !== null) sendBack({ type: 'FRAME', score, at: clock.now() })
    })
    return () => {
      off()
      latest = null
    }
  })

  const saveSnapshot = fromPromise<SavedSnapshot | null, SnapshotRequest>(async ({ input }) => {
    let jpeg = deps.latestJpeg?.() ?? null
    if (!jpeg) {
      const frame = latest
      if (!frame) throw new Error('no frame to save yet')
      jpeg = await encodeGrayJpeg({ ffmpegPath: deps.ffmpegPath, processes: deps.processes, log }, frame.gray, frame.info.width, frame.info.height)
    }
    const name = snapshotName(input.at, nextSeq())
    return storeSnapshot({ dir: deps.snapshotsDir, maxSnapshots: config.maxSnapshots, log, ...(deps.fs ? { fs: deps.fs } : {}) }, jpeg, name, input.at)
  })

  const publish = (kind: MotionEventKind, payload: Record<string, unknown>) => {
    try {
      deps.publishEvent(kind, payload)
    } catch (err) {
      log.warn({ err: (err as Error).message, kind }, 'motion event could not be published')
    }
  }

  return motionMachine.provide({
    actors: { watchFrames, saveSnapshot },
    actions: {
      publishMotion: (_, p: MotionPayload) => {
        log.info({ score: p.score }, 'motion')
        publish('motion', { ...p })
      },
      publishSnapshot: (_, s: SavedSnapshot) => {
        log.info({ file: s.file, bytes: s.bytes }, 'snapshot saved')
        publish('snapshot.saved', { ...s })
      },
      reportSnapshotError: (_, { error }) => {
        log.warn({ err: error instanceof Error ? error.message : String(error) }, 'snapshot could not be made')
      },
    },
  })
}

/** An unstarted motion actor (the supervisor starts it through `motionChild`). */
export function createMotionActor(
  deps: MotionDeps,
  instance: Partial<InstanceOptions> = {},
  options: Omit<ActorOptions<ReturnType<typeof provideMotion>>, 'input'> = {},
): MotionActor {
  let seq = 0
  const nextSeq = instance.nextSeq ?? (() => ++seq)
  return createActor(provideMotion(deps, nextSeq), {
    ...options,
    input: {
      threshold: instance.threshold ?? deps.config.threshold,
      minFrames: instance.minFrames ?? deps.config.minFrames,
      cooldownMs: deps.config.cooldownMs,
      paused: instance.paused === true,
    },
  }) as MotionActor
}

/** `motion.status`. `down`: no live instance (between supervisor restarts). */
export interface MotionStatus {
  state: string
  score: number | null
  lastMotionAt: string | null
  threshold: number
  minFrames: number
  motions: number
  lastSnapshot: SavedSnapshot | null
}

export interface MotionSettingsChange {
  threshold?: number
  minFrames?: number
}

/**
 * The runtime's stable handle on the motion child: commands reach whichever instance
 * is live. It keeps what must survive a restart: settings changed by
 * `motion.configure`, the snapshot counter and the last motion.
 */
export class MotionHandle {
  #current: MotionActor | null = null
  #threshold: number
  #minFrames: number
  #seq = 0
  #motions = 0
  #lastMotionAt: string | null = null
  #lastSnapshot: SavedSnapshot | null = null
  #paused = false

  constructor(config: Pick<Config['motion'], 'threshold' | 'minFrames'>) {
    this.#threshold = config.threshold
    this.#minFrames = config.minFrames
  }

  get current(): MotionActor | null {
    return this.#current
  }

  nextSeq = (): number => ++this.#seq

  get paused(): boolean {
    return this.#paused
  }

  /** The governor's CPU CRITICAL: the live instance pauses or resumes, and later instances start that way. */
  setPaused(paused: boolean): void {
    this.#paused = paused
    this.#current?.send({ type: paused ? 'PAUSE' : 'RESUME' })
  }

  settings(): { threshold: number; minFrames: number } {
    return { threshold: this.#threshold, minFrames: this.#minFrames }
  }

  attach(actor: MotionActor): void {
    this.#current = actor
  }

  detach(actor: MotionActor): void {
    if (this.#current !== actor) return
    const c = actor.getSnapshot().context
    this.#motions += c.motions
    this.#lastMotionAt = c.lastMotionAt ?? this.#lastMotionAt
    this.#lastSnapshot = c.lastSnapshot ?? this.#lastSnapshot
    this.#current = null
  }

  /** Throws BAD_REQUEST for an out-of-range value; applies to the live instance and every later one. */
  configure(change: MotionSettingsChange): { threshold: number; minFrames: number } {
    const errors = motionSettingsErrors(change)
    if (change.threshold === undefined && change.minFrames === undefined) errors.push('give threshold and/or minFrames')
    if (errors.length > 0) throw new VigilError('BAD_REQUEST', errors.join('; '), { errors })
    if (change.threshold !== undefined) this.#threshold = change.threshold
    if (change.minFrames !== undefined) this.#minFrames = change.minFrames
    this.#current?.send({ type: 'CONFIGURE', ...change })
    return this.settings()
  }

  status(): MotionStatus {
    const actor = this.#current
    if (!actor) {
      return { state: 'down', score: null, lastMotionAt: this.#lastMotionAt, ...this.settings(), motions: this.#motions, lastSnapshot: this.#lastSnapshot }
    }
    const s = actor.getSnapshot()
    const c = s.context
    return {
      state: typeof s.value === 'string' ? s.value : 'watching',
      score: c.score === null ? null : Math.round(c.score * 10000) / 10000,
      lastMotionAt: c.lastMotionAt ?? this.#lastMotionAt,
      threshold: c.settings.threshold,
      minFrames: c.settings.minFrames,
      motions: this.#motions + c.motions,
      lastSnapshot: c.lastSnapshot ?? this.#lastSnapshot,
    }
  }
}

/** The supervisor's factory: a fresh machine and frame subscription per (re)start. */
export function motionChild(deps: MotionDeps, handle: MotionHandle = new MotionHandle(deps.config)): ChildFactory {
  return (): ChildInstance => {
    // A missing dir is made here; one that cannot be made is reported by the first save.
    try {
      mkdirSync(deps.snapshotsDir, { recursive: true, mode: 0o700 })
    } catch {
      // storeSnapshot logs the failure with its code when a snapshot is due.
    }
    return machineChild(() => createMotionActor(deps, { nextSeq: handle.nextSeq, ...handle.settings(), paused: handle.paused }), { attachTo: handle })
  }
}

/** `motion.status` and `motion.configure` (DESIGN.md §4). */
export function registerMotionCommands(router: CommandRouter, handle: MotionHandle): void {
  router.register({
    actor: 'motion',
    verb: 'status',
    description: 'the motion detector: state, latest score, last motion, threshold, minFrames',
    args: Type.Object({}, { additionalProperties: false }),
    readOnly: true,
    handler: async () => handle.status(),
  })
  router.register({
    actor: 'motion',
    verb: 'configure',
    description: 'change threshold (share of changed pixels, (0, 1]) and/or minFrames at run time',
    args: Type.Object(
      {
        threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
        minFrames: Type.Optional(Type.Integer({ minimum: MOTION_LIMITS.minFrames.min, maximum: MOTION_LIMITS.minFrames.max })),
      },
      { additionalProperties: false },
    ),
    handler: async (args: MotionSettingsChange) => handle.configure(args),
  })
}
