/** The recorder machine's types (machines/recorder.machine.ts): what goes in and out of it. */
import type { ErrorCode } from '../infra/errors.js'
import type { Severity } from '../infra/subjects.js'

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
  /**
   * A start's disk probe that has not answered by then fails the start (UNAVAILABLE): a hung
   * filesystem must not hold the start, and every command queued behind it, for ever.
   * Default 10000.
   */
  diskProbeTimeoutMs?: number
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
  /** What opened the session (recording modes, docs/ARCHITECTURE.md). */
  trigger?: SessionTrigger
}

/** What opened a session: a command by hand, continuous mode, or an event (events mode). */
export type TriggerKind = 'manual' | 'continuous' | 'motion' | 'sound'
export interface SessionTrigger {
  kind: TriggerKind
  /** Wall ISO time of the trigger. */
  at: string
}
/** A start's trigger as the recorder receives it: `mono` says how far back the pre-roll must reach. */
export interface StartTrigger extends SessionTrigger {
  mono?: number
}
/** An event seen while the session recorded (events mode lists every one, the trigger first). */
export interface SessionEventMark {
  kind: 'motion' | 'sound'
  at: string
}
/** A pre-roll buffer segment moved into the session (`pre-NNNNN.mp4`), with its duration. */
export interface PreRollFile {
  file: string
  bytes: number
  ms: number
}

export interface OpenedSession {
  id: string
  name: string
  dir: string
  startedAt: string
  startedMono: number
  /** Absent: a manual start at startedAt. */
  trigger?: SessionTrigger
  /** Footage from the pre-roll buffer, played before seg-00001 (events mode; else none). */
  preRollFiles?: PreRollFile[]
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
  /**
   * The running ffmpeg's last progress reading when the gap opened (SOURCE.PAUSED: it goes
   * on reading through the camera's restart). The gap then closes on the first reading whose
   * timeline moved, and lasts the wall time that brought no footage: elapsed − timeline
   * gained. Absent: the gap closes on the next growth of the files (a new ffmpeg run).
   */
  media?: ProgressReading
  /**
   * The ffmpeg run is over (source lost, exited): the next run's first progress reading closes
   * the gap at the start of its footage (reading time − timeline), or its files' first growth.
   */
  newRun?: boolean
  /** The new run's first growth (its header) was seen: the next growth closes the gap if progress has not. */
  grew?: boolean
}

export interface ProgressReading {
  outMs: number
  mono: number
}

export interface ActiveSession extends OpenedSession {
  idempotencyKey: string | null
  bytes: number
  segments: number
  /** Segment files already announced as `segment.closed`. */
  closedFiles: string[]
  gaps: RecordedGap[]
  events: SessionEventMark[]
  /**
   * Footage from before the start command, in ms: the media server hands a new reader the
   * GOP it holds (up to a keyframe interval). Negative when footage began only after the
   * command (a slow ffmpeg start). Null until ffmpeg reported progress.
   */
  preRollMs: number | null
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

export type StartCommand = { type: 'START'; requestId?: string; name?: string; idempotencyKey?: string; trigger?: StartTrigger }
/** `mono`: when the stop was asked (monotonic ms); a requested session ends there. */
export type StopCommand = { type: 'STOP_RECORDING'; requestId?: string; mono?: number }
export type Command = StartCommand | StopCommand

export type RecorderEvent =
  | Command
  /** The supervisor's orderly stop: finalize, then end in `stopped`. */
  | { type: 'STOP' }
  | { type: 'DISK.SAMPLE'; freeBytes: number }
  | { type: 'DISK.ENOSPC' }
  | { type: 'BYTES'; total: number; segments: number; mono: number }
  | { type: 'SEGMENT.CLOSED'; file: string; bytes: number }
  /**
   * ffmpeg's progress: `outMs` of output timeline written by `mono`. `firstRun`: no earlier
   * run of the session wrote a segment, so this run's timeline is the session's footage so far.
   */
  | { type: 'PROGRESS'; outMs: number; mono: number; firstRun: boolean }
  | { type: 'FFMPEG.STARTED'; pid: number }
  /** Buffered footage moved into the session after it opened (the bridge to the recorder's first keyframe). */
  | { type: 'PREROLL.ADDED'; sessionId: string; files: PreRollFile[] }
  | { type: 'FFMPEG.EXITED'; reason: string; at: string; mono: number }
  /** The media server or camera went away: keep the session, stop ffmpeg, open a gap. */
  | { type: 'SOURCE.LOST'; reason: string; at: string; mono: number }
  /**
   * The camera is restarting while the media server runs: node-media-server holds the stream
   * for the same publisher and continues its timeline when it is back, so ffmpeg keeps
   * reading (no new run to start, no GOP to wait for). A gap opens, measured by progress.
   */
  | { type: 'SOURCE.PAUSED'; reason: string; at: string; mono: number }
  | { type: 'SOURCE.RESUMED' }
  /** A motion or sound event while recording: listed in session.json `events`. */
  | { type: 'SESSION.EVENT'; kind: 'motion' | 'sound'; at: string }
  /**
   * The command's deadline passed (DESIGN.md §9.5): still queued, it is dropped and answered
   * TIMEOUT, never run later; already begun (the start or stop in flight), it runs to its end.
   */
  | { type: 'COMMAND.EXPIRED'; requestId: string }

export type StopCause = 'requested' | 'shutdown' | 'disk_full' | 'enospc' | 'stall'

export const endOf: Record<StopCause, { state: SessionEndState; reason: string }> = {
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
  /** Footage kept after a requested stop (the post-roll tail); 0 for every other end. */
  postRollMs: number
}
export interface FinalizeOutput {
  summary: SessionSummary
  /** Every segment kept, for the `segment.closed` events not yet published. */
  files: Array<{ file: string; bytes: number }>
}
export interface OpenInput {
  name: string | undefined
  trigger?: StartTrigger | undefined
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
  /** The post-roll the pending requested stop waits out (0: stopped at once). */
  stopTailMs: number
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
  /** The running ffmpeg's newest progress reading; null until its first (each run starts afresh). */
  lastProgress: ProgressReading | null
  /** Idempotency memory: a retried start (same key) gets the same session, also after it ended. */
  recentKeys: Array<{ key: string; summary: SessionSummary }>
}
