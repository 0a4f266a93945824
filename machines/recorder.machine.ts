import { assign, enqueueActions, fromCallback, fromPromise, raise, setup, type SnapshotFrom } from 'xstate'
import type { ErrorCode } from '../infra/errors.js'
import type { Severity } from '../infra/subjects.js'

/**
 * The recorder (DESIGN.md §6): one session at a time, copied by ffmpeg into
 * fragmented MP4 segments. Every decision lives here; the I/O is named and
 * provided by actors/recorder (`probeDisk`, `openSession`, `ffmpegCapture`,
 * `finalizeSession`, `prepareStore`), commands are answered through the named
 * action `reply`, so tests drive this file with fakes and a SimulatedClock.
 *
 * Ordering: START and STOP_RECORDING that arrive while a start or a stop is in
 * flight are queued (in context) and replayed, in arrival order, as soon as the
 * machine reaches a settled state (idle, recording, disk_full). So a client that
 * fires start/stop/start/stop… gets each answered in order, against the state
 * its predecessor left, and nothing is dropped or answered twice.
 */

// ---------------------------------------------------------------- types

export interface RecorderSettings {
  node: string
  segmentS: number
  minFreeBytes: number
  stopBelowBytes: number
  stallWarnMs: number
  stallStopMs: number
  /** Disk probe period while recording or waiting for space (DESIGN: every second). */
  diskProbeMs: number
  /** Pause before respawning ffmpeg after it exited on its own (source gone). */
  reconnectMs: number
  /** After SOURCE.LOST without a RESUMED, try again anyway after this long. */
  sourceWaitMs: number
  /**
   * A requested stop keeps ffmpeg running this long: the live stream reaches the recorder
   * about a second late, so stopping at once would cut the last second the operator
   * asked for. 0 (the default here) stops at once.
   */
  postRollMs?: number
}

export const recorderTimingDefaults = { diskProbeMs: 1000, reconnectMs: 1000, sourceWaitMs: 5000 } as const

export type SessionEndState = 'finalized' | 'disk_full' | 'stalled'

/** What a session looks like in replies and in `recorder.status` (DESIGN.md §4, plus end fields). */
export interface SessionSummary {
  id: string
  name: string
  dir: string
  startedAt: string
  bytes: number
  segments: number
  state: 'recording' | SessionEndState
  stoppedAt: string | null
  durationMs: number | null
  stopReason: string | null
  /** True when the session had no media and its dir was removed. */
  deleted: boolean
}

export interface OpenedSession {
  id: string
  name: string
  dir: string
  startedAt: string
  startedMono: number
}

export interface RecordedGap {
  at: string
  reason: string
  ms: number
}

export interface OpenGap {
  at: string
  mono: number
  reason: string
}

export interface ActiveSession extends OpenedSession {
  idempotencyKey: string | null
  bytes: number
  segments: number
  /** Segment files already announced as `segment.closed`. */
  closedFiles: string[]
  gaps: RecordedGap[]
}

export type ReplyError = { code: ErrorCode; message: string; details?: Record<string, unknown> }
export type RecorderReply =
  | { requestId: string; ok: true; result: SessionSummary }
  | { requestId: string; ok: false; error: ReplyError }

export interface RecorderAlert {
  severity: Severity
  code: string
  message: string
  details?: Record<string, unknown>
}

export type RecorderEventKind = 'recording.started' | 'recording.stopped' | 'segment.closed'
export interface RecorderPublication {
  kind: RecorderEventKind
  payload: Record<string, unknown>
}

export interface RecorderNote {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  details?: Record<string, unknown>
}

export type StartCommand = { type: 'START'; requestId?: string; name?: string; idempotencyKey?: string }
/** `mono`: when the stop was asked (monotonic ms); a requested session ends there. */
export type StopCommand = { type: 'STOP_RECORDING'; requestId?: string; mono?: number }
type Command = StartCommand | StopCommand

