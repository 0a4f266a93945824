import { assign, enqueueActions, fromCallback, sendTo, setup, spawnChild, stopChild } from 'xstate'

/**
 * audio: one ffmpeg level meter (the `meter` actor) reports the sound level (dBFS) of
 * fixed windows, ten a second; the machine turns a loud stretch into a sound event.
 *
 * idle → starting ─first LEVEL→ listening (ready) ─STOP→ stopping → stopped (final, normal)
 *   listening.detector: quiet ─level ≥ thresholdDb→ loud ─loud for minMs→ cooldown ─cooldownMs→ quiet
 *   listening.watchdog: no LEVEL for levelTimeoutMs → failed (a stalled source is a dead meter)
 *   meter exits, or no level within startTimeoutMs → failed (final, abnormal; alert audio.down)
 *   PAUSE (starting, listening) → paused (ready; the meter and its ffmpeg are gone) ─RESUME→ starting
 *
 * Paused is the governor's CPU CRITICAL (DESIGN.md §9.3, "the recording comes first"): the
 * meter's decode is CPU the recording may need, and a paused meter is not a dead one (no
 * audio.down, no restart). An instance started while paused (`input.paused`) begins paused.
 *
 * Restarts are the supervisor's (backoff, intensity): a failed instance ends, the next
 * one starts fresh and, once it hears again, says so with audio.up.
 * Loudness is timed on the stream's own clock (the window timestamps), not on the
 * arrival of pipe chunks, so a burst of buffered lines cannot fake or hide a sound.
 */

export interface AudioSettings {
  thresholdDb: number
  minMs: number
  cooldownMs: number
  /** From spawn to the first level (an RTMP source takes seconds to answer). */
  startTimeoutMs: number
  /** No level this long while listening: the source stalled. */
  levelTimeoutMs: number
  stopGraceMs: number
  /** Length of one measured window. */
  windowMs: number
}

export interface AudioInput extends Partial<AudioSettings> {
  thresholdDb: number
  minMs: number
  cooldownMs: number
  /** The previous instance died: announce the recovery (audio.up) once listening. */
  afterFailure?: boolean
  /** The governor paused analysis before this instance started: begin paused. */
  paused?: boolean
}

export const AUDIO_DEFAULTS = {
  startTimeoutMs: 10000,
  levelTimeoutMs: 5000,
  stopGraceMs: 3000,
  windowMs: 100,
} as const

/** What the `meter` actor reports. `t`: window start in stream seconds; `at`: wall ms. */
export type MeterEvent =
  | { type: 'METER.STARTED'; pid: number }
  | { type: 'LEVEL'; db: number; t: number; at: number }
  | { type: 'METER.EXITED'; reason: string; stderr: string }

export type MeterCommand = { type: 'STOP' }

export type AudioEvent = MeterEvent | { type: 'STOP' } | { type: 'PAUSE' } | { type: 'RESUME' }

export interface SoundPayload {
  /** Loudest window of the stretch, dBFS. */
  db: number
  durationMs: number
  at: string
}

export interface AudioAlert {
  code: 'audio.down' | 'audio.up'
  severity: 'info' | 'warning'
  message: string
  details: Record<string, unknown>
}

interface LoudStretch {
  since: number
  last: number
  maxDb: number
}

export interface AudioContext {
  settings: AudioSettings
  afterFailure: boolean
  pid: number | null
  pids: number[]
  levelDb: number | null
  lastLevelAt: number | null
  lastSoundAt: string | null
  sounds: number
  loud: LoudStretch | null
  reason: string | null
  /** Set at start from the input; PAUSE and RESUME move the machine, not this. */
  startPaused: boolean
}

export interface AudioOutput {
  normal: boolean
  reason: string
}

export interface RunMeterInput {
  windowMs: number
}

/** How long a stretch has been loud, in ms: from its first window's start to its last window's end. */
export function loudMs(loud: LoudStretch, windowMs: number): number {
  return Math.round((loud.last - loud.since) * 1000 + windowMs)
}

/** The last useful line of ffmpeg's stderr, for "why did it die". */
export function describeMeterExit(reason: string, stderr: string): string {
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .at(-1)
  return last ? `ffmpeg ${reason}: ${last}` : `ffmpeg ${reason}`
}

function notProvided(name: string): never {
  throw new Error(`audio machine: actor '${name}' was not provided (use createAudioActor)`)
}

