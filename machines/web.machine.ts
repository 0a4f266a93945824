import { assign, fromCallback, fromPromise, sendTo, setup } from 'xstate'
import { errorMessage, probeLoop } from './probeLoop.js'

/**
 * web: the Fastify server (live view, API, health, metrics, WebSocket), watched by
 * a health probe on its own port.
 *
 * starting → listening (ready; probing GET /health every probeIntervalMs)
 *   → stopping → stopped (final, normal)
 * A listen that fails (port in use, address not ours, no token on a public bind),
 * a start that never reports listening, or `probeMisses` consecutive missed probes
 * (the server was closed or wedged under us) end in `failed` (final, not normal):
 * restarting is the supervisor's job, with its backoff and intensity.
 *
 * The machine itself invokes `server`, so every way out (final state or the
 * supervisor's kill) closes the server.
 */

export interface WebSettings {
  probeIntervalMs: number
  probeMisses: number
  /** The server must be listening within this. */
  startTimeoutMs: number
  /** After asking the server to close, how long before it is abandoned (closed hard by the cleanup). */
  stopGraceMs: number
}

export type WebInput = Partial<WebSettings>

export interface WebContext {
  settings: WebSettings
  /** The port actually bound (config port 0 picks one); null until listening. */
  port: number | null
  host: string | null
  /** Consecutive missed probes; any answer resets it. */
  misses: number
  lastError: string | null
}

/** What the `server` actor reports. */
export type WebServerEvent =
  | { type: 'WEB.LISTENING'; host: string; port: number }
  | { type: 'WEB.LISTEN_FAILED'; reason: string }
  | { type: 'WEB.CLOSED' }

/** What the machine asks of the `server` actor. */
export type WebServerCommand = { type: 'STOP' }

export type WebEvent = WebServerEvent | { type: 'STOP' }

export interface WebOutput {
  normal: boolean
  reason: string
}

export interface WebAlert {
  severity: 'info' | 'warning' | 'critical'
  code: 'web.down'
  message: string
  details: Record<string, unknown>
}

export interface WebProbeInput {
  host: string
  port: number
}

export const WEB_DEFAULTS: WebSettings = { probeIntervalMs: 2000, probeMisses: 3, startTimeoutMs: 10000, stopGraceMs: 3000 }

function notProvided(name: string): never {
  throw new Error(`web machine: actor '${name}' was not provided (use createWebActor)`)
}


export const webMachine = setup({
  types: {
    context: {} as WebContext,
    events: {} as WebEvent,
    input: {} as WebInput,
    output: {} as WebOutput,
  },
  actors: {
    runServer: fromCallback<WebServerCommand>(() => notProvided('runServer')),
    probe: fromPromise<void, WebProbeInput>(async () => notProvided('probe')),
  },
  actions: {
    recordAddress: assign({
      host: (_, params: { host: string; port: number }) => params.host,
      port: (_, params: { host: string; port: number }) => params.port,
    }),
    countMiss: assign({ misses: ({ context }) => context.misses + 1 }),
    resetMisses: assign({ misses: () => 0 }),
    recordError: assign({ lastError: (_, params: { reason: string }) => params.reason }),
    probeMissed: assign({ lastError: (_, params: { error: unknown }) => `health probe missed: ${errorMessage(params.error)}` }),
    probeFailed: assign({
      lastError: ({ context }, params: { error: unknown }) =>
        `web server stopped answering on ${context.host}:${context.port}: health probe missed ${context.misses} times in a row (last: ${errorMessage(params.error)})`,
    }),
    askServerToStop: sendTo('server', { type: 'STOP' }),
    raiseAlert: (_, _params: WebAlert) => {},
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
  id: 'web',
  context: ({ input }) => ({
    settings: { ...WEB_DEFAULTS, ...input },
    port: null,
    host: null,
    misses: 0,
    lastError: null,
  }),
  invoke: {
    id: 'server',
    src: 'runServer',
    onError: {
      target: '.failed',
      actions: { type: 'recordError', params: ({ event }) => ({ reason: `web server crashed: ${errorMessage(event.error)}` }) },
    },
  },
  // A top-level final state's own output arrives here as the done event's output.
  output: ({ event }) => (event as unknown as { output: WebOutput }).output,
  initial: 'starting',
  states: {
    starting: {
      on: {
        'WEB.LISTENING': {
          target: 'listening',
          actions: { type: 'recordAddress', params: ({ event }) => ({ host: event.host, port: event.port }) },
        },
        'WEB.LISTEN_FAILED': {
          target: 'failed',
          actions: { type: 'recordError', params: ({ event }) => ({ reason: `web server could not start: ${event.reason}` }) },
        },
        STOP: 'stopping',
      },
      after: {
        startTimeout: {
          target: 'failed',
          actions: {
            type: 'recordError',
            params: ({ context }) => ({ reason: `web server not listening within ${context.settings.startTimeoutMs} ms` }),
          },
        },
      },
    },
    listening: {
      tags: ['ready'],
      entry: 'resetMisses',
      on: { STOP: 'stopping' },
      ...probeLoop('#web.failed', ({ context }: { context: WebContext }) => ({ host: context.host!, port: context.port! })),
    },
    stopping: {
      entry: 'askServerToStop',
      on: { 'WEB.CLOSED': 'stopped' },
      // Leaving the machine runs the server's cleanup, which closes it hard.
      after: { stopGrace: 'stopped' },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
    failed: {
      type: 'final',
      // Whatever took it down, the operator has lost the live view and the API until the restart.
      entry: {
        type: 'raiseAlert',
        params: ({ context }) => ({
          severity: 'warning',
          code: 'web.down',
          message: `${context.lastError ?? 'web server failed'}; the supervisor restarts it`,
          details: { host: context.host, port: context.port, misses: context.misses, reason: context.lastError },
        }),
      },
      output: ({ context }) => ({ normal: false, reason: context.lastError ?? 'web server failed' }),
    },
  },
})

/** The state an operator reads: `starting`, `listening`, `stopping`, `stopped`, `failed`. */
export function webStateName(value: unknown): string {
  if (typeof value === 'string') return value
  if (value && typeof value === 'object') return Object.keys(value)[0] ?? 'unknown'
  return String(value)
}
