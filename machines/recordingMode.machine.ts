import { assign, enqueueActions, fromCallback, fromPromise, setup, type SnapshotFrom } from 'xstate'
import type { TriggerKind } from './recorder.types.js'

/**
 * Recording modes (DESIGN.md §9.2): when a session opens, grows, rolls over and closes,
 * decided here and carried out through the recorder's own commands (`openRecording`,
 * `closeRecording`), so the recorder machine stays one session at a time and a mode
 * never bypasses its ordering, disk checks or finalize. The I/O is named and provided
 * by actors/recorder/mode.ts; tests drive this file with fakes and a SimulatedClock.
 *
 * - manual: nothing happens on its own (the recorder answers recorder.start/stop).
 * - buffer (manual and events, DESIGN.md §9.5): a 1 s segment buffer of the live stream, so a
 *   session opens with footage already on disk: `warmStartMs` of it for a start by hand (its
 *   first bytes do not wait for a recorder ffmpeg to start and reach a keyframe), `preRollMs`
 *   for an event. Continuous mode runs none (its sessions follow each other).
 * - continuous: always recording; a new session every `continuousSessionMs`; a start that
 *   fails (disk full, source down) is tried again after `retryMs`, for ever.
 * - events: a motion or sound event opens a session (its pre-roll comes from the buffer
 *   this state keeps running); every event pushes the end to `postRollMs` after it. A
 *   session started by hand is left alone (it only collects the events).
 * - room (`freeSpaceRetention`, on in every mode unless keepFreeBytes is 0): while free space is below it, the oldest
 *   finished sessions are deleted; the recording is never stopped for it.
 */

export type RecordingMode = 'manual' | 'continuous' | 'events'
export type EventKind = 'motion' | 'sound'

export interface ModeSettings {
  mode: RecordingMode
  /** events: footage kept from before the trigger. */
  preRollMs: number
  /** manual and events: a start by hand opens with this much of the newest buffered footage. */
  warmStartMs: number
  /** events: the session ends this long after its last event. */
  postRollMs: number
  /** continuous: one session per this long. */
  continuousSessionMs: number
  /** continuous: pause before trying again after a start failed or the session ended otherwise. */
  retryMs: number
  /** Free-space retention (every mode; off only with recorder.retention.keepFreeBytes 0). */
  freeSpaceRetention: boolean
  /** Delete finished sessions while free space is below this; null: keepFreeBytesFor's default. */
  keepFreeBytes: number | null
  minFreeBytes: number
  diskProbeMs: number
  /** Pause before restarting a buffer ffmpeg that ended; doubled while it keeps ending early, up to 30 s. */
  bufferRestartMs: number
}

export interface ModeTrigger {
  kind: TriggerKind
  /** Wall ISO time; absent: the opener stamps it (continuous). */
  at?: string
  /** Monotonic ms; the pre-roll reaches back from here. */
  mono?: number
}

export type ModeEvent =
  | { type: 'TRIGGER'; kind: EventKind; at: string; mono: number }
  /** The recorder opened / ended a session (its `recording.started` / `recording.stopped`). */
  | { type: 'RECORDER.STARTED'; id: string; kind: TriggerKind }
  | { type: 'RECORDER.STOPPED'; id: string }
  /** The buffer ffmpeg ended after running `ranMs`. */
  | { type: 'BUFFER.EXITED'; reason: string; ranMs: number }

export interface ModeNote {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  details?: Record<string, unknown>
}

export interface ModeContext {
  settings: ModeSettings
  /** The recorder's session now, whoever opened it. */
  recorderSession: { id: string; kind: TriggerKind } | null
  /** The session this machine opened (continuous, events). */
  sessionId: string | null
  /** events: the trigger being opened, and events seen while it opened. */
  trigger: ModeTrigger | null
  pendingEvents: Array<{ kind: EventKind; at: string }>
  /** events: a trigger that came while the previous session was closing. */
  nextTrigger: ModeTrigger | null
  /** The free-space target from the last probe (keepFreeBytesFor). */
  keepFreeBytes: number
  /** Buffer ffmpeg runs in a row that ended early (the camera is down): the restart backs off. */
  bufferFailures: number
}

/** A buffer run this long was working: its end starts the backoff afresh. */
export const BUFFER_HEALTHY_MS = 10000
const BUFFER_RESTART_MAX_MS = 30000

/** How much footage the buffer keeps (0: no buffer): continuous mode needs none. */
export function bufferWindowMs(settings: Pick<ModeSettings, 'mode' | 'preRollMs' | 'warmStartMs'>): number {
  if (settings.mode === 'continuous') return 0
  return Math.max(settings.mode === 'events' ? settings.preRollMs : 0, settings.warmStartMs)
}

const MiB = 1024 * 1024

/**
 * The free-space retention target (DESIGN.md §9.3): the configured one, else minFreeBytes
 * plus the larger of 256 MiB and 5 % of the data disk, so room is made well before a
 * start would be refused (minFreeBytes) or a recording stopped (stopBelowBytes).
 */
