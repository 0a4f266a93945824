import { assign, enqueueActions, raise, type SnapshotFrom } from 'xstate'
import { summarize, err, ok, rememberKey, updateKeys, recorderSetup, enqueueCommand, flushQueue, rejectQueued, dropExpired, markShutdown, clearPendingStart, beginStop, stallAlert, diskFullAlert, recordBytes, measurePreRoll, openGap, openPausedGap, trackProgress, openStallGap, bytesGrew } from './recorder.actions.js'
import { endOf, type ActiveSession } from './recorder.types.js'

/** A session's `events` list is bounded: a chatty sensor must not grow session.json without end. */
const MAX_EVENTS = 1000

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

export * from './recorder.types.js'
export { summarize } from './recorder.actions.js'

export const recorderMachine = recorderSetup.createMachine({
  id: 'recorder',
  context: ({ input }) => ({
    settings: input.settings,
    session: null,
    pendingStart: null,
    stopRequestId: null,
    stopMono: null,
    stopTailMs: 0,
    stopCause: null,
    queue: [],
    shutdown: false,
    pids: [],
    freeBytes: null,
    openGap: null,
    lastGrowthMono: null,
    lastProgress: null,
    recentKeys: [],
  }),
  initial: 'preparing',
  // In every state: only the queue is looked at, so a start or stop already begun is never cut short.
  on: { 'COMMAND.EXPIRED': { actions: dropExpired } },
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
          after: {
            diskProbeTimeout: {
              target: '#recorder.idle',
              actions: {
                type: 'reply',
                params: ({ context }) =>
                  err(context.pendingStart?.requestId, 'UNAVAILABLE', `the disk probe did not answer within ${context.settings.diskProbeTimeoutMs ?? 10_000} ms; the recording was not started`),
              },
            },
          },
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
            input: ({ context }) => ({ name: context.pendingStart?.name, trigger: context.pendingStart?.trigger }),
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
                    events: [],
                    preRollMs: null,
                  }
                  return { session, openGap: null, lastGrowthMono: null, lastProgress: null, stopCause: null, stopRequestId: null, stopMono: null, stopTailMs: 0, recentKeys: rememberKey(context.recentKeys, session.idempotencyKey, summarize(session)) }
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
        PROGRESS: { actions: [measurePreRoll, trackProgress] },
        'PREROLL.ADDED': {
          guard: ({ context, event }) => context.session?.id === event.sessionId,
          actions: assign({
            session: ({ context, event }) => context.session && { ...context.session, preRollFiles: [...(context.session.preRollFiles ?? []), ...event.files] },
          }),
        },
        'SESSION.EVENT': {
          actions: assign({
            session: ({ context, event }) => context.session && { ...context.session, events: [...context.session.events, { kind: event.kind, at: event.at }].slice(-MAX_EVENTS) },
          }),
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
                'FFMPEG.STARTED': { actions: assign({ pids: ({ event }) => [event.pid], lastProgress: null }) },
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
                // ffmpeg reads on through the camera's restart: only the gap is noted.
                'SOURCE.PAUSED': { actions: openPausedGap },
              },
            },
            /** ffmpeg ended on its own (source closed, network error): same session, next segment number. */
            reconnecting: {
              after: { reconnect: 'capturing' },
              on: {
                'SOURCE.RESUMED': 'capturing',
                'SOURCE.LOST': { target: 'waitingSource', actions: openGap },
                'SOURCE.PAUSED': { target: 'waitingSource', actions: openGap },
              },
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
            // Handled in this region, not on `recording`: a transition of the parallel parent
            // into one region exits and re-enters every region (SCXML), which restarted the
            // capture ffmpeg at each stop and lost the very tail it waits for.
            off: {
              on: {
                STOP_RECORDING: [
                  // No tail when there is none to wait for: no post-roll set, or no byte arrived yet
                  // (rapid start/stop cycles stay instant).
                  {
                    guard: ({ context }) => !((context.settings.postRollMs ?? 0) > 0) || (context.session?.bytes ?? 0) === 0,
                    target: '#recorder.stopping',
                    actions: beginStop('requested'),
                  },
                  { target: 'tail', actions: [beginStop('requested'), assign({ stopTailMs: ({ context }) => context.settings.postRollMs ?? 0 })] },
                ],
              },
            },
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
              const requested = context.stopCause === 'requested'
              const stopMono = requested ? context.stopMono : null
              return { session: context.session!, endState: end.state, stopReason: end.reason, openGap: context.openGap, stopMono, postRollMs: requested ? context.stopTailMs : 0 }
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
                enqueue.assign({ session: null, openGap: null, pids: [], stopRequestId: null, stopMono: null, stopTailMs: 0, recentKeys: updateKeys(context.recentKeys, summary) })
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
