import { assign, enqueueActions, fromCallback, fromPromise, setup, spawnChild, stopChild } from 'xstate'

/**
 * motion: scores each of the camera's small grey frames against the previous one (the
 * `frames` actor does the arithmetic and sends FRAME {score}); the machine decides.
 *
 * watching (ready) ─minFrames consecutive scores > threshold→ motion (event + snapshot)
 *   → cooldown ─cooldownMs→ watching.     STOP (any state) → stopped (final, normal)
 *
 * PAUSE (any live state) → paused (ready; the frame subscription and its arithmetic are
 * gone) ─RESUME→ watching with a fresh subscription: the governor's CPU CRITICAL (DESIGN.md
 * §9.3) takes analysis off the CPU, never the recording. `input.paused` begins paused.
 *
 * A snapshot that cannot be written leaves no file and the monitor goes on: the
 * `saveSnapshot` actor resolves null for a failed write, and even a rejection only
 * leads to cooldown. CONFIGURE changes threshold and minFrames at run time.
 */

export interface MotionSettings {
  /** Share of changed pixels (0–1] above which a frame counts as moving. */
  threshold: number
  /** Consecutive moving frames before it is motion. */
  minFrames: number
  cooldownMs: number
}

export type MotionInput = MotionSettings & { paused?: boolean }

export const MOTION_LIMITS = {
  minFrames: { min: 1, max: 1000 },
} as const

/** What can be wrong with a CONFIGURE request, in operator words; empty when valid. */
export function motionSettingsErrors(s: { threshold?: number; minFrames?: number }): string[] {
  const errors: string[] = []
  if (s.threshold !== undefined && !(Number.isFinite(s.threshold) && s.threshold > 0 && s.threshold <= 1)) {
    errors.push(`threshold must be a number in (0, 1] (a share of changed pixels), got ${String(s.threshold)}`)
  }
  if (
    s.minFrames !== undefined &&
    !(Number.isInteger(s.minFrames) && s.minFrames >= MOTION_LIMITS.minFrames.min && s.minFrames <= MOTION_LIMITS.minFrames.max)
  ) {
    errors.push(`minFrames must be an integer from ${MOTION_LIMITS.minFrames.min} to ${MOTION_LIMITS.minFrames.max}, got ${String(s.minFrames)}`)
  }
  return errors
}

/** `at`: wall ms when the frame arrived. */
export type FrameEvent = { type: 'FRAME'; score: number; at: number }

export type MotionEvent = FrameEvent | { type: 'CONFIGURE'; threshold?: number; minFrames?: number } | { type: 'STOP' } | { type: 'PAUSE' } | { type: 'RESUME' }

export interface SnapshotRequest {
  score: number
  at: number
}

export interface SavedSnapshot {
  file: string
  bytes: number
  at: string
}

export interface MotionPayload {
  score: number
  threshold: number
  minFrames: number
  at: string
}

export interface MotionContext {
  settings: MotionSettings
  /** Score of the latest frame. */
  score: number | null
  /** Consecutive frames over the threshold so far. */
  over: number
  motions: number
  /** Wall ms of the current (or last) motion. */
  motionAt: number | null
  lastMotionAt: string | null
  lastSnapshot: SavedSnapshot | null
  snapshotFailures: number
  startPaused: boolean
}

export interface MotionOutput {
  normal: boolean
  reason: string
}

function notProvided(name: string): never {
  throw new Error(`motion machine: actor '${name}' was not provided (use createMotionActor)`)
}

const scoreOf = (event: MotionEvent, fallback: number | null) => (event.type === 'FRAME' ? event.score : fallback)