type LevelEvent = Extract<AudioEvent, { type: 'LEVEL' }>
const asLevel = (event: AudioEvent): LevelEvent | null => (event.type === 'LEVEL' ? event : null)

export const audioMachine = setup({
  types: {
    context: {} as AudioContext,
    events: {} as AudioEvent,
    input: {} as AudioInput,
    output: {} as AudioOutput,
  },
  actors: {
    runMeter: fromCallback<MeterCommand, RunMeterInput>(() => notProvided('runMeter')),
  },
  actions: {
    recordPid: assign(({ event, context }) => (event.type === 'METER.STARTED' ? { pid: event.pid, pids: [event.pid] } : context)),
    clearPid: assign({ pid: null, pids: [] }),
    recordLevel: assign(({ event, context }) => {
      const e = asLevel(event)
      return e ? { levelDb: e.db, lastLevelAt: e.at } : context
    }),
    beginLoud: assign({
      loud: ({ event, context }) => {
        const e = asLevel(event)
        return e ? { since: e.t, last: e.t, maxDb: e.db } : context.loud
      },
    }),
    extendLoud: assign({
      loud: ({ event, context }) => {
        const e = asLevel(event)
        if (!e || !context.loud) return context.loud
        // The stream clock went back (a reconnected source): start the stretch again.
        if (e.t < context.loud.last) return { since: e.t, last: e.t, maxDb: e.db }
        return { since: context.loud.since, last: e.t, maxDb: Math.max(context.loud.maxDb, e.db) }
      },
    }),
    endLoud: assign({ loud: null }),
    countSound: assign({
      sounds: ({ context }) => context.sounds + 1,
      lastSoundAt: (_, params: SoundPayload) => params.at,
    }),
    setReason: assign({ reason: (_, params: { reason: string }) => params.reason }),
    // Effects the actor layer provides (NATS event, alert manager).
    publishSound: (_, _params: SoundPayload) => {},
    raiseAlert: (_, _params: AudioAlert) => {},
  },
  guards: {
    isLoud: ({ context, event }) => event.type === 'LEVEL' && event.db >= context.settings.thresholdDb,
    loudLongEnough: ({ context }) => context.loud !== null && loudMs(context.loud, context.settings.windowMs) >= context.settings.minMs,
  },
  delays: {
    startTimeout: ({ context }) => context.settings.startTimeoutMs,
    levelTimeout: ({ context }) => context.settings.levelTimeoutMs,
    cooldown: ({ context }) => context.settings.cooldownMs,
    stopGrace: ({ context }) => context.settings.stopGraceMs,
  },
}).createMachine({
  id: 'audio',
  context: ({ input }) => ({
    settings: {
      thresholdDb: input.thresholdDb,
      minMs: input.minMs,
      cooldownMs: input.cooldownMs,
      startTimeoutMs: input.startTimeoutMs ?? AUDIO_DEFAULTS.startTimeoutMs,
      levelTimeoutMs: input.levelTimeoutMs ?? AUDIO_DEFAULTS.levelTimeoutMs,
      stopGraceMs: input.stopGraceMs ?? AUDIO_DEFAULTS.stopGraceMs,
      windowMs: input.windowMs ?? AUDIO_DEFAULTS.windowMs,
    },
    afterFailure: input.afterFailure === true,
    pid: null,
    pids: [],
    levelDb: null,
    lastLevelAt: null,
    lastSoundAt: null,
    sounds: 0,
    loud: null,
    reason: null,
    startPaused: input.paused === true,
  }),
  initial: 'idle',
  output: ({ event }) => (event as unknown as { output: AudioOutput }).output,
  states: {
    idle: {
      always: [{ guard: ({ context }) => context.startPaused, target: 'paused' }, { target: 'starting' }],
    },
    paused: {
      // Ready: paused on purpose is serving as asked, not failing (the supervisor leaves it be).
      tags: ['ready'],
      // Stopping the meter actor runs its cleanup, which kills the ffmpeg; a late exit of it is not reported.
      entry: [stopChild('meter'), 'clearPid', assign({ levelDb: null, loud: null })],
      on: {
        RESUME: 'starting',
        STOP: 'stopped',
      },
    },
    starting: {
      // Spawned, not invoked: the one meter lives through starting, listening and
      // stopping, and reaching a final state stops it (its cleanup kills ffmpeg).
      entry: spawnChild('runMeter', { id: 'meter', input: ({ context }) => ({ windowMs: context.settings.windowMs }) }),
      on: {
        'METER.STARTED': { actions: 'recordPid' },
        LEVEL: { target: 'listening', actions: 'recordLevel' },
        'METER.EXITED': {
          target: 'failed',
          actions: { type: 'setReason', params: ({ event }) => ({ reason: describeMeterExit(event.reason, event.stderr) }) },
        },
        STOP: 'stopping',
        PAUSE: 'paused',
      },
      after: {
        startTimeout: {
          target: 'failed',
          actions: {
            type: 'setReason',
            params: ({ context }) => ({ reason: `no audio level within ${context.settings.startTimeoutMs} ms of start` }),
          },
        },
      },
    },
    listening: {
      tags: ['ready'],
      type: 'parallel',
      // Only after a failure: a first start is not news, a recovery is.
      entry: enqueueActions(({ context, enqueue }) => {
        if (!context.afterFailure) return
        enqueue({
          type: 'raiseAlert',
          params: { code: 'audio.up', severity: 'info', message: 'audio level meter is listening again', details: { pid: context.pid } },
        })
      }),
      on: {
        'METER.STARTED': { actions: 'recordPid' },
        'METER.EXITED': {
          target: 'failed',
          actions: { type: 'setReason', params: ({ event }) => ({ reason: describeMeterExit(event.reason, event.stderr) }) },
        },
        STOP: 'stopping',
        PAUSE: 'paused',
      },
      states: {
        watchdog: {
          initial: 'alive',
          states: {
            alive: {
              on: { LEVEL: { target: 'alive', reenter: true, actions: 'recordLevel' } },
              after: {
                levelTimeout: {
                  target: '#audio.failed',
                  actions: {
                    type: 'setReason',
                    params: ({ context }) => ({ reason: `no audio level for ${context.settings.levelTimeoutMs} ms (source stalled)` }),
                  },
                },
              },
            },
          },
        },
        detector: {
          initial: 'quiet',
          states: {
            quiet: {
              on: { LEVEL: { guard: 'isLoud', target: 'loud', actions: 'beginLoud' } },
            },
            loud: {
              always: {
                guard: 'loudLongEnough',
                target: 'cooldown',
                actions: [
                  {
                    type: 'publishSound',
                    params: ({ context, event }) => soundOf(context, event),
                  },
                  { type: 'countSound', params: ({ context, event }) => soundOf(context, event) },
                ],
              },
              on: {
                LEVEL: [{ guard: 'isLoud', actions: 'extendLoud' }, { target: 'quiet', actions: 'endLoud' }],
              },
            },
            cooldown: {
              entry: 'endLoud',
              after: { cooldown: 'quiet' },
            },
          },
        },
      },
    },
    stopping: {
      entry: sendTo('meter', { type: 'STOP' }),
      on: { 'METER.EXITED': 'stopped' },
      after: { stopGrace: 'stopped' },
    },
    stopped: {
      type: 'final',
      entry: 'clearPid',
      output: { normal: true, reason: 'stopped' },
    },
    failed: {
      type: 'final',
      entry: [
        {
          type: 'raiseAlert',
          params: ({ context }) => ({
            code: 'audio.down',
            severity: 'warning',
            message: `audio level meter down: ${context.reason ?? 'unknown reason'}`,
            details: { reason: context.reason, pid: context.pid },
          }),
        },
        'clearPid',
      ],
      output: ({ context }) => ({ normal: false, reason: context.reason ?? 'audio meter failed' }),
    },
  },
})

function soundOf(context: AudioContext, event: AudioEvent): SoundPayload {
  const loud = context.loud ?? { since: 0, last: 0, maxDb: context.levelDb ?? 0 }
  const at = event.type === 'LEVEL' ? event.at : (context.lastLevelAt ?? 0)
  return { db: Math.round(loud.maxDb * 10) / 10, durationMs: loudMs(loud, context.settings.windowMs), at: new Date(at).toISOString() }
}

/** Where the detector is while listening: quiet, loud or cooldown; null otherwise. */
export function detectorStateOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || !('listening' in value)) return null
  const detector = (value as { listening: { detector?: unknown } }).listening.detector
  return typeof detector === 'string' ? detector : null
}
