import { assign, fromCallback, sendTo, setup, spawnChild } from 'xstate'

/**
 * The embedded nats-server as a supervised child (DESIGN.md §3, first child).
 *
 * The process is owned by the callback actor `runServer` (provided by
 * actors/nats), spawned on entry to `starting` and alive until the machine is
 * done: it must survive starting → running → stopping, so it is a child of the
 * machine rather than of one state, and the top-level states stay the flat names
 * an operator reads on `vigil.<node>.state.nats`. Reaching a final state (or the
 * supervisor stopping the actor) stops the child, whose cleanup kills what is left.
 */

/** What `runServer` reports. */
export type RunServerEvent =
  | { type: 'SERVER.SPAWNED'; pid: number }
  | { type: 'SERVER.READY'; pid: number; port?: number }
  | { type: 'SERVER.EXITED'; reason: string; stderr: string; normal?: boolean }

export type NatsServerEvent = { type: 'STOP' } | RunServerEvent

/** What `runServer` receives: STOP asks for a graceful exit (SIGTERM). */
export type RunServerCommand = { type: 'STOP' }

export interface RunServerInput {
  stopGraceMs: number
}

export interface NatsServerInput {
  /** How long `stopping` waits for the process to exit before giving up on it (it is then killed). */
  stopGraceMs?: number
}

export interface NatsServerContext {
  /** OS processes owned right now (the supervisor reports them). */
  pids: number[]
  pid: number | null
  /** The port the server actually listens on (known once ready). */
  port: number | null
  reason: string | null
  stopGraceMs: number
}

export interface NatsServerOutput {
  normal: boolean
  reason: string
}

export const DEFAULT_STOP_GRACE_MS = 5000

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
  },
  actors: {
    // Provided by actors/nats (createNatsServerActor); tests provide a fake.
    runServer: fromCallback<RunServerCommand, RunServerInput>(() => {}),
  },
  delays: {
    stopGrace: ({ context }) => context.stopGraceMs,
  },
}).createMachine({
  id: 'nats',
  context: ({ input }) => ({
    pids: [],
    pid: null,
    port: null,
    reason: null,
    stopGraceMs: input?.stopGraceMs ?? DEFAULT_STOP_GRACE_MS,
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
    running: {
      tags: ['ready'],
      on: {
        'SERVER.EXITED': {
          target: 'failed',
          actions: assign(({ event }) => ({ pid: null, pids: [], reason: describeServerExit(event.reason, event.stderr) })),
        },
        STOP: 'stopping',
      },
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
