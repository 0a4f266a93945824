import { assign, fromCallback, sendTo, setup, type EventObject } from 'xstate'
import { stateNameBelow } from './stateName.js'
import { classifyFfmpegExit } from './camera.exits.js'

export { classifyFfmpegExit, type FailureKind, type FfmpegFailure } from './camera.exits.js'

/**
 * camera: one ffmpeg process (the `ffmpeg` actor) captures the source, pushes the live
 * stream to the media server and hands low-rate grey frames back as FRAME events.
 *
 * idle → capturing.starting ─FRAME→ capturing.streaming (ready)
 *   no FRAME for frameTimeoutMs → capturing.stalled (alert, ffmpeg killed) → reconnecting
 *   ffmpeg exits → reconnecting, or device_error when the source is missing/busy/refusing
 *   reconnecting / device_error wait reconnectBackoff → capturing: the first retry at once
 *     (a crash or a dropped connection is usually over by then), then 250 ms · 2^n, ≤ 30 s
 *   … or sooner: SOURCE.REACHABLE from `watchSource` (a network camera that refused
 *     connections now accepts them: it rebooted) → capturing at once, failures forgotten
 *   STOP → capturing.stopping ('q' to ffmpeg, grace) → stopped (final, normal)
 *
 * Everything after the first start is tagged `ready`: the actor is up and recovering on
 * its own; the supervisor restarts it only if the actor itself dies. `capturing` owns
 * the process, so every way out of it (stall, STOP timeout, actor stopped) kills ffmpeg.
 */

export type PreviewLevel = 'full' | 'low' | 'off'

export interface CameraBackoff {
  initialMs: number
  maxMs: number
  /** This long streaming without a failure forgets earlier failures. */
  resetAfterMs: number
}

export interface CameraSettings {
  frameTimeoutMs: number
  /** From spawn to the first frame (an RTSP camera takes a few seconds to answer). */
  startTimeoutMs: number
  /** After 'q', how long ffmpeg may take to finalize before it is killed. */
  stopGraceMs: number
  /** After killing a stalled ffmpeg, how long to wait for its exit before moving on. */
  killGraceMs: number
  backoff: CameraBackoff
}

export interface CameraInput {
  frameTimeoutMs: number
  startTimeoutMs?: number
  stopGraceMs?: number
  killGraceMs?: number
  backoff?: Partial<CameraBackoff>
  previewLevel?: PreviewLevel
}

export interface CameraContext {
  settings: CameraSettings
  /** Consecutive failures since the last stable stream; drives the backoff. */
  attempt: number
  /** ffmpeg processes started after the first. */
  restarts: number
  framesSeen: number
  /** Frames from the current ffmpeg: 0 at exit means it never delivered. */
  runFrames: number
  lastError: string | null
  pids: number[]
  previewLevel: PreviewLevel
}

/** What the `ffmpeg` actor reports. */
export type FfmpegEvent =
  | { type: 'FFMPEG.STARTED'; pid: number }
  | { type: 'FRAME' }
  | { type: 'FFMPEG.EXITED'; reason: string; normal: boolean; stderr: string }

/**
 * What the `watchSource` actor reports while the camera waits to reconnect: the source
 * refused or timed out at least once during this wait and now accepts connections (an
 * IP camera back from a reboot). Sent at most once per wait.
 */
export type SourceEvent = { type: 'SOURCE.REACHABLE' }

/** What the machine asks of the `ffmpeg` actor: QUIT is the orderly 'q', KILL is now. */
export type FfmpegCommand = { type: 'QUIT' } | { type: 'KILL' }

export type CameraEvent =
  | FfmpegEvent
  | SourceEvent
  | { type: 'STOP' }
  /** `camera.restart`: a fresh ffmpeg now, skipping any backoff wait. */
  | { type: 'RESTART' }
  | { type: 'SET_PREVIEW'; level: PreviewLevel }

export interface CameraOutput {
  normal: boolean
  reason: string
}

export interface RunFfmpegInput {
  /** The capture's settings come from the actor layer; nothing varies per start. */
  attempt: number
}

export interface FrameDropRecord {
  reason: string
  framesSeen: number
  attempt: number
}

export interface CameraAlert {
  code: 'camera.stalled' | 'camera.device_error'
  severity: 'info' | 'warning' | 'critical'
  message: string
  details: Record<string, unknown>
}

export const CAMERA_DEFAULTS = {
  startTimeoutMs: 10000,
  stopGraceMs: 4000,
  killGraceMs: 2000,
  backoff: { initialMs: 250, maxMs: 30000, resetAfterMs: 60000 },
} as const

/**
 * The wait after failure number `attempt`: 0 for the first (DESIGN §9.5: the first restart
 * of a crashed child is immediate; a camera SIGKILL or a dropped RTSP connection costs
 * the recording only the restart itself), then 250, 500, 1000 … capped at maxMs.
 */
