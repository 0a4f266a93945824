/** The recorder machine's setup and the actions its states share (machines/recorder.machine.ts). */
import { fromCallback, fromPromise, setup } from 'xstate'
import type { ErrorCode } from '../infra/errors.js'
import type { RecorderSettings, SessionSummary, OpenedSession, ActiveSession, RecorderReply, RecorderAlert, RecorderPublication, RecorderNote, RecorderEvent, StopCause, FinalizeInput, FinalizeOutput, CaptureInput, RecorderContext, OpenInput, OpenGap } from './recorder.types.js'

export const MAX_QUEUED = 256
export const MAX_KEYS = 32

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
    trigger: s.trigger,
  }
}

/** Replies go to a requestId; a command sent without one (fire and forget) gets none. */
export const err = (requestId: string | undefined, code: ErrorCode, message: string, details?: Record<string, unknown>): RecorderReply | null =>
  requestId === undefined ? null : { requestId, ok: false, error: details ? { code, message, details } : { code, message } }
export const ok = (requestId: string | undefined, result: SessionSummary): RecorderReply | null =>
  requestId === undefined ? null : { requestId, ok: true, result }

export function rememberKey(keys: RecorderContext['recentKeys'], key: string | null, summary: SessionSummary) {
  if (key === null) return keys
  return [...keys.filter((k) => k.key !== key && k.summary.id !== summary.id), { key, summary }].slice(-MAX_KEYS)
}

export function updateKeys(keys: RecorderContext['recentKeys'], summary: SessionSummary) {
  return keys.map((k) => (k.summary.id === summary.id ? { key: k.key, summary } : k))
}

// ---------------------------------------------------------------- setup

