import { assign, emit, enqueueActions, fromCallback, fromPromise, sendTo, setup, spawnChild } from 'xstate'
import { errorMessage, probeLoop } from './probeLoop.js'

/**
 * The embedded nats-server as a supervised child (DESIGN.md §3, first child).
 *
 * The process is owned by the callback actor `runServer` (provided by
 * actors/nats), spawned on entry to `starting` and alive until the machine is
 * done: it must survive starting → running → stopping, so it is a child of the
 * machine rather than of one state, and the top-level states stay the flat names
 * an operator reads on `vigil.<node>.state.nats`. Reaching a final state (or the
 * supervisor stopping the actor) stops the child, whose cleanup kills what is left.
 *
 * While running, the `probe` actor asks the server for a PONG every
 * probeIntervalMs: a SIGSTOPped or hung nats-server keeps its port open (the
 * kernel still accepts connections into the backlog) and never exits, so only a
 * probe that needs an answer notices it. probeMisses consecutive misses end in
 * `failed`; leaving the machine SIGKILLs the frozen process and the supervisor
 * starts a fresh one (its backoff and intensity, not a loop in here).
 *
 * A miss and the answer after misses are also emitted (`notAnswering`,
 * `answeringAgain`): a frozen server still takes what the rig's client writes and
 * never reads it, so the rig holds its publishing from the first miss.
 */

/** What `runServer` reports. */
export type RunServerEvent =
  | { type: 'SERVER.SPAWNED'; pid: number }
  | { type: 'SERVER.READY'; pid: number; port?: number }
  | { type: 'SERVER.EXITED'; reason: string; stderr: string; normal?: boolean }

export type NatsServerEvent = { type: 'STOP' } | RunServerEvent

/** Emitted to listeners (`actor.on`) while running. */
export type NatsServerEmitted = { type: 'notAnswering'; misses: number } | { type: 'answeringAgain' }

/** What `runServer` receives: STOP asks for a graceful exit (SIGTERM). */
export type RunServerCommand = { type: 'STOP' }

export interface RunServerInput {
  stopGraceMs: number
}

/** What `probe` is asked: the port the server reported when ready. */
export interface ProbeInput {
  port: number | null
}

export interface NatsServerInput {
  /** How long `stopping` waits for the process to exit before giving up on it (it is then killed). */
  stopGraceMs?: number
  /** Liveness probe period while running. */
  probeIntervalMs?: number
  /** Consecutive missed probes that count as dead. */
  probeMisses?: number
}

export interface NatsServerContext {
  /** OS processes owned right now (the supervisor reports them). */
  pids: number[]
  pid: number | null
  /** The port the server actually listens on (known once ready). */
  port: number | null
  reason: string | null
  stopGraceMs: number
  probeIntervalMs: number
  probeMisses: number
  /** Consecutive failed probes; any answer resets it. */
  misses: number
}

export interface NatsServerOutput {
  normal: boolean
  reason: string
}

export const DEFAULT_STOP_GRACE_MS = 5000
export const DEFAULT_PROBE_INTERVAL_MS = 2000
export const DEFAULT_PROBE_MISSES = 3

// Log lines look like `[1234] 2024/01/02 03:04:05.678901 [FTL] Error listening on port: …`.
const LOG_LINE = /^\[\d+\]\s+\S+\s+\S+\s+\[(FTL|ERR|WRN|INF|DBG|TRC)\]\s*(.*)$/

/**
 * Operator words for an exit: the server's own fatal line when there is one
 * ("address already in use" names host:port), so a port clash is obvious in
 * `supervisor.status` instead of an anonymous "exited with code 1".
 */
export function describeServerExit(reason: string, stderr: string): string {
  const lines = stderr.split(/\r?\n/).filter((l) => l.trim().length > 0)
  let fatal: string | undefined
  for (const line of lines) {
    const m = LOG_LINE.exec(line)
    if (m && (m[1] === 'FTL' || m[1] === 'ERR')) fatal = m[2]
  }
  if (fatal === undefined) {
    // Not a server log line: a spawn error, a bad flag, a config parse error.
    const last = lines.filter((l) => !LOG_LINE.test(l)).at(-1)
    fatal = last?.trim()
  }
  const inUse = /address already in use/i.test(fatal ?? '') || /address already in use/i.test(stderr)
  if (inUse) return `nats-server ${reason}: port already in use — ${fatal ?? 'address already in use'}`
  return fatal ? `nats-server ${reason}: ${fatal}` : `nats-server ${reason}`
}

