import { assign, fromCallback, fromPromise, sendTo, setup } from 'xstate'
import { stateNameBelow } from './stateName.js'
import { errorMessage, probeLoop } from './probeLoop.js'
import { describeSilence } from './media.heartbeat.js'

/**
 * media: node-media-server in a child process, watched by its heartbeat and a health probe.
 *
 * idle → serving.starting → serving.running (ready; probing every probeIntervalMs)
 *   → serving.stopping → stopped (final, normal)
 * Any exit of the server process, a start that never reports ready, a server that stops
 * sending its heartbeats for `heartbeatTimeoutMs` (frozen: SIGSTOP, a wedged event loop;
 * the `server` actor watches them, media.heartbeat.ts, and reports `MEDIA.UNRESPONSIVE`
 * once), or `probeMisses` consecutive failed probes (a listener broken in a process that
 * still runs) end in `failed` (final, not normal): restarting is the supervisor's job,
 * with its backoff and intensity, not a loop in here.
 *
 * `serving` owns the process (invoke `server`): leaving it, for whatever reason, kills it.
 */

export interface MediaSettings {
  probeIntervalMs: number
  probeMisses: number
  /** Heartbeat silence (ms) after which a running server counts as frozen. */
  heartbeatTimeoutMs: number
  /** The child must report ready within this (node + tsx startup, two listeners). */
  startTimeoutMs: number
  /** After asking the child to stop, how long before it is killed. */
  stopGraceMs: number
}

export type MediaInput = Pick<MediaSettings, 'probeIntervalMs' | 'probeMisses'> & Partial<MediaSettings>

export interface MediaContext {
  settings: MediaSettings
  /** Consecutive failed probes; any success resets it. */
  misses: number
  pids: number[]
  lastError: string | null
}

/** What the `server` actor reports. */
export type MediaServerEvent =
  | { type: 'MEDIA.STARTED'; pid: number }
  | { type: 'MEDIA.READY' }
  | { type: 'MEDIA.EXITED'; reason: string; normal: boolean; stderr: string }
  /** Once, when the ready server's heartbeats stopped for longer than heartbeatTimeoutMs. */
  | { type: 'MEDIA.UNRESPONSIVE'; silentMs: number }

/** What the `server` actor is given: how long a silence it tolerates. */
export interface MediaServerInput {
  heartbeatTimeoutMs: number
}

/** What the machine asks of the `server` actor. */
export type MediaServerCommand = { type: 'STOP' }

export type MediaEvent = MediaServerEvent | { type: 'STOP' }

export interface MediaOutput {
  normal: boolean
  reason: string
}

export const MEDIA_DEFAULTS = { heartbeatTimeoutMs: 1500, startTimeoutMs: 15000, stopGraceMs: 3000 } as const

function notProvided(name: string): never {
  throw new Error(`media machine: actor '${name}' was not provided (use createMediaActor)`)
}

/** Last non-empty line of a stderr tail: usually the reason a process died. */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
  return lines[lines.length - 1] ?? ''
}

export function describeServerExit(event: { reason: string; stderr: string }): string {
  const line = lastLine(event.stderr)
  return line ? `media server ${event.reason}: ${line}` : `media server ${event.reason}`
}

export const mediaMachine = setup({
  types: {
    context: {} as MediaContext,
    events: {} as MediaEvent,
    input: {} as MediaInput,
    output: {} as MediaOutput,
  },
  actors: {
    runServer: fromCallback<MediaServerCommand, MediaServerInput>(() => notProvided('runServer')),
    probe: fromPromise<void>(async () => notProvided('probe')),
  },
  actions: {
    recordPid: assign({ pids: (_, params: { pid: number }) => [params.pid] }),
    clearPids: assign({ pids: () => [] }),
    countMiss: assign({ misses: ({ context }) => context.misses + 1 }),
    resetMisses: assign({ misses: () => 0 }),
    recordError: assign({ lastError: (_, params: { reason: string }) => params.reason }),
    probeMissed: assign({ lastError: (_, params: { error: unknown }) => `health probe missed: ${errorMessage(params.error)}` }),
    probeFailed: assign({ lastError: ({ context }) => `health probe failed ${context.settings.probeMisses} times` }),
    askServerToStop: sendTo('server', { type: 'STOP' }),
  },
  guards: {
    lastAllowedMiss: ({ context }) => context.misses + 1 >= context.settings.probeMisses,
  },
  delays: {
    probeInterval: ({ context }) => context.settings.probeIntervalMs,
    startTimeout: ({ context }) => context.settings.startTimeoutMs,
    stopGrace: ({ context }) => context.settings.stopGraceMs,
  },
}).createMachine({
  id: 'media',
  context: ({ input }) => ({
    settings: { ...MEDIA_DEFAULTS, ...input },
    misses: 0,
    pids: [],
    lastError: null,
  }),
  initial: 'idle',
  // A top-level final state's own output arrives here as the done event's output.
  output: ({ event }) => (event as unknown as { output: MediaOutput }).output,
  states: {
    idle: {
      always: 'serving',
    },
    serving: {
      // However it is left, its process is being stopped: no longer ours to report.
      exit: 'clearPids',
      invoke: {
        id: 'server',
        src: 'runServer',
        input: ({ context }) => ({ heartbeatTimeoutMs: context.settings.heartbeatTimeoutMs }),
        onError: {
          target: 'failed',
          actions: { type: 'recordError', params: ({ event }) => ({ reason: `media server could not start: ${errorMessage(event.error)}` }) },
        },
      },
      on: {
        'MEDIA.STARTED': { actions: { type: 'recordPid', params: ({ event }) => ({ pid: event.pid }) } },
        'MEDIA.EXITED': {
          target: 'failed',
          actions: { type: 'recordError', params: ({ event }) => ({ reason: describeServerExit(event) }) },
        },
        STOP: '.stopping',
      },
      initial: 'starting',
      states: {
        starting: {
          on: { 'MEDIA.READY': 'running' },
          after: {
            startTimeout: {
              target: '#media.failed',
              actions: {
                type: 'recordError',
                params: ({ context }) => ({ reason: `media server not ready within ${context.settings.startTimeoutMs} ms` }),
              },
            },
          },
        },
        running: {
          tags: ['ready'],
          entry: 'resetMisses',
          on: {
            'MEDIA.UNRESPONSIVE': {
              target: '#media.failed',
              actions: { type: 'recordError', params: ({ event }) => ({ reason: describeSilence(event.silentMs) }) },
            },
          },
          ...probeLoop('#media.failed'),
        },
        stopping: {
          entry: 'askServerToStop',
          on: {
            'MEDIA.EXITED': '#media.stopped',
            STOP: {},
          },
          // Leaving `serving` kills whatever did not exit in time.
          after: { stopGrace: '#media.stopped' },
        },
      },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
    failed: {
      type: 'final',
      output: ({ context }) => ({ normal: false, reason: context.lastError ?? 'media server failed' }),
    },
  },
})

/** The state an operator reads: `starting`, `running`, `stopping`, `stopped`, `failed`. */
export const mediaStateName = stateNameBelow('serving')