export const recorderSetup = setup({
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
    openSession: fromPromise<OpenedSession, OpenInput>(async () => {
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
    diskProbeTimeout: ({ context }) => context.settings.diskProbeTimeoutMs ?? 10_000,
    stallWarn: ({ context }) => context.settings.stallWarnMs,
    /** Counted from the warning, so the auto-stop comes stallStopMs after the last byte. */
    stallStop: ({ context }) => Math.max(0, context.settings.stallStopMs - context.settings.stallWarnMs),
  },
})

// ---------------------------------------------------------------- actions

/** A command that cannot be handled now (a start or stop in flight) waits its turn. */
export const enqueueCommand = recorderSetup.enqueueActions(({ context, event, enqueue }) => {
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
export const flushQueue = recorderSetup.enqueueActions(({ context, enqueue }) => {
  if (context.shutdown || context.queue.length === 0) return
  for (const command of context.queue) enqueue.raise(command)
  enqueue.assign({ queue: [] })
})

/** A queued command whose deadline passed leaves the queue unanswered by anything but TIMEOUT. */
export const dropExpired = recorderSetup.enqueueActions(({ context, event, enqueue }) => {
  if (event.type !== 'COMMAND.EXPIRED') return
  if (!context.queue.some((c) => c.requestId === event.requestId)) return
  enqueue.assign({ queue: context.queue.filter((c) => c.requestId !== event.requestId) })
  enqueue({ type: 'reply', params: err(event.requestId, 'TIMEOUT', 'the deadline passed while the command waited its turn; it was not run') })
})

export const rejectQueued = recorderSetup.enqueueActions(({ context, enqueue }) => {
  for (const command of context.queue) {
    enqueue({ type: 'reply', params: err(command.requestId, 'SHUTTING_DOWN', 'the recorder stopped') })
  }
  enqueue.assign({ queue: [] })
})

export const markShutdown = recorderSetup.assign({ shutdown: true })

/** Cleared on arrival, not on leaving `starting`: exit actions run before the transition's reply. */
export const clearPendingStart = recorderSetup.assign({ pendingStart: null })

export const beginStop = (cause: StopCause) =>
  recorderSetup.assign({
    stopCause: ({ context }) => context.stopCause ?? cause,
    stopRequestId: ({ context, event }) =>
      event.type === 'STOP_RECORDING' && event.requestId !== undefined ? event.requestId : context.stopRequestId,
    stopMono: ({ context, event }) => (event.type === 'STOP_RECORDING' && event.mono !== undefined ? event.mono : context.stopMono),
    shutdown: ({ context }) => context.shutdown || cause === 'shutdown',
    pids: [],
  })

/** `recorder.stall`: the warning at stallWarnMs, the critical one when stallStopMs stopped the recording. */
export const stallAlert = (severity: 'warning' | 'critical') =>
  recorderSetup.enqueueActions(({ context, enqueue }) => {
    const message =
      severity === 'warning'
        ? `recording stalled: no new bytes for ${Math.round(context.settings.stallWarnMs / 1000)} s`
        : `recording stopped: no new bytes for ${Math.round(context.settings.stallStopMs / 1000)} s`
    enqueue({ type: 'raiseAlert', params: { severity, code: 'recorder.stall', message, details: { session: context.session?.id, bytes: context.session?.bytes } } })
  })

export const diskFullAlert = (message: string) =>
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
export const recordBytes = recorderSetup.assign(({ context, event }) => {
  if (event.type !== 'BYTES' || context.session === null) return {}
  // A new run's first growth is its file's header, written once ffmpeg has probed the input (up
  // to a second after its footage began): the run's progress closes the gap where that footage
  // began. The growth after it (the first fragment, at the next keyframe) closes it when no
  // reading could (a stale GOP, no progress).
  const gap0 = context.openGap
  if (gap0?.newRun === true && !gap0.grew) {
    return { session: { ...context.session, bytes: event.total, segments: event.segments }, lastGrowthMono: event.mono, openGap: { ...gap0, grew: true } }
  }
  // A gap measured by progress closes on progress: the first growth after the camera is
  // back is the fragment written before the kill, flushed at the new keyframe.
  if (context.openGap?.media) return { session: { ...context.session, bytes: event.total, segments: event.segments }, lastGrowthMono: event.mono }
  const gap = context.openGap
  const gaps = gap
    ? [...context.session.gaps, { at: gap.at, reason: gap.reason, ms: Math.max(0, Math.round(event.mono - gap.mono)) }]
    : context.session.gaps
  // A gap that closes on the session's first bytes is a late start: it already says how
  // long after the command the footage began, and a pre-roll measured before it was of a
  // run whose output never reached the disk.
  const preRollMs = gap && context.session.bytes === 0 ? null : context.session.preRollMs
  return {
    session: { ...context.session, bytes: event.total, segments: event.segments, gaps, preRollMs },
    openGap: null,
    lastGrowthMono: event.mono,
  }
})

/**
 * Footage before the start command, from ffmpeg's progress: at `mono` the output holds
 * `outMs` of timeline, which ends at the live edge, so it began `outMs - (mono - start)` ms
 * before the command. The live edge's own lag cancels out (the stop's tail lags by as much).
 * The largest reading is the truest: ffmpeg falls behind the edge (a burst still being
 * written, a busy CPU) but never ahead of it. A session whose first run failed has a
 * leading gap instead, never both (recordBytes).
 */
export const measurePreRoll = recorderSetup.assign({
  session: ({ context, event }) => {
    if (event.type !== 'PROGRESS' || !event.firstRun || context.session === null) return context.session
    // Only while the footage is unbroken since the command: after a gap the timeline is a
    // later run's, and a leading gap already accounts for a late start.
    if (context.openGap !== null || context.session.gaps.length > 0) return context.session
    // No timeline yet (ffmpeg reports out_time 0 before its first packet): nothing says
    // when footage began. Such a run may still write the file's header and then die (a
    // refused connection), so its gap is not leading by bytes; a reading of 0 kept here
    // would count the late start twice, as a negative pre-roll and as the gap.
    if (event.outMs <= 0) return context.session
    const ms = Math.round(event.outMs - (event.mono - context.session.startedMono))
    const prev = context.session.preRollMs
    return prev !== null && prev >= ms ? context.session : { ...context.session, preRollMs: ms }
  },
})

/** Where a gap noticed at `mono` began: the last growth (or the session start), never later than `mono`. */
export const gapStartMono = (context: RecorderContext, mono: number) => Math.min(mono, context.lastGrowthMono ?? context.session?.startedMono ?? mono)

export const openGap = recorderSetup.assign({
  pids: [],
  openGap: ({ context, event }) => {
    if (context.openGap) {
      // The ffmpeg that was to measure it by progress is gone: the next run closes it.
      const { media: _media, ...bytesGap } = context.openGap
      return { ...bytesGap, newRun: true }
    }
    if (event.type === 'FFMPEG.EXITED' || event.type === 'SOURCE.LOST' || event.type === 'SOURCE.PAUSED') {
      const gap = bytesGapFrom(context, event, event.type === 'FFMPEG.EXITED' ? `ffmpeg ${event.reason}` : `source lost: ${event.reason}`)
      // An ffmpeg that ends by EOF, a read error or SIGTERM (source lost) writes its open
      // fragment, so the footage on disk runs to the last progress reading whose timeline
      // moved (the live edge then), not only to the last growth the 1 s poll saw. A killed one
      // (SIGKILL, OOM) loses that fragment, and a run with nothing on disk may never have
      // written: the files' growth is all that is sure.
      const flushed = !(event.type === 'FFMPEG.EXITED' && event.reason.startsWith('killed by')) && (context.session?.bytes ?? 0) > 0
      const edge = context.lastProgress
      if (flushed && edge && edge.outMs > 0 && edge.mono > gap.mono && edge.mono <= event.mono) {
        return { at: new Date(Date.parse(event.at) - (event.mono - edge.mono)).toISOString(), mono: edge.mono, reason: gap.reason, newRun: true }
      }
      return { ...gap, newRun: true }
    }
    return null
  },
})

/** A gap closed by the files' growth: it began at the last growth, dated back from the event. */
function bytesGapFrom(context: RecorderContext, event: { at: string; mono: number }, reason: string): OpenGap {
  const mono = gapStartMono(context, event.mono)
  return { at: new Date(Date.parse(event.at) - (event.mono - mono)).toISOString(), mono, reason }
}

/**
 * The camera restarts under a running ffmpeg (SOURCE.PAUSED): the gap is measured from
 * ffmpeg's own progress, so it is the footage missing, not the distance between two polls
 * of the files (which added up to two seconds: a fragment is flushed once per keyframe).
 * Without a reading yet (the run just began), it falls back to the files' growth.
 */
export const openPausedGap = recorderSetup.assign({
  openGap: ({ context, event }) => {
    if (context.openGap || event.type !== 'SOURCE.PAUSED' || context.session === null) return context.openGap
    const media = context.lastProgress
    if (media === null || media.outMs <= 0) return bytesGapFrom(context, event, `source lost: ${event.reason}`)
    return { at: event.at, mono: event.mono, reason: `source lost: ${event.reason}`, media }
  },
})

/** A new run's reading with less timeline than this is its first packet, not yet where its footage began. */
export const NEW_RUN_TIMELINE_MS = 400

/**
 * Every progress reading of the running ffmpeg: one whose timeline moved closes a gap measured
 * by progress (the camera restarting under it), and a new run's first reading with a timeline
 * closes the gap its run began with.
 */
export const trackProgress = recorderSetup.assign(({ context, event }) => {
  if (event.type !== 'PROGRESS') return {}
  // Kept: the last reading whose timeline moved (a frozen input still reports, unchanged): where footage last arrived.
  const prev = context.lastProgress
  const reading = prev && !(event.outMs > prev.outMs) ? prev : { outMs: event.outMs, mono: event.mono }
  const gap = context.openGap
  if (gap?.newRun && context.session !== null && event.outMs >= NEW_RUN_TIMELINE_MS) {
    // The next run's first reading with a timeline: its footage began outMs before now (the
    // media server's GOP first). ffmpeg's very first report comes as its first packet is
    // written (measured: 0.065 ms of timeline, then 1.6 s half a second later, the GOP), so
    // it says nothing yet. A start before the gap's is footage already held (a stale GOP):
    // the files' growth closes that gap instead.
    const footageFrom = event.mono - event.outMs
    if (footageFrom < gap.mono) return { lastProgress: reading }
    const ms = Math.round(footageFrom - gap.mono)
    // A leading gap (nothing on disk yet) says how late the footage began: a pre-roll measured by
    // a run whose output never reached the disk is void (as in recordBytes).
    const preRollMs = context.session.bytes === 0 ? null : context.session.preRollMs
    return { lastProgress: reading, openGap: null, session: { ...context.session, preRollMs, gaps: [...context.session.gaps, { at: gap.at, reason: gap.reason, ms }] } }
  }
  if (!gap?.media || context.session === null || !(event.outMs > gap.media.outMs)) return { lastProgress: reading }
  const ms = Math.max(0, Math.round(event.mono - gap.media.mono - (event.outMs - gap.media.outMs)))
  return {
    lastProgress: reading,
    openGap: null,
    session: { ...context.session, gaps: [...context.session.gaps, { at: gap.at, reason: gap.reason, ms }] },
  }
})

/**
 * A stall that ends the session is a gap too (from the last growth to the end), so
 * session.json does not count the frozen seconds as recorded. The wall time is the
 * session's start plus the monotonic offset: a delayed transition carries no clock.
 */
export const openStallGap = recorderSetup.assign({
  openGap: ({ context }) => {
    if (context.openGap || context.session === null) return context.openGap
    const mono = context.lastGrowthMono ?? context.session.startedMono
    const at = new Date(Date.parse(context.session.startedAt) + (mono - context.session.startedMono)).toISOString()
    return { at, mono, reason: 'stalled: no new bytes' }
  },
})

export const bytesGrew = ({ context, event }: { context: RecorderContext; event: RecorderEvent }) =>
  event.type === 'BYTES' && context.session !== null && event.total > context.session.bytes

// ---------------------------------------------------------------- machine
