/**
 * The camera actor: `machines/camera.machine.ts` with a real ffmpeg behind it.
 *
 * Pipes of the one ffmpeg process (argv in `ffmpegArgs.ts`):
 * - stdin: kept open; 'q' is the orderly stop (outputs finalized), then SIGTERM, then
 *   SIGKILL when the machine's grace runs out.
 * - fd 3: raw grey frames, 160x90 at 5 fps (14 400 bytes each), re-cut to whole frames
 *   by `FrameChunker`. Each one feeds motion detection (`onFrame`, `frames`) and, as a
 *   FRAME event, the machine's frame watchdog. The bytes never enter machine context.
 * - fd 4: MJPEG at 1 fps, 640 px wide, cut by `JpegSplitter`: the newest colour JPEG is
 *   always at hand for `camera.snapshot` and motion snapshots, with no extra process at
 *   the moment of the event (a 160x90 grey still is too poor to show an operator, and a
 *   one-shot ffmpeg on the HTTP-FLV would take a second and a process per snapshot).
 *   `snapshot: null` turns it off.
 *
 * Preview levels (SET_PREVIEW, from the governor): the live preview and the recording
 * share one H.264 encode, so lowering the encode would lower the recording too; under
 * pressure "the preview drops before the recording does" (DESIGN §6). The level is
 * therefore recorded here and acted on by the viewers' side: 'full' plays the live
 * stream, 'low' shows the 1 fps snapshot JPEG instead of the player, 'off' shows
 * nothing. The encode is never restarted for it, so the recording keeps its quality
 * and gets no gap.
 */