export const natsServerMachine = setup({
  types: {
    context: {} as NatsServerContext,
    events: {} as NatsServerEvent,
    input: {} as NatsServerInput,
    output: {} as NatsServerOutput,
    emitted: {} as NatsServerEmitted,
  },
  actors: {
    // Provided by actors/nats (createNatsServerActor); tests provide a fake.
    runServer: fromCallback<RunServerCommand, RunServerInput>(() => {}),
    // Provided by actors/nats (PING on a kept connection); resolves = the server answered.
    probe: fromPromise<void, ProbeInput>(async () => {}),
  },
  actions: {
    countMiss: assign({ misses: ({ context }) => context.misses + 1 }),
    resetMisses: enqueueActions(({ context, enqueue }) => {
      if (context.misses > 0) enqueue.emit({ type: 'answeringAgain' })
      enqueue.assign({ misses: 0 })
    }),
    // After countMiss: `misses` already counts this one.
    probeMissed: emit(({ context }) => ({ type: 'notAnswering' as const, misses: context.misses })),
    // Reaching `failed` stops `server`, whose cleanup SIGKILLs the frozen process.
    probeFailed: assign(({ context }, params: { error: unknown }) => ({
      pid: null,
      pids: [],
      reason: `nats-server did not answer ${context.probeMisses} health probes in a row (hung or stopped): ${errorMessage(params.error)}`,
    })),
  },
  guards: {
    lastAllowedMiss: ({ context }) => context.misses + 1 >= context.probeMisses,
  },
  delays: {
    stopGrace: ({ context }) => context.stopGraceMs,
    probeInterval: ({ context }) => context.probeIntervalMs,
  },
}).createMachine({
  id: 'nats',
  context: ({ input }) => ({
    pids: [],
    pid: null,
    port: null,
    reason: null,
    stopGraceMs: input?.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
    probeIntervalMs: input?.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
    probeMisses: input?.probeMisses ?? DEFAULT_PROBE_MISSES,
    misses: 0,
  }),
  initial: 'idle',
  // The machine's output is that of the final state it reached.
  output: ({ event }) => (event as { output?: NatsServerOutput }).output ?? { normal: true, reason: 'stopped' },
  states: {
    idle: {
      always: 'starting',
    },
    starting: {
      entry: spawnChild('runServer', { id: 'server', input: ({ context }) => ({ stopGraceMs: context.stopGraceMs }) }),
      on: {
        'SERVER.SPAWNED': {
          actions: assign(({ event }) => ({ pid: event.pid, pids: [event.pid] })),
        },
        'SERVER.READY': {
          target: 'running',
          actions: assign(({ event, context }) => ({ pid: event.pid, pids: [event.pid], port: event.port ?? context.port })),
        },
        'SERVER.EXITED': {
          target: 'failed',
          actions: assign(({ event }) => ({ pid: null, pids: [], reason: describeServerExit(event.reason, event.stderr) })),
        },
        STOP: 'stopping',
      },
    },
    // Operators read `running` (the child uses topStateName); waiting/probing is the probe's rhythm.
    running: {
      tags: ['ready'],
      entry: 'resetMisses',
      on: {
        'SERVER.EXITED': {
          target: 'failed',
          actions: assign(({ event }) => ({ pid: null, pids: [], reason: describeServerExit(event.reason, event.stderr) })),
        },
        STOP: 'stopping',
      },
      ...probeLoop('#nats.failed', ({ context }: { context: NatsServerContext }) => ({ port: context.port })),
    },
    stopping: {
      entry: sendTo('server', { type: 'STOP' }),
      on: {
        'SERVER.EXITED': {
          target: 'stopped',
          actions: assign({ pid: null, pids: [] }),
        },
      },
      after: {
        // Reaching `stopped` stops the child, whose cleanup SIGKILLs the process.
        stopGrace: 'stopped',
      },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
    failed: {
      type: 'final',
      output: ({ context }) => ({ normal: false, reason: context.reason ?? 'nats-server failed' }),
    },
  },
})