export type RecorderEvent =
  | Command
  /** The supervisor's orderly stop: finalize, then end in `stopped`. */
  | { type: 'STOP' }
  | { type: 'DISK.SAMPLE'; freeBytes: number }
  | { type: 'DISK.ENOSPC' }
  | { type: 'BYTES'; total: number; segments: number; mono: number }
  | { type: 'SEGMENT.CLOSED'; file: string; bytes: number }
  | { type: 'FFMPEG.STARTED'; pid: number }
  | { type: 'FFMPEG.EXITED'; reason: string; at: string; mono: number }
  /** The media server or camera went away: keep the session, stop ffmpeg, open a gap. */
  | { type: 'SOURCE.LOST'; reason: string; at: string; mono: number }
  | { type: 'SOURCE.RESUMED' }

type StopCause = 'requested' | 'shutdown' | 'disk_full' | 'enospc' | 'stall'

const endOf: Record<StopCause, { state: SessionEndState; reason: string }> = {
  requested: { state: 'finalized', reason: 'stopped by request' },
  shutdown: { state: 'finalized', reason: 'recorder shut down' },
  disk_full: { state: 'disk_full', reason: 'free space below stopBelowBytes' },
  enospc: { state: 'disk_full', reason: 'no space left on device' },
  stall: { state: 'stalled', reason: 'no new bytes for stallStopMs' },
}

export interface FinalizeInput {
  session: ActiveSession
  endState: SessionEndState
  stopReason: string
  openGap: OpenGap | null
  /** A requested stop's moment: the session's duration ends there, not when ffmpeg exited. */
  stopMono: number | null
}
export interface FinalizeOutput {
  summary: SessionSummary
  /** Every segment kept, for the `segment.closed` events not yet published. */
  files: Array<{ file: string; bytes: number }>
}
export interface CaptureInput {
  dir: string
  sessionId: string
}

export interface RecorderContext {
  settings: RecorderSettings
  session: ActiveSession | null
  pendingStart: StartCommand | null
  stopRequestId: string | null
  /** When the pending requested stop was asked (monotonic ms), if it said. */
  stopMono: number | null
  stopCause: StopCause | null
  queue: Command[]
  shutdown: boolean
  pids: number[]
  freeBytes: number | null
  openGap: OpenGap | null
  /**
   * Monotonic ms of the last BYTES that grew the session (null: none yet). A gap starts
   * there, not when the loss was noticed: a stopped camera or a frozen ffmpeg is seen
   * seconds late (frame watchdog, stall watchdog), and that time had no media. (A frozen
   * source is the exception: ffmpeg flushes its last fragment when its read timeout
   * fires, and that growth, seconds after the freeze, is where such a gap starts.)
   */
  lastGrowthMono: number | null
  /** Idempotency memory: a retried start (same key) gets the same session, also after it ended. */
  recentKeys: Array<{ key: string; summary: SessionSummary }>
}

const MAX_QUEUED = 256
const MAX_KEYS = 32

export function summarize(s: ActiveSession): SessionSummary {
  return {
    id: s.id,
    name: s.name,
    dir: s.dir,
    startedAt: s.startedAt,
    bytes: s.bytes,
    segments: s.segments,
    state: 'recording',
    stoppedAt: null,
    durationMs: null,
    stopReason: null,
    deleted: false,
  }
}

/** Replies go to a requestId; a command sent without one (fire and forget) gets none. */
const err = (requestId: string | undefined, code: ErrorCode, message: string, details?: Record<string, unknown>): RecorderReply | null =>
  requestId === undefined ? null : { requestId, ok: false, error: details ? { code, message, details } : { code, message } }
const ok = (requestId: string | undefined, result: SessionSummary): RecorderReply | null =>
  requestId === undefined ? null : { requestId, ok: true, result }

function rememberKey(keys: RecorderContext['recentKeys'], key: string | null, summary: SessionSummary) {
  if (key === null) return keys
  return [...keys.filter((k) => k.key !== key && k.summary.id !== summary.id), { key, summary }].slice(-MAX_KEYS)
}

