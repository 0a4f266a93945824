/**
 * Is the media server alive? A pure reducer over the heartbeats its child process sends
 * over IPC (actors/media/server.ts) and the parent's own checks (actors/media/index.ts).
 *
 * A SIGSTOPped or wedged server keeps its ports open and its process alive: nothing
 * exits, and a health probe needs several misses to be sure (DESIGN §6: 2 s × 3). Its
 * heartbeats stop at once, so silence longer than `timeoutMs` means it is frozen
 * (DESIGN §9.5: a frozen media server leaves `running` in ≤ 3 s).
 *
 * The machine hears of it once (`MEDIA.UNRESPONSIVE`), never per heartbeat: the
 * inspector records every event a machine receives.
 *
 * A check that runs late by its own clock does not judge: the parent's event loop was
 * blocked, and node runs the timer that makes the check before it reads the heartbeats
 * that queued in the channel meanwhile, so the silence it would see is the parent's own.
 * The next check, on time, judges with those heartbeats read.
 */

/** How often the child sends a heartbeat, and how often the parent checks their age. */
export const HEARTBEAT_INTERVAL_MS = 250

export interface HeartbeatWatch {
  /** Monotonic ms of the last heartbeat (or of the ready report, which counts as one). */
  lastBeatAt: number
  /** Monotonic ms of the last check. */
  lastCheckAt: number
  /** Silence was reported: the watch has said all it will. */
  reported: boolean
}

export type HeartbeatEvent =
  | { type: 'beat'; now: number }
  | { type: 'check'; now: number }

export interface HeartbeatSettings {
  /** Silence longer than this is a frozen server. */
  timeoutMs: number
  /** The check's period; a check later than this again (twice the period in all) does not judge. */
  checkEveryMs: number
}

export interface HeartbeatStep {
  watch: HeartbeatWatch
  /** The silence to report now (ms), or null. Non-null at most once per watch. */
  silentMs: number | null
}

/** A watch that starts at `now` (the ready report: the server just proved it runs). */
export const startHeartbeatWatch = (now: number): HeartbeatWatch => ({ lastBeatAt: now, lastCheckAt: now, reported: false })

export function watchHeartbeat(watch: HeartbeatWatch, event: HeartbeatEvent, settings: HeartbeatSettings): HeartbeatStep {
  if (watch.reported) return { watch, silentMs: null }
  if (event.type === 'beat') return { watch: { ...watch, lastBeatAt: Math.max(watch.lastBeatAt, event.now) }, silentMs: null }
  const late = event.now - watch.lastCheckAt > 2 * settings.checkEveryMs
  const next = { ...watch, lastCheckAt: event.now }
  const silentMs = event.now - watch.lastBeatAt
  if (late || silentMs <= settings.timeoutMs) return { watch: next, silentMs: null }
  return { watch: { ...next, reported: true }, silentMs }
}

/** The reason the machine records: what an operator reads in the restart alert. */
export const describeSilence = (silentMs: number): string => `media server silent for ${(silentMs / 1000).toFixed(1)} s (frozen?)`
