import { assign, fromCallback, fromPromise, setup } from 'xstate'

/**
 * logs: owns the rotated log files for the supervisor (the files themselves are made
 * once per process: the logger writes to them from before the tree starts).
 *
 * open (ready): healthy ⇄ failing (a file cannot be written: alert logs.write_failed,
 *   then logs.write_recovered once every file writes again)
 * STOP → flushing (every accepted line reaches the disk, bounded by flushTimeoutMs)
 *   → stopped (final, normal). The files stay open: lines logged later in the
 *   shutdown still have somewhere to go.
 */

export type LogsHealthEvent =
  | { type: 'LOGS.FAILING'; file: string; code: string; message: string }
  | { type: 'LOGS.RECOVERED'; file: string }

export type LogsEvent = LogsHealthEvent | { type: 'STOP' }

export interface LogsInput {
  flushTimeoutMs?: number
}

export interface LogsContext {
  failing: Array<{ file: string; code: string; message: string }>
  flushTimeoutMs: number
}

export interface LogsAlert {
  code: 'logs.write_failed' | 'logs.write_recovered'
  severity: 'info' | 'warning'
  message: string
  details: Record<string, unknown>
}

export interface LogsOutput {
  normal: boolean
  reason: string
}

export const LOGS_DEFAULTS = { flushTimeoutMs: 3000 } as const

function notProvided(name: string): never {
  throw new Error(`logs machine: actor '${name}' was not provided (use createLogsActor)`)
}

export const logsMachine = setup({
  types: {
    context: {} as LogsContext,
    events: {} as LogsEvent,
    input: {} as LogsInput,
    output: {} as LogsOutput,
  },
  actors: {
    watchLogs: fromCallback<{ type: 'NONE' }>(() => notProvided('watchLogs')),
    flushLogs: fromPromise<void>(async () => notProvided('flushLogs')),
  },
  actions: {
    addFailing: assign({
      failing: ({ context, event }) =>
        event.type === 'LOGS.FAILING'
          ? [...context.failing.filter((f) => f.file !== event.file), { file: event.file, code: event.code, message: event.message }]
          : context.failing,
    }),
    removeFailing: assign({
      failing: ({ context, event }) => (event.type === 'LOGS.RECOVERED' ? context.failing.filter((f) => f.file !== event.file) : context.failing),
    }),
    raiseAlert: (_, _params: LogsAlert) => {},
  },
  guards: {
    allWriting: ({ context }) => context.failing.length === 0,
  },
  delays: {
    flushTimeout: ({ context }) => context.flushTimeoutMs,
  },
}).createMachine({
  id: 'logs',
  context: ({ input }) => ({ failing: [], flushTimeoutMs: input?.flushTimeoutMs ?? LOGS_DEFAULTS.flushTimeoutMs }),
  initial: 'open',
  output: ({ event }) => (event as unknown as { output: LogsOutput }).output,
  states: {
    open: {
      tags: ['ready'],
      invoke: { src: 'watchLogs' },
      on: { STOP: 'flushing' },
      initial: 'healthy',
      states: {
        healthy: {
          on: {
            'LOGS.FAILING': {
              target: 'failing',
              actions: [
                'addFailing',
                {
                  type: 'raiseAlert',
                  params: ({ event }) => ({
                    code: 'logs.write_failed',
                    severity: 'warning',
                    message: `cannot write ${event.file} (${event.code}): log lines are being dropped`,
                    details: { file: event.file, code: event.code, error: event.message },
                  }),
                },
              ],
            },
          },
        },
        failing: {
          always: {
            guard: 'allWriting',
            target: 'healthy',
            actions: {
              type: 'raiseAlert',
              params: () => ({ code: 'logs.write_recovered', severity: 'info', message: 'log files are written again', details: {} }),
            },
          },
          on: {
            'LOGS.FAILING': { actions: 'addFailing' },
            'LOGS.RECOVERED': { actions: 'removeFailing' },
          },
        },
      },
    },
    flushing: {
      invoke: { src: 'flushLogs', onDone: 'stopped', onError: 'stopped' },
      // A disk that hangs must not hold the shutdown: the supervisor's own timeout is later.
      after: { flushTimeout: 'stopped' },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})