export const motionMachine = setup({
  types: {
    context: {} as MotionContext,
    events: {} as MotionEvent,
    input: {} as MotionInput,
    output: {} as MotionOutput,
  },
  actors: {
    watchFrames: fromCallback<{ type: 'NONE' }>(() => notProvided('watchFrames')),
    saveSnapshot: fromPromise<SavedSnapshot | null, SnapshotRequest>(async () => notProvided('saveSnapshot')),
  },
  actions: {
    recordScore: assign({ score: ({ event, context }) => scoreOf(event, context.score) }),
    countFrame: assign(({ event, context }) => {
      if (event.type !== 'FRAME') return context
      return { score: event.score, over: event.score > context.settings.threshold ? context.over + 1 : 0 }
    }),
    markMotion: assign(({ event, context }) => {
      const at = event.type === 'FRAME' ? event.at : (context.motionAt ?? 0)
      return { over: 0, motions: context.motions + 1, motionAt: at, lastMotionAt: new Date(at).toISOString() }
    }),
    configure: assign({
      settings: ({ event, context }) =>
        event.type === 'CONFIGURE'
          ? {
              ...context.settings,
              ...(event.threshold !== undefined ? { threshold: event.threshold } : {}),
              ...(event.minFrames !== undefined ? { minFrames: event.minFrames } : {}),
            }
          : context.settings,
      over: 0,
    }),
    recordSnapshot: assign({ lastSnapshot: (_, saved: SavedSnapshot) => saved }),
    countSnapshotFailure: assign({ snapshotFailures: ({ context }) => context.snapshotFailures + 1 }),
    // Effects the actor layer provides (NATS events, the log).
    publishMotion: (_, _params: MotionPayload) => {},
    publishSnapshot: (_, _params: SavedSnapshot) => {},
    reportSnapshotError: (_, _params: { error: unknown }) => {},
  },
  guards: {
    completesMotion: ({ context, event }) =>
      event.type === 'FRAME' && event.score > context.settings.threshold && context.over + 1 >= context.settings.minFrames,
    validSettings: ({ event }) => event.type === 'CONFIGURE' && motionSettingsErrors(event).length === 0,
  },
  delays: {
    cooldown: ({ context }) => context.settings.cooldownMs,
  },
}).createMachine({
  id: 'motion',
  context: ({ input }) => ({
    settings: { threshold: input.threshold, minFrames: input.minFrames, cooldownMs: input.cooldownMs },
    score: null,
    over: 0,
    motions: 0,
    motionAt: null,
    lastMotionAt: null,
    lastSnapshot: null,
    snapshotFailures: 0,
    startPaused: input.paused === true,
  }),
  // One subscription to the frames while not paused; a final state ends it.
  entry: spawnChild('watchFrames', { id: 'frames' }),
  initial: 'choosing',
  output: ({ event }) => (event as unknown as { output: MotionOutput }).output,
  on: {
    CONFIGURE: { guard: 'validSettings', actions: 'configure' },
    STOP: '.stopped',
  },
  states: {
    choosing: {
      always: [{ guard: ({ context }) => context.startPaused, target: 'paused' }, { target: 'watching' }],
    },
    watching: {
      tags: ['ready'],
      on: {
        FRAME: [{ guard: 'completesMotion', target: 'motion', actions: 'countFrame' }, { actions: 'countFrame' }],
        PAUSE: 'paused',
      },
    },
    paused: {
      tags: ['ready'],
      entry: [stopChild('frames'), assign({ score: null, over: 0 })],
      on: {
        RESUME: { target: 'watching', actions: spawnChild('watchFrames', { id: 'frames' }) },
      },
    },
    motion: {
      tags: ['ready'],
      entry: [
        'markMotion',
        {
          type: 'publishMotion',
          params: ({ context }) => ({
            score: Math.round((context.score ?? 0) * 10000) / 10000,
            threshold: context.settings.threshold,
            minFrames: context.settings.minFrames,
            at: context.lastMotionAt ?? new Date(0).toISOString(),
          }),
        },
      ],
      invoke: {
        src: 'saveSnapshot',
        input: ({ context }) => ({ score: context.score ?? 0, at: context.motionAt ?? 0 }),
        onDone: {
          target: 'cooldown',
          actions: enqueueActions(({ event, enqueue }) => {
            if (event.output === null) {
              enqueue('countSnapshotFailure')
              return
            }
            enqueue({ type: 'recordSnapshot', params: event.output })
            enqueue({ type: 'publishSnapshot', params: event.output })
          }),
        },
        onError: {
          target: 'cooldown',
          actions: ['countSnapshotFailure', { type: 'reportSnapshotError', params: ({ event }) => ({ error: event.error }) }],
        },
      },
      // A snapshot being saved is still saved (the file may be written); its event is not published.
      on: { FRAME: { actions: 'recordScore' }, PAUSE: 'paused' },
    },
    cooldown: {
      tags: ['ready'],
      on: { FRAME: { actions: 'recordScore' }, PAUSE: 'paused' },
      after: { cooldown: 'watching' },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})