export function keepFreeBytesFor(settings: Pick<ModeSettings, 'keepFreeBytes' | 'minFreeBytes'>, totalBytes: number): number {
  return settings.keepFreeBytes ?? settings.minFreeBytes + Math.max(256 * MiB, Math.round(totalBytes * 0.05))
}

const ourSessionGone = ({ context }: { context: ModeContext }) => context.recorderSession === null || context.recorderSession.id !== context.sessionId

export const modeSetup = setup({
  types: {
    context: {} as ModeContext,
    events: {} as ModeEvent,
    input: {} as { settings: ModeSettings },
  },
  actors: {
    openRecording: fromPromise<{ id: string }, { trigger: ModeTrigger }>(async () => {
      throw new Error('openRecording not provided')
    }),
    closeRecording: fromPromise<void, { id: string }>(async () => undefined),
    probeDisk: fromPromise<{ freeBytes: number; totalBytes: number }, void>(async () => {
      throw new Error('probeDisk not provided')
    }),
    makeRoom: fromPromise<{ deleted: string[]; freeBytes: number }, { keepFreeBytes: number }>(async () => ({ deleted: [], freeBytes: 0 })),
    preRollBuffer: fromCallback<ModeEvent, { preRollMs: number }>(() => undefined),
  },
  actions: {
    /** An event joins the open session's `events` list. */
    recordEvent: (_, _params: { kind: EventKind; at: string }) => undefined,
    note: (_, _params: ModeNote) => undefined,
  },
  guards: {
    ourSessionGone,
    someoneRecording: ({ context }) => context.recorderSession !== null,
  },
  delays: {
    postRoll: ({ context }) => context.settings.postRollMs,
    continuousSession: ({ context }) => context.settings.continuousSessionMs,
    retry: ({ context }) => context.settings.retryMs,
    diskProbe: ({ context }) => context.settings.diskProbeMs,
    bufferRestart: ({ context }) => Math.min(context.settings.bufferRestartMs * 2 ** Math.max(0, context.bufferFailures - 1), BUFFER_RESTART_MAX_MS),
  },
})