function updateKeys(keys: RecorderContext['recentKeys'], summary: SessionSummary) {
  return keys.map((k) => (k.summary.id === summary.id ? { key: k.key, summary } : k))
}

// ---------------------------------------------------------------- setup

const recorderSetup = setup({
  types: {
    context: {} as RecorderContext,
    events: {} as RecorderEvent,
    input: {} as { settings: RecorderSettings },
    output: {} as { normal: boolean; reason: string },
  },
  actors: {
    prepareStore: fromPromise<void, void>(async () => undefined),
    probeDisk: fromPromise<{ freeBytes: number }, void>(async () => {
      throw new Error('probeDisk not provided')
    }),
    openSession: fromPromise<OpenedSession, { name: string | undefined }>(async () => {
      throw new Error('openSession not provided')
    }),
    ffmpegCapture: fromCallback<RecorderEvent, CaptureInput>(() => undefined),
    finalizeSession: fromPromise<FinalizeOutput, FinalizeInput>(async () => {
      throw new Error('finalizeSession not provided')
    }),
  },
  actions: {
    reply: (_, _params: RecorderReply | null) => undefined,
    raiseAlert: (_, _params: RecorderAlert) => undefined,
    publishEvent: (_, _params: RecorderPublication) => undefined,
    note: (_, _params: RecorderNote) => undefined,
  },
  guards: {
    shuttingDown: ({ context }) => context.shutdown,
  },
  delays: {
    diskProbe: ({ context }) => context.settings.diskProbeMs,
    reconnect: ({ context }) => context.settings.reconnectMs,
    sourceWait: ({ context }) => context.settings.sourceWaitMs,
    postRoll: ({ context }) => context.settings.postRollMs ?? 0,
    stallWarn: ({ context }) => context.settings.stallWarnMs,
    /** Counted from the warning, so the auto-stop comes stallStopMs after the last byte. */
    stallStop: ({ context }) => Math.max(0, context.settings.stallStopMs - context.settings.stallWarnMs),
  },
})

// ---------------------------------------------------------------- actions

/** A command that cannot be handled now (a start or stop in flight) waits its turn. */
const enqueueCommand = recorderSetup.enqueueActions(({ context, event, enqueue }) => {
  if (event.type !== 'START' && event.type !== 'STOP_RECORDING') return
  if (context.shutdown) {
    enqueue({ type: 'reply', params: err(event.requestId, 'SHUTTING_DOWN', 'the recorder is shutting down') })
  } else if (context.queue.length >= MAX_QUEUED) {
    enqueue({ type: 'reply', params: err(event.requestId, 'UNAVAILABLE', 'too many recorder commands in flight') })
  } else {
    enqueue.assign({ queue: [...context.queue, event] })
  }
})

/** Replays queued commands in order; the first that starts or stops something re-queues the rest. */
const flushQueue = recorderSetup.enqueueActions(({ context, enqueue }) => {
  if (context.shutdown || context.queue.length === 0) return
  for (const command of context.queue) enqueue.raise(command)
  enqueue.assign({ queue: [] })
})

const rejectQueued = recorderSetup.enqueueActions(({ context, enqueue }) => {
  for (const command of context.queue) {
    enqueue({ type: 'reply', params: err(command.requestId, 'SHUTTING_DOWN', 'the recorder stopped') })
  }
  enqueue.assign({ queue: [] })
})

const markShutdown = recorderSetup.assign({ shutdown: true })

/** Cleared on arrival, not on leaving `starting`: exit actions run before the transition's reply. */
const clearPendingStart = recorderSetup.assign({ pendingStart: null })

const beginStop = (cause: StopCause) =>
  recorderSetup.assign({
    stopCause: ({ context }) => context.stopCause ?? cause,
    stopRequestId: ({ context, event }) =>
      event.type === 'STOP_RECORDING' && event.requestId !== undefined ? event.requestId : context.stopRequestId,
    stopMono: ({ context, event }) => (event.type === 'STOP_RECORDING' && event.mono !== undefined ? event.mono : context.stopMono),
    shutdown: ({ context }) => context.shutdown || cause === 'shutdown',
    pids: [],
  })