import { createActor, type Actor, type ActorOptions } from 'xstate'
import {
  cameraMachine,
  cameraStateName,
  type CameraAlert,
  type CameraBackoff,
  type FrameDropRecord,
  type PreviewLevel,
} from '../../machines/camera.machine.js'
import { systemClock, type Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { DEFAULT_MOTION, DEFAULT_SNAPSHOT, type MotionFrameSpec, type SnapshotSpec } from './ffmpegArgs.js'
import type { CameraFrames, GrayFrameInfo } from './frames.js'
import { runFfmpegLogic } from './runFfmpeg.js'
import { cameraCodecs, describeSource, parseCameraSource, type CodecChoice } from '../../infra/sources.js'
import { sourceAddress, watchSourceLogic } from './sourceWatch.js'

export { CameraFrames, type GrayFrameInfo } from './frames.js'
export { parseCameraSource, redactCredentials, describeSource, type CameraSource } from '../../infra/sources.js'
export { buildFfmpegArgs, type PreviewLevel } from './ffmpegArgs.js'
export { cameraStateName } from '../../machines/camera.machine.js'

export interface CameraActorConfig {
  source: string
  width: number
  height: number
  fps: number
  frameTimeoutMs: number
  /** Default: copy for rtsp://, encode otherwise (infra/sources.ts cameraCodecs). */
  videoCodec?: CodecChoice
  /** Default: encode. */
  audioCodec?: CodecChoice
}

/** A line of logs/frame_drops.jsonl. */
export interface CameraFrameDrop extends FrameDropRecord {
  at: string
  actor: 'camera'
  source: string
}

/** For the alert manager, which adds id, node, at and count. */
export interface CameraAlertEvent extends CameraAlert {
  source: 'camera'
}

export interface CameraActorDeps {
  config: CameraActorConfig
  /**
   * Where to push the live stream: a function signing afresh for each ffmpeg
   * (`signedRtmpUrl(mediaPorts, signer)`); a plain string only for a server without auth.
   */
  rtmpUrl: string | (() => string)
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  /** Latest pictures and their subscribers; one per rig, shared by every camera instance. */
  frames?: CameraFrames
  /** Each low-rate grey frame (motion detection). */
  onFrame?(gray: Buffer, info: GrayFrameInfo): void
  /** Each snapshot JPEG (1 fps by default). */
  onSnapshot?(jpeg: Buffer): void
  onFrameDrop?(record: CameraFrameDrop): void
  alert?(alert: CameraAlertEvent): void
  clock?: Clock
  motion?: MotionFrameSpec
  /** null: no snapshot output. */
  snapshot?: SnapshotSpec | null
  previewLevel?: PreviewLevel
  timing?: {
    startTimeoutMs?: number
    stopGraceMs?: number
    killGraceMs?: number
    backoff?: Partial<CameraBackoff>
    /** While waiting to reconnect, how often an rtsp:// camera's port is knocked on (sourceWatch.ts). */
    sourceWatchMs?: number
  }
}

/** A camera back from a reboot is noticed within this (a TCP connect each time; no RTSP). */
const SOURCE_WATCH_MS = 200
const SOURCE_CONNECT_TIMEOUT_MS = 1000

export type CameraActor = Actor<typeof cameraMachine>

const STOP_GRACE_MS = 4000

/** The camera machine with its ffmpeg and effects. Throws BAD_REQUEST for an unsupported source. */
export function provideCamera(deps: CameraActorDeps) {
  const source = parseCameraSource(deps.config.source)
  const codecs = cameraCodecs(source, deps.config)
  const shownSource = describeSource(deps.config.source)
  const clock = deps.clock ?? systemClock
  const { log } = deps
  const stopGraceMs = deps.timing?.stopGraceMs ?? STOP_GRACE_MS
  // An effect that throws (a full disk under the drop log) is logged, never fatal.
  const guarded = (what: string, fn: () => void) => {
    try {
      fn()
    } catch (err) {
      log.warn({ err: (err as Error).message }, `camera ${what} failed`)
    }
  }
  const runFfmpeg = runFfmpegLogic({
    ffmpegPath: deps.ffmpegPath,
    processes: deps.processes,
    log,
    termAfterQuitMs: Math.max(0, stopGraceMs - 1000),
    publishUrl: typeof deps.rtmpUrl === 'function' ? deps.rtmpUrl : () => deps.rtmpUrl as string,
    args: {
      source,
      width: deps.config.width,
      height: deps.config.height,
      fps: deps.config.fps,
      copyVideo: codecs.copyVideo,
      copyAudio: codecs.copyAudio,
      motion: deps.motion ?? DEFAULT_MOTION,
      snapshot: deps.snapshot === undefined ? DEFAULT_SNAPSHOT : deps.snapshot,
    },
    onFrame: (gray, info) => {
      deps.frames?.publishFrame(gray, info)
      guarded('frame subscriber', () => deps.onFrame?.(gray, info))
    },
    onSnapshot: (jpeg) => {
      deps.frames?.publishSnapshot(jpeg)
      guarded('snapshot subscriber', () => deps.onSnapshot?.(jpeg))
    },
  })
  return cameraMachine.provide({
    actors: {
      runFfmpeg,
      watchSource: watchSourceLogic({
        address: sourceAddress(source),
        everyMs: deps.timing?.sourceWatchMs ?? SOURCE_WATCH_MS,
        connectTimeoutMs: SOURCE_CONNECT_TIMEOUT_MS,
      }),
    },
    actions: {
      recordFrameDrop: (_, rec) => {
        log.warn({ reason: rec.reason, framesSeen: rec.framesSeen }, 'camera frames dropped')
        guarded('frame drop record', () =>
          deps.onFrameDrop?.({ at: new Date(clock.now()).toISOString(), actor: 'camera', source: shownSource, ...rec }),
        )
      },
      raiseAlert: (_, a) => {
        log.warn({ code: a.code, details: a.details }, a.message)
        guarded('alert', () => deps.alert?.({ source: 'camera', ...a }))
      },
    },
  })
}

export function cameraInput(deps: CameraActorDeps) {
  return {
    frameTimeoutMs: deps.config.frameTimeoutMs,
    stopGraceMs: deps.timing?.stopGraceMs ?? STOP_GRACE_MS,
    ...(deps.timing?.startTimeoutMs !== undefined ? { startTimeoutMs: deps.timing.startTimeoutMs } : {}),
    ...(deps.timing?.killGraceMs !== undefined ? { killGraceMs: deps.timing.killGraceMs } : {}),
    ...(deps.timing?.backoff ? { backoff: deps.timing.backoff } : {}),
    previewLevel: deps.previewLevel ?? 'full',
  }
}

/** An unstarted camera actor (the supervisor starts it through `cameraChild`). */
export function createCameraActor(
  deps: CameraActorDeps,
  options: Omit<ActorOptions<ReturnType<typeof provideCamera>>, 'input'> = {},
): CameraActor {
  return createActor(provideCamera(deps), { ...options, input: cameraInput(deps) }) as CameraActor
}

/** The supervisor's child factory: a fresh machine (and ffmpeg) per (re)start. */
export function cameraChild(deps: CameraActorDeps): ChildFactory {
  return () => machineChild(() => createCameraActor(deps), { stateName: cameraStateName })
}

/** `camera.status` reply data. */
export interface CameraStatus {
  state: string
  pids: number[]
  /** Credentials in an rtsp URL are redacted. */
  source: string
  framesSeen: number
  attempt: number
  restarts: number
  lastError: string | null
  previewLevel: PreviewLevel
}

export function cameraStatus(actor: CameraActor, source: string): CameraStatus {
  const s = actor.getSnapshot()
  const c = s.context
  return {
    state: cameraStateName(s.value),
    pids: c.pids,
    source: describeSource(source),
    framesSeen: c.framesSeen,
    attempt: c.attempt,
    restarts: c.restarts,
    lastError: c.lastError,
    previewLevel: c.previewLevel,
  }
}