export const recordingModeMachine = modeSetup.createMachine({
  id: 'recordingMode',
  type: 'parallel',
  context: ({ input }) => ({ settings: input.settings, recorderSession: null, sessionId: null, trigger: null, pendingEvents: [], nextTrigger: null, keepFreeBytes: 0, bufferFailures: 0 }),
  on: {
    'RECORDER.STARTED': { actions: assign({ recorderSession: ({ event }) => ({ id: event.id, kind: event.kind }) }) },
    'RECORDER.STOPPED': {
      actions: assign({ recorderSession: ({ context, event }) => (context.recorderSession?.id === event.id ? null : context.recorderSession) }),
    },
  },
  states: {
    mode: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [
            { guard: ({ context }) => context.settings.mode === 'continuous', target: 'continuous' },
            { guard: ({ context }) => context.settings.mode === 'events', target: 'events' },
            { target: 'manual' },
          ],
        },
        manual: {},

        continuous: {
          initial: 'opening',
          states: {
            opening: {
              invoke: {
                src: 'openRecording',
                input: () => ({ trigger: { kind: 'continuous' as const } }),
                onDone: { target: 'recording', actions: assign({ sessionId: ({ event }) => event.output.id }) },
                onError: { target: 'waiting', actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `continuous recording could not start; trying again: ${String(event.error)}` }) } },
              },
            },
            waiting: {
              // Someone started a session by hand meanwhile: it is the continuous recording now.
              always: { guard: 'someoneRecording', target: 'recording', actions: assign({ sessionId: ({ context }) => context.recorderSession!.id }) },
              after: { retry: 'opening' },
            },
            recording: {
              // Ended by something else (an operator's stop, disk full, a stall): start again.
              always: { guard: 'ourSessionGone', target: 'waiting' },
              after: { continuousSession: 'rolling' },
            },
            /** Rollover: the session ends and the next one opens at once. */
            rolling: {
              invoke: {
                src: 'closeRecording',
                input: ({ context }) => ({ id: context.sessionId ?? '' }),
                onDone: 'opening',
                onError: { target: 'opening', actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `continuous rollover: the stop failed: ${String(event.error)}` }) } },
              },
            },
          },
        },

        events: {
          initial: 'session',
          states: {
            session: {
              initial: 'idle',
              states: {
                idle: {
                  always: [
                    { guard: 'someoneRecording', target: 'byHand' },
                    { guard: ({ context }) => context.nextTrigger !== null, target: 'opening', actions: assign({ trigger: ({ context }) => context.nextTrigger, nextTrigger: null }) },
                  ],
                  on: { TRIGGER: { target: 'opening', actions: assign({ trigger: ({ event }) => ({ kind: event.kind, at: event.at, mono: event.mono }) }) } },
                },
                opening: {
                  entry: assign({ pendingEvents: [] }),
                  invoke: {
                    src: 'openRecording',
                    input: ({ context }) => ({ trigger: context.trigger! }),
                    onDone: {
                      target: 'open',
                      actions: [
                        assign({ sessionId: ({ event }) => event.output.id }),
                        assign({ recorderSession: ({ context, event }) => ({ id: event.output.id, kind: context.trigger!.kind }) }),
                        enqueueActions(({ context, enqueue }) => {
                          const t = context.trigger!
                          enqueue({ type: 'recordEvent', params: { kind: t.kind as EventKind, at: t.at ?? '' } })
                          for (const e of context.pendingEvents) enqueue({ type: 'recordEvent', params: e })
                          enqueue.assign({ pendingEvents: [] })
                        }),
                      ],
                    },
                    onError: { target: 'idle', actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `an event could not open a session: ${String(event.error)}` }) } },
                  },
                  on: { TRIGGER: { actions: assign({ pendingEvents: ({ context, event }) => [...context.pendingEvents, { kind: event.kind, at: event.at }] }) } },
                },
                open: {
                  always: { guard: 'ourSessionGone', target: 'idle' },
                  after: { postRoll: 'closing' },
                  // Each event moves the end to postRollMs after it (re-entering restarts the delay).
                  on: { TRIGGER: { target: 'open', reenter: true, actions: { type: 'recordEvent', params: ({ event }) => ({ kind: event.kind, at: event.at }) } } },
                },
                closing: {
                  invoke: {
                    src: 'closeRecording',
                    input: ({ context }) => ({ id: context.sessionId ?? '' }),
                    onDone: { target: 'idle', actions: assign({ sessionId: null }) },
                    onError: { target: 'idle', actions: [assign({ sessionId: null }), { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `closing an event session failed: ${String(event.error)}` }) }] },
                  },
                  // Too late for this session: it opens the next one, with its own pre-roll.
                  on: { TRIGGER: { actions: assign({ nextTrigger: ({ context, event }) => context.nextTrigger ?? { kind: event.kind, at: event.at, mono: event.mono } }) } },
                },
                /** A session started by hand: it runs until stopped by hand, and lists the events. */
                byHand: {
                  always: { guard: ({ context }) => context.recorderSession === null, target: 'idle' },
                  on: { TRIGGER: { actions: { type: 'recordEvent', params: ({ event }) => ({ kind: event.kind, at: event.at }) } } },
                },
              },
            },
          },
        },
      },
    },

    buffer: {
      initial: 'choosing',
      states: {
        choosing: { always: [{ guard: ({ context }) => bufferWindowMs(context.settings) > 0, target: 'running' }, { target: 'off' }] },
        off: {},
        running: {
          invoke: { src: 'preRollBuffer', input: ({ context }) => ({ preRollMs: bufferWindowMs(context.settings) }) },
          on: {
            'BUFFER.EXITED': {
              target: 'restarting',
              actions: [
                assign({ bufferFailures: ({ context, event }) => (event.ranMs >= BUFFER_HEALTHY_MS ? 1 : context.bufferFailures + 1) }),
                // Said once per outage: a camera down for hours ends every run early, each retried.
                {
                  type: 'note',
                  params: ({ context, event }) => ({
                    level: context.bufferFailures <= 1 ? ('warn' as const) : ('debug' as const),
                    message: 'pre-roll buffer ffmpeg ended; restarting it',
                    details: { reason: event.reason, ranMs: event.ranMs, failures: context.bufferFailures },
                  }),
                },
              ],
            },
          },
        },
        restarting: { after: { bufferRestart: 'running' } },
      },
    },

    room: {
      initial: 'choosing',
      states: {
        choosing: { always: [{ guard: ({ context }) => context.settings.freeSpaceRetention, target: 'waiting' }, { target: 'off' }] },
        off: {},
        waiting: { after: { diskProbe: 'probing' } },
        probing: {
          invoke: {
            src: 'probeDisk',
            onDone: [
              {
                guard: ({ context, event }) => event.output.freeBytes < keepFreeBytesFor(context.settings, event.output.totalBytes),
                target: 'making',
                actions: assign({ keepFreeBytes: ({ context, event }) => keepFreeBytesFor(context.settings, event.output.totalBytes) }),
              },
              { target: 'waiting' },
            ],
            onError: { target: 'waiting', actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `disk probe failed: ${String(event.error)}` }) } },
          },
        },
        /** Free space below keepFreeBytes: delete the oldest finished sessions, never stop recording. */
        making: {
          invoke: {
            src: 'makeRoom',
            input: ({ context }) => ({ keepFreeBytes: context.keepFreeBytes }),
            onDone: {
              target: 'waiting',
              actions: enqueueActions(({ context, event, enqueue }) => {
                if (event.output.deleted.length === 0 && event.output.freeBytes < context.keepFreeBytes) {
                  enqueue({ type: 'note', params: { level: 'warn', message: 'free space below recorder.retention.keepFreeBytes and no finished session left to delete', details: { freeBytes: event.output.freeBytes } } })
                }
              }),
            },
            onError: { target: 'waiting', actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: `free-space retention failed: ${String(event.error)}` }) } },
          },
        },
      },
    },
  },
})

export type RecordingModeSnapshot = SnapshotFrom<typeof recordingModeMachine>