/** `recorder.stall`: the warning at stallWarnMs, the critical one when stallStopMs stopped the recording. */
const stallAlert = (severity: 'warning' | 'critical') =>
  recorderSetup.enqueueActions(({ context, enqueue }) => {
    const message =
      severity === 'warning'
        ? `recording stalled: no new bytes for ${Math.round(context.settings.stallWarnMs / 1000)} s`
        : `recording stopped: no new bytes for ${Math.round(context.settings.stallStopMs / 1000)} s`
    enqueue({ type: 'raiseAlert', params: { severity, code: 'recorder.stall', message, details: { session: context.session?.id, bytes: context.session?.bytes } } })
  })

const diskFullAlert = (message: string) =>
  recorderSetup.enqueueActions(({ context, enqueue }) => {
    enqueue({
      type: 'raiseAlert',
      params: {
        severity: 'critical',
        code: 'recorder.disk_full',
        message,
        details: {
          session: context.session?.id ?? null,
          freeBytes: context.freeBytes,
          stopBelowBytes: context.settings.stopBelowBytes,
        },
      },
    })
  })

/** Bytes grew: record them, and close a gap if the stream just came back. */
const recordBytes = recorderSetup.assign(({ context, event }) => {
  if (event.type !== 'BYTES' || context.session === null) return {}
  const gap = context.openGap
  const gaps = gap
    ? [...context.session.gaps, { at: gap.at, reason: gap.reason, ms: Math.max(0, Math.round(event.mono - gap.mono)) }]
    : context.session.gaps
  return {
    session: { ...context.session, bytes: event.total, segments: event.segments, gaps },
    openGap: null,
    lastGrowthMono: event.mono,
  }
})

/** Where a gap noticed at `mono` began: the last growth (or the session start), never later than `mono`. */
const gapStartMono = (context: RecorderContext, mono: number) => Math.min(mono, context.lastGrowthMono ?? context.session?.startedMono ?? mono)

const openGap = recorderSetup.assign({
  pids: [],
  openGap: ({ context, event }) => {
    if (context.openGap) return context.openGap
    if (event.type === 'FFMPEG.EXITED' || event.type === 'SOURCE.LOST') {
      const mono = gapStartMono(context, event.mono)
      const at = new Date(Date.parse(event.at) - (event.mono - mono)).toISOString()
      return { at, mono, reason: event.type === 'SOURCE.LOST' ? `source lost: ${event.reason}` : `ffmpeg ${event.reason}` }
    }
    return null
  },
})

/**
 * A stall that ends the session is a gap too (from the last growth to the end), so
 * session.json does not count the frozen seconds as recorded. The wall time is the
 * session's start plus the monotonic offset: a delayed transition carries no clock.
 */
const openStallGap = recorderSetup.assign({
  openGap: ({ context }) => {
    if (context.openGap || context.session === null) return context.openGap
    const mono = context.lastGrowthMono ?? context.session.startedMono
    const at = new Date(Date.parse(context.session.startedAt) + (mono - context.session.startedMono)).toISOString()
    return { at, mono, reason: 'stalled: no new bytes' }
  },
})

const bytesGrew = ({ context, event }: { context: RecorderContext; event: RecorderEvent }) =>
  event.type === 'BYTES' && context.session !== null && event.total > context.session.bytes

// ---------------------------------------------------------------- machine