export function reconnectDelayMs(attempt: number, backoff: CameraBackoff = CAMERA_DEFAULTS.backoff): number {
  if (attempt <= 1) return 0
  const n = attempt - 2
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(n, 30))
}

// ---- the machine ----------------------------------------------------------------------

function notProvided(name: string): never {
  throw new Error(`camera machine: actor '${name}' was not provided (use createCameraActor)`)
}

type ExitEvent = Extract<CameraEvent, { type: 'FFMPEG.EXITED' }>

const failureOf = (context: CameraContext, event: ExitEvent) => classifyFfmpegExit(event, context.runFrames > 0)

export const cameraMachine = setup({
  types: {
    context: {} as CameraContext,
    events: {} as CameraEvent,
    input: {} as CameraInput,
    output: {} as CameraOutput,
  },
  actors: {
    runFfmpeg: fromCallback<FfmpegCommand, RunFfmpegInput>(() => notProvided('runFfmpeg')),
    // A source that cannot be watched (testsrc, a device, a file) never reports: the backoff alone decides.
    watchSource: fromCallback<EventObject>(() => {}),
  },
  actions: {
    recordPid: assign({ pids: (_, params: { pid: number }) => [params.pid] }),
    clearPids: assign({ pids: () => [] }),
    countFrame: assign({
      framesSeen: ({ context }) => context.framesSeen + 1,
      runFrames: ({ context }) => context.runFrames + 1,
    }),
    beginRun: assign({ runFrames: () => 0 }),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    /** A failure: the next wait grows. */
    countFailure: assign({
      attempt: ({ context }) => context.attempt + 1,
      lastError: (_, params: { reason: string }) => params.reason,
    }),
    forgetFailures: assign({ attempt: () => 0 }),
    setPreview: assign({ previewLevel: ({ context, event }) => (event.type === 'SET_PREVIEW' ? event.level : context.previewLevel) }),
    quitFfmpeg: sendTo('ffmpeg', { type: 'QUIT' }),
    killFfmpeg: sendTo('ffmpeg', { type: 'KILL' }),
    // Effects the actor layer provides (frame_drops.jsonl, the alert manager).
    recordFrameDrop: (_, _params: FrameDropRecord) => {},
    raiseAlert: (_, _params: CameraAlert) => {},
  },
  guards: {
    deviceFailure: ({ context, event }) => event.type === 'FFMPEG.EXITED' && failureOf(context, event).kind === 'device',
  },
  delays: {
    frameTimeout: ({ context }) => context.settings.frameTimeoutMs,
    startTimeout: ({ context }) => context.settings.startTimeoutMs,
    stopGrace: ({ context }) => context.settings.stopGraceMs,
    killGrace: ({ context }) => context.settings.killGraceMs,
    stableStreaming: ({ context }) => context.settings.backoff.resetAfterMs,
    reconnectBackoff: ({ context }) => reconnectDelayMs(context.attempt, context.settings.backoff),
  },
}).createMachine({
  id: 'camera',
  context: ({ input }) => ({
    settings: {
      frameTimeoutMs: input.frameTimeoutMs,
      startTimeoutMs: input.startTimeoutMs ?? Math.max(CAMERA_DEFAULTS.startTimeoutMs, input.frameTimeoutMs),
      stopGraceMs: input.stopGraceMs ?? CAMERA_DEFAULTS.stopGraceMs,
      killGraceMs: input.killGraceMs ?? CAMERA_DEFAULTS.killGraceMs,
      backoff: { ...CAMERA_DEFAULTS.backoff, ...input.backoff },
    },
    attempt: 0,
    restarts: 0,
    framesSeen: 0,
    runFrames: 0,
    lastError: null,
    pids: [],
    previewLevel: input.previewLevel ?? 'full',
  }),
  initial: 'idle',
  // A top-level final state's own output arrives here as the done event's output.
  output: ({ event }) => (event as unknown as { output: CameraOutput }).output,
  on: {
    SET_PREVIEW: { actions: 'setPreview' },
  },
  states: {
    idle: {
      always: 'capturing',
    },
    capturing: {
      entry: 'beginRun',
      // However it is left, its ffmpeg is being killed: it is no longer ours to report.
      exit: 'clearPids',
      invoke: {
        id: 'ffmpeg',
        src: 'runFfmpeg',
        input: ({ context }) => ({ attempt: context.attempt }),
        onError: {
          target: 'device_error',
          actions: { type: 'countFailure', params: ({ event }) => ({ reason: `ffmpeg could not start: ${errorText(event.error)}` }) },
        },
      },
      on: {
        'FFMPEG.STARTED': { actions: { type: 'recordPid', params: ({ event }) => ({ pid: event.pid }) } },
        'FFMPEG.EXITED': [
          {
            guard: 'deviceFailure',
            target: 'device_error',
            actions: { type: 'countFailure', params: ({ context, event }) => ({ reason: failureOf(context, event).message }) },
          },
          {
            target: 'reconnecting',
            actions: [
              { type: 'countFailure', params: ({ context, event }) => ({ reason: failureOf(context, event).message }) },
              {
                type: 'recordFrameDrop',
                params: ({ context, event }) => ({
                  reason: failureOf(context, event).message,
                  framesSeen: context.framesSeen,
                  attempt: context.attempt,
                }),
              },
            ],
          },
        ],
        STOP: '.stopping',
        RESTART: '.restarting',
      },
      initial: 'starting',
      states: {
        starting: {
          on: { FRAME: { target: 'streaming', actions: 'countFrame' } },
          after: {
            startTimeout: {
              target: '#camera.device_error',
              actions: {
                type: 'countFailure',
                params: ({ context }) => ({ reason: `camera source failed: no video frame within ${context.settings.startTimeoutMs} ms of start` }),
              },
            },
          },
        },
        streaming: {
          tags: ['ready'],
          // Runs once per stream, not per frame: the watchdog below is re-armed alone.
          after: { stableStreaming: { actions: 'forgetFailures' } },
          initial: 'receiving',
          states: {
            receiving: {
              on: { FRAME: { target: 'receiving', reenter: true, actions: 'countFrame' } },
              after: { frameTimeout: '#camera.capturing.stalled' },
            },
          },
        },
        stalled: {
          tags: ['ready'],
          entry: [
            {
              type: 'recordFrameDrop',
              params: ({ context }) => ({
                reason: `no frame for ${context.settings.frameTimeoutMs} ms`,
                framesSeen: context.framesSeen,
                attempt: context.attempt,
              }),
            },
            {
              type: 'raiseAlert',
              params: ({ context }) => ({
                code: 'camera.stalled',
                severity: 'warning',
                message: `camera stalled: no frame for ${context.settings.frameTimeoutMs} ms, restarting capture`,
                details: { framesSeen: context.framesSeen, pids: context.pids, attempt: context.attempt },
              }),
            },
            // A wedged (or SIGSTOPped) ffmpeg ignores 'q': kill it outright.
            'killFfmpeg',
          ],
          on: {
            'FFMPEG.EXITED': {
              target: '#camera.reconnecting',
              actions: {
                type: 'countFailure',
                params: ({ context }) => ({ reason: `stalled: no frame for ${context.settings.frameTimeoutMs} ms` }),
              },
            },
            STOP: '#camera.stopped',
            RESTART: {},
            SET_PREVIEW: { actions: 'setPreview' },
          },
          after: {
            killGrace: {
              target: '#camera.reconnecting',
              actions: {
                type: 'countFailure',
                params: ({ context }) => ({ reason: `stalled: no frame for ${context.settings.frameTimeoutMs} ms` }),
              },
            },
          },
        },
        restarting: {
          tags: ['ready'],
          entry: 'quitFfmpeg',
          on: {
            'FFMPEG.EXITED': { target: '#camera.capturing', reenter: true, actions: 'countRestart' },
            RESTART: {},
            SET_PREVIEW: { actions: 'setPreview' },
          },
          after: { stopGrace: { target: '#camera.capturing', reenter: true, actions: 'countRestart' } },
        },
        stopping: {
          entry: 'quitFfmpeg',
          on: {
            'FFMPEG.EXITED': '#camera.stopped',
            STOP: {},
            RESTART: {},
            SET_PREVIEW: { actions: 'setPreview' },
          },
          // Leaving `capturing` kills what did not finish in time.
          after: { stopGrace: '#camera.stopped' },
        },
      },
    },
    reconnecting: {
      tags: ['ready'],
      invoke: { id: 'watchSource', src: 'watchSource' },
      after: { reconnectBackoff: { target: 'capturing', actions: 'countRestart' } },
      on: {
        STOP: 'stopped',
        RESTART: { target: 'capturing', actions: 'countRestart' },
        'SOURCE.REACHABLE': { target: 'capturing', actions: ['forgetFailures', 'countRestart'] },
      },
    },
    device_error: {
      tags: ['ready'],
      entry: {
        type: 'raiseAlert',
        params: ({ context }) => ({
          code: 'camera.device_error',
          severity: 'warning',
          message: context.lastError ?? 'camera source failed',
          details: { attempt: context.attempt, retryInMs: reconnectDelayMs(context.attempt, context.settings.backoff) },
        }),
      },
      // While a rebooting camera refuses, the waits grow; the moment it accepts again
      // the next start goes at once (the recording's gap is then the camera's downtime).
      invoke: { id: 'watchSource', src: 'watchSource' },
      after: { reconnectBackoff: { target: 'capturing', actions: 'countRestart' } },
      on: {
        STOP: 'stopped',
        RESTART: { target: 'capturing', actions: 'countRestart' },
        'SOURCE.REACHABLE': { target: 'capturing', actions: ['forgetFailures', 'countRestart'] },
      },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** The state an operator reads: `streaming`, `stalled`, `device_error` … */
export const cameraStateName = stateNameBelow('capturing')