export const recorderMachine = recorderSetup.createMachine({
  id: 'recorder',
  context: ({ input }) => ({
    settings: input.settings,
    session: null,
    pendingStart: null,
    stopRequestId: null,
    stopMono: null,
    stopCause: null,
    queue: [],
    shutdown: false,
    pids: [],
    freeBytes: null,
    openGap: null,
    lastGrowthMono: null,
    recentKeys: [],
  }),
  initial: 'preparing',
  output: () => ({ normal: true, reason: 'stopped' }),
  states: {
    /** Reconcile crashed sessions and apply retention before serving: the supervisor waits for `ready`. */
    preparing: {
      invoke: {
        src: 'prepareStore',
        onDone: 'idle',
        onError: {
          target: 'idle',
          actions: { type: 'note', params: ({ event }) => ({ level: 'error', message: 'recordings store preparation failed', details: { error: String(event.error) } }) },
        },
      },
      on: { START: { actions: enqueueCommand }, STOP_RECORDING: { actions: enqueueCommand }, STOP: { actions: markShutdown } },
    },

    idle: {
      tags: ['ready'],
      entry: [clearPendingStart, flushQueue],
      always: { guard: 'shuttingDown', target: 'stopped' },
      on: {
        START: [
          {
            // A retried start whose session already ended: same session, not a second one.
            guard: ({ context, event }) => event.idempotencyKey !== undefined && context.recentKeys.some((k) => k.key === event.idempotencyKey),
            actions: {
              type: 'reply',
              params: ({ context, event }) => ok(event.requestId, context.recentKeys.find((k) => k.key === event.idempotencyKey)!.summary),
            },
          },
          { target: 'starting', actions: assign({ pendingStart: ({ event }) => event }) },
        ],
        STOP_RECORDING: { actions: { type: 'reply', params: ({ event }) => err(event.requestId, 'NOT_RECORDING', 'no recording in progress') } },
        STOP: { target: 'stopped' },
        'DISK.SAMPLE': { actions: assign({ freeBytes: ({ event }) => event.freeBytes }) },
      },
    },

    starting: {
      initial: 'checkingDisk',
      on: { START: { actions: enqueueCommand }, STOP_RECORDING: { actions: enqueueCommand }, STOP: { actions: markShutdown } },
      states: {
        checkingDisk: {
          invoke: {
            src: 'probeDisk',
            onDone: [
              {
                guard: 'shuttingDown',
                target: '#recorder.idle',
                actions: { type: 'reply', params: ({ context }) => err(context.pendingStart?.requestId, 'SHUTTING_DOWN', 'the recorder is shutting down') },
              },
              {
                guard: ({ context, event }) => event.output.freeBytes < context.settings.minFreeBytes,
                target: '#recorder.idle',
                actions: [
                  assign({ freeBytes: ({ event }) => event.output.freeBytes }),
                  {
                    type: 'reply',
                    params: ({ context, event }) =>
                      err(
                        context.pendingStart?.requestId,
                        'DISK_FULL',
                        `not enough free disk space to record (${event.output.freeBytes} bytes free, ${context.settings.minFreeBytes} required)`,
                        { freeBytes: event.output.freeBytes, minFreeBytes: context.settings.minFreeBytes },
                      ),
                  },
                ],
              },
              { target: 'opening', actions: assign({ freeBytes: ({ event }) => event.output.freeBytes }) },
            ],
            onError: {
              target: '#recorder.idle',
              actions: {
                type: 'reply',
                params: ({ context, event }) => err(context.pendingStart?.requestId, 'UNAVAILABLE', `disk probe failed: ${String(event.error)}`),
              },
            },
          },
        },
        opening: {
          invoke: {
            src: 'openSession',
            input: ({ context }) => ({ name: context.pendingStart?.name }),
            onDone: {
              target: '#recorder.recording',
              actions: [
                assign(({ context, event }) => {
                  const session: ActiveSession = {
                    ...event.output,
                    idempotencyKey: context.pendingStart?.idempotencyKey ?? null,
                    bytes: 0,
                    segments: 0,
                    closedFiles: [],
                    gaps: [],
                  }
                  return { session, openGap: null, lastGrowthMono: null, stopCause: null, stopRequestId: null, stopMono: null, recentKeys: rememberKey(context.recentKeys, session.idempotencyKey, summarize(session)) }
                }),
                { type: 'reply', params: ({ context }) => ok(context.pendingStart?.requestId, summarize(context.session!)) },
                {
                  type: 'publishEvent',
                  params: ({ context }) => ({ kind: 'recording.started', payload: { ...summarize(context.session!) } }),
                },
              ],
            },
            onError: {
              target: '#recorder.idle',
              actions: {
                type: 'reply',
                params: ({ context, event }) => err(context.pendingStart?.requestId, 'INTERNAL', `could not open a session: ${String(event.error)}`),
              },
            },
          },
        },
      },
    },

    recording: {
      tags: ['ready'],
      type: 'parallel',
      entry: [clearPendingStart, flushQueue],
      always: { guard: 'shuttingDown', target: 'stopping', actions: beginStop('shutdown') },
      on: {
        START: [
          {
            guard: ({ context, event }) => event.idempotencyKey !== undefined && event.idempotencyKey === context.session?.idempotencyKey,
            actions: {
              type: 'reply',
              params: ({ context, event }) => ok(event.requestId, summarize(context.session!)),
            },
          },
          {
            actions: {
              type: 'reply',
              params: ({ context, event }) =>
                err(event.requestId, 'ALREADY_RECORDING', 'a recording is already in progress', { session: context.session?.id }),
            },
          },
        ],
        STOP_RECORDING: [
          // No tail when there is none to wait for: no post-roll set, or no byte arrived yet
          // (rapid start/stop cycles stay instant).
          {
            guard: ({ context }) => !((context.settings.postRollMs ?? 0) > 0) || (context.session?.bytes ?? 0) === 0,
            target: 'stopping',
            actions: beginStop('requested'),
          },
          { target: '.postRoll.tail', actions: beginStop('requested') },
        ],
        STOP: { target: 'stopping', actions: beginStop('shutdown') },
        'DISK.SAMPLE': [
          {
            guard: ({ context, event }) => event.freeBytes < context.settings.stopBelowBytes,
            target: 'stopping',
            actions: [
              assign({ freeBytes: ({ event }) => event.freeBytes }),
              beginStop('disk_full'),
              diskFullAlert('recording stopped: free disk space below the stop threshold'),
            ],
          },
          { actions: assign({ freeBytes: ({ event }) => event.freeBytes }) },
        ],
        'DISK.ENOSPC': {
          target: 'stopping',
          actions: [beginStop('enospc'), diskFullAlert('recording stopped: no space left on device')],
        },
        'SEGMENT.CLOSED': {
          guard: ({ context, event }) => context.session !== null && !context.session.closedFiles.includes(event.file),
          actions: [
            assign({
              session: ({ context, event }) => context.session && { ...context.session, closedFiles: [...context.session.closedFiles, event.file] },
            }),
            {
              type: 'publishEvent',
              params: ({ context, event }) => ({
                kind: 'segment.closed',
                payload: { session: context.session?.id, file: event.file, bytes: event.bytes },
              }),
            },
          ],
        },
      },
      states: {
        capture: {
          initial: 'capturing',
          states: {
            capturing: {
              invoke: {
                id: 'ffmpeg',
                src: 'ffmpegCapture',
                input: ({ context }) => ({ dir: context.session!.dir, sessionId: context.session!.id }),
              },
              on: {
                'FFMPEG.STARTED': { actions: assign({ pids: ({ event }) => [event.pid] }) },
                'FFMPEG.EXITED': [
                  {
                    // Killed from outside (OOM killer, an operator): nothing else reports it, unlike a source that went away.
                    guard: ({ event }) => event.reason.startsWith('killed by'),
                    target: 'reconnecting',
                    actions: [
                      openGap,
                      {
                        type: 'raiseAlert',
                        params: ({ context, event }) => ({
                          severity: 'warning',
                          code: 'recorder.capture_killed',
                          message: `recorder ffmpeg ${event.reason} while recording; restarting it in the same session`,
                          details: { session: context.session?.id, reason: event.reason },
                        }),
                      },
                    ],
                  },
                  {
                    target: 'reconnecting',
                    actions: [
                      openGap,
                      { type: 'note', params: ({ event }) => ({ level: 'warn', message: 'recorder ffmpeg ended while recording; reconnecting', details: { reason: event.reason } }) },
                    ],
                  },
                ],
                'SOURCE.LOST': { target: 'waitingSource', actions: openGap },
              },
            },
            /** ffmpeg ended on its own (source closed, network error): same session, next segment number. */
            reconnecting: {
              after: { reconnect: 'capturing' },
              on: { 'SOURCE.RESUMED': 'capturing', 'SOURCE.LOST': { target: 'waitingSource', actions: openGap } },
            },
            /** Told the media server or camera is restarting: no ffmpeg until it is back (or a timed retry). */
            waitingSource: {
              after: { sourceWait: 'capturing' },
              on: { 'SOURCE.RESUMED': 'capturing' },
            },
          },
        },
        watchdog: {
          initial: 'flowing',
          states: {
            flowing: {
              after: { stallWarn: 'stalled' },
              on: { BYTES: { guard: bytesGrew, target: 'flowing', reenter: true, actions: recordBytes } },
            },
            stalled: {
              entry: stallAlert('warning'),
              after: {
                stallStop: {
                  target: '#recorder.stopping',
                  actions: [
                    openStallGap,
                    beginStop('stall'),
                    stallAlert('critical'),
                  ],
                },
              },
              on: {
                BYTES: {
                  guard: bytesGrew,
                  target: 'flowing',
                  actions: [
                    recordBytes,
                    {
                      type: 'raiseAlert',
                      params: ({ context }) => ({ severity: 'info', code: 'recorder.stall_cleared', message: 'recording bytes flowing again', details: { session: context.session?.id } }),
                    },
                  ],
                },
              },
            },
          },
        },
        /** A requested stop's tail: ffmpeg keeps writing what the late stream still carries. */
        postRoll: {
          initial: 'off',
          states: {
            off: {},
            tail: {
              on: { START: { actions: enqueueCommand }, STOP_RECORDING: { actions: enqueueCommand } },
              after: { postRoll: '#recorder.stopping' },
            },
          },
        },
        disk: {
          initial: 'waiting',
          states: {
            waiting: { after: { diskProbe: 'probing' } },
            probing: {
              invoke: {
                src: 'probeDisk',
                onDone: { target: 'waiting', actions: raise(({ event }) => ({ type: 'DISK.SAMPLE' as const, freeBytes: event.output.freeBytes })) },
                onError: {
                  target: 'waiting',
                  actions: { type: 'note', params: ({ event }) => ({ level: 'warn', message: 'disk probe failed while recording', details: { error: String(event.error) } }) },
                },
              },
            },
          },
        },
      },
    },

    /** ffmpeg is stopped by leaving `recording`; finalize waits for its exit, then writes session.json. */
    stopping: {
      initial: 'finalizing',
      on: { START: { actions: enqueueCommand }, STOP_RECORDING: { actions: enqueueCommand }, STOP: { actions: markShutdown } },
      states: {
        finalizing: {
          invoke: {
            src: 'finalizeSession',
            input: ({ context }) => {
              const end = endOf[context.stopCause ?? 'requested']
              const stopMono = context.stopCause === 'requested' ? context.stopMono : null
              return { session: context.session!, endState: end.state, stopReason: end.reason, openGap: context.openGap, stopMono }
            },
            onDone: {
              target: 'settled',
              actions: enqueueActions(({ context, event, enqueue }) => {
                const { summary, files } = event.output
                const announced = new Set(context.session?.closedFiles ?? [])
                for (const f of files) {
                  if (!announced.has(f.file)) {
                    enqueue({ type: 'publishEvent', params: { kind: 'segment.closed', payload: { session: summary.id, file: f.file, bytes: f.bytes } } })
                  }
                }
                enqueue({ type: 'publishEvent', params: { kind: 'recording.stopped', payload: { ...summary } } })
                if (context.stopRequestId !== null) {
                  enqueue({ type: 'reply', params: { requestId: context.stopRequestId, ok: true, result: summary } })
                }
                enqueue.assign({ session: null, openGap: null, pids: [], stopRequestId: null, stopMono: null, recentKeys: updateKeys(context.recentKeys, summary) })
              }),
            },
            onError: {
              target: 'settled',
              actions: enqueueActions(({ context, event, enqueue }) => {
                const message = `could not finalize the session: ${String(event.error)}`
                enqueue({ type: 'note', params: { level: 'error', message, details: { session: context.session?.id } } })
                if (context.session) {
                  enqueue({ type: 'publishEvent', params: { kind: 'recording.stopped', payload: { ...summarize(context.session), stopReason: message } } })
                }
                if (context.stopRequestId !== null) {
                  enqueue({ type: 'reply', params: { requestId: context.stopRequestId, ok: false, error: { code: 'INTERNAL', message } } })
                }
                enqueue.assign({ session: null, openGap: null, pids: [], stopRequestId: null })
              }),
            },
          },
        },
        /** Where to go depends on why we stopped; decided once the session is safe on disk. */
        settled: {
          always: [
            { guard: 'shuttingDown', target: '#recorder.stopped' },
            {
              guard: ({ context }) => context.stopCause === 'disk_full' || context.stopCause === 'enospc',
              target: '#recorder.disk_full',
              actions: assign({ stopCause: null }),
            },
            { target: '#recorder.idle', actions: assign({ stopCause: null }) },
          ],
        },
      },
    },

    /** Stopped for lack of space; ready (serving status), probing until minFreeBytes is free again. */
    disk_full: {
      tags: ['ready'],
      entry: flushQueue,
      always: { guard: 'shuttingDown', target: 'stopped' },
      initial: 'waiting',
      states: {
        waiting: { after: { diskProbe: 'probing' } },
        probing: {
          invoke: {
            src: 'probeDisk',
            onDone: { target: 'waiting', actions: raise(({ event }) => ({ type: 'DISK.SAMPLE' as const, freeBytes: event.output.freeBytes })) },
            onError: 'waiting',
          },
        },
      },
      on: {
        'DISK.SAMPLE': [
          {
            guard: ({ context, event }) => event.freeBytes >= context.settings.minFreeBytes,
            target: 'idle',
            actions: [
              assign({ freeBytes: ({ event }) => event.freeBytes }),
              { type: 'raiseAlert', params: ({ event }) => ({ severity: 'info', code: 'recorder.disk_ok', message: 'disk space is back; the recorder can start again', details: { freeBytes: event.freeBytes } }) },
            ],
          },
          { actions: assign({ freeBytes: ({ event }) => event.freeBytes }) },
        ],
        START: {
          actions: {
            type: 'reply',
            params: ({ context, event }) =>
              err(event.requestId, 'DISK_FULL', 'the disk is full; waiting for free space', {
                freeBytes: context.freeBytes,
                minFreeBytes: context.settings.minFreeBytes,
              }),
          },
        },
        STOP_RECORDING: { actions: { type: 'reply', params: ({ event }) => err(event.requestId, 'NOT_RECORDING', 'no recording in progress') } },
        STOP: { target: 'stopped' },
      },
    },

    stopped: { type: 'final', entry: rejectQueued },
  },
})

export type RecorderSnapshot = SnapshotFrom<typeof recorderMachine>
export type RecorderStateName = 'starting' | 'idle' | 'recording' | 'stalled' | 'stopping' | 'disk_full' | 'stopped'

/**
 * The operator's word for where the recorder is (`recorder.status`, state subjects),
 * from a snapshot value: `preparing` reads as `starting`, the watchdog's stall as `stalled`.
 */
export function recorderStateNameOf(value: unknown): RecorderStateName {
  if (value === 'idle' || value === 'stopped') return value
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>
    if ('recording' in v) return (v.recording as { watchdog?: unknown } | null)?.watchdog === 'stalled' ? 'stalled' : 'recording'
    if ('stopping' in v) return 'stopping'
    if ('disk_full' in v) return 'disk_full'
  }
  return 'starting'
}

export function recorderStateName(snapshot: RecorderSnapshot): RecorderStateName {
  return recorderStateNameOf(snapshot.value)
}
