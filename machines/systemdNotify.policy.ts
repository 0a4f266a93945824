/**
 * What vigil tells systemd, and when (DESIGN.md §9.3): a pure reducer, like the
 * supervisor's policy. The effects (a timer that feeds `tick`, `systemd-notify` runs
 * that carry a message) live in actors/systemd and infra/sdNotify.ts.
 *
 * - READY=1 once the tree runs (a parked child does not hold it back: the rig is up, degraded).
 * - STATUS=<one line> on supervisor or child state changes, at most one per `statusGapMs`
 *   (a restarting child must not spawn a helper per state change); the latest line wins.
 * - WATCHDOG=1 every half WATCHDOG_USEC, only from a tick whose own lateness (event loop
 *   lag) is under `maxLagMs`. A wedged loop runs no tick, so it sends nothing and systemd
 *   restarts the service; a loop just back from a long block skips one tick's ping.
 * - STOPPING=1 once, at shutdown.
 */

/** One datagram's worth of assignments; `systemd-notify` sends them together. */
export interface NotifyMessage {
  ready?: true
  status?: string
  watchdog?: true
  stopping?: true
}

export interface WatchdogCadence {
  /** Half of WATCHDOG_USEC: systemd restarts the service after a whole one without a ping. */
  pingEveryMs: number
  /** How often the loop-lag timer runs. */
  tickMs: number
  /** A tick later than this by its own clock does not ping: the loop is not responsive. */
  maxLagMs: number
}

/** The systemd variables a supervisor reads; children must never see them (infra/process.ts). */
export interface NotifyEnv {
  NOTIFY_SOCKET?: string | undefined
  WATCHDOG_USEC?: string | undefined
  WATCHDOG_PID?: string | undefined
}

export const STATUS_GAP_MS = 1000
const STATUS_MAX_CHARS = 200

/**
 * The watchdog's cadence from systemd's environment, or null when there is no watchdog
 * for this process (unset, not a positive integer, or WATCHDOG_PID names another process,
 * as sd_watchdog_enabled(3) says).
 */
export function watchdogCadence(env: NotifyEnv, pid: number): WatchdogCadence | null {
  const usec = env.WATCHDOG_USEC === undefined ? NaN : Number(env.WATCHDOG_USEC)
  if (!Number.isSafeInteger(usec) || usec <= 0) return null
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null
  const pingEveryMs = Math.max(1, Math.floor(usec / 2000))
  const tickMs = Math.min(1000, Math.max(10, Math.round(pingEveryMs / 4)))
  // Half the ping period, and never more than 5 s: a rig whose loop stalls for 5 s drops
  // frames and commands; that is not "responsive", whatever WatchdogSec says.
  const maxLagMs = Math.max(tickMs, Math.min(5000, Math.floor(pingEveryMs / 2)))
  return { pingEveryMs, tickMs, maxLagMs }
}

export interface NotifyState {
  phase: 'starting' | 'ready' | 'stopping'
  /** Monotonic ms of the last tick, of the last ping; null before the first. */
  lastTickAt: number | null
  lastPingAt: number | null
  statusSent: string | null
  statusSentAt: number | null
  /** A changed line held back by the rate limit; sent by a later tick. */
  statusPending: string | null
}

export type NotifyEvent =
  /** The loop-lag timer ran at monotonic `now`. */
  | { type: 'tick'; now: number }
  /** The supervisor's phase (`starting`, `running`, `shutting_down`, …) and the status line for it. */
  | { type: 'tree'; now: number; phase: string; line: string }
  /** Shutdown began (a signal, a fatal error, the shutdown command). */
  | { type: 'stopping'; now: number; line: string }

export const initialNotifyState = (): NotifyState => ({
  phase: 'starting',
  lastTickAt: null,
  lastPingAt: null,
  statusSent: null,
  statusSentAt: null,
  statusPending: null,
})

export interface NotifyStep {
  state: NotifyState
  /** What to send now, or null. */
  message: NotifyMessage | null
}

/** The reducer: one event in, the next state and at most one message out. */
export function notifyStep(state: NotifyState, event: NotifyEvent, cadence: WatchdogCadence | null, statusGapMs = STATUS_GAP_MS): NotifyStep {
  const message: NotifyMessage = {}
  let next = state
  const sendStatus = (line: string, now: number) => {
    message.status = line
    next = { ...next, statusSent: line, statusSentAt: now, statusPending: null }
  }
  switch (event.type) {
    case 'tick': {
      const lagMs = state.lastTickAt === null || cadence === null ? 0 : Math.max(0, event.now - state.lastTickAt - cadence.tickMs)
      next = { ...next, lastTickAt: event.now }
      if (cadence !== null) {
        // Due half a tick early, so timer jitter does not push every other ping a whole tick late.
        const due = state.lastPingAt === null || event.now - state.lastPingAt >= cadence.pingEveryMs - cadence.tickMs / 2
        if (due && lagMs <= cadence.maxLagMs) {
          message.watchdog = true
          next = { ...next, lastPingAt: event.now }
        }
      }
      if (next.statusPending !== null && (next.statusSentAt === null || event.now - next.statusSentAt >= statusGapMs)) {
        sendStatus(next.statusPending, event.now)
      }
      break
    }
    case 'tree': {
      if (state.phase === 'stopping') break
      if (event.phase === 'shutting_down' || event.phase === 'shutdown_complete') {
        return notifyStep(state, { type: 'stopping', now: event.now, line: event.line }, cadence, statusGapMs)
      }
      const line = oneLine(event.line)
      if (state.phase === 'starting' && event.phase === 'running') {
        // READY goes out at once with its line, whatever the rate limit held back.
        message.ready = true
        next = { ...next, phase: 'ready' }
        sendStatus(line, event.now)
        break
      }
      if (line === state.statusSent) {
        next = { ...next, statusPending: null }
        break
      }
      if (state.statusSentAt === null || event.now - state.statusSentAt >= statusGapMs) sendStatus(line, event.now)
      else next = { ...next, statusPending: line }
      break
    }
    case 'stopping': {
      if (state.phase === 'stopping') break
      message.stopping = true
      next = { ...next, phase: 'stopping' }
      sendStatus(oneLine(event.line), event.now)
      break
    }
  }
  return { state: next, message: Object.keys(message).length > 0 ? message : null }
}

/** A child as the status line needs it. */
export interface ChildLine {
  id: string
  /** The supervisor's status for it: running, starting, restarting, failed, stopped, … */
  status: string
}

/**
 * The one line `systemctl status vigil` shows: the phase, how many children are up,
 * and which are not (a parked child reads `failed`), e.g.
 * `running, degraded: 10/11 children up; camera failed`.
 */
export function statusLine(phase: string, children: readonly ChildLine[]): string {
  const up = children.filter((c) => c.status === 'running').length
  const count = `${up}/${children.length} children up`
  if (phase === 'shutting_down' || phase === 'shutdown_complete') return oneLine(`shutting down: ${count}`)
  const down = children.filter((c) => c.status !== 'running')
  if (phase === 'running') {
    if (down.length === 0) return oneLine(`running: ${count}`)
    return oneLine(`running, degraded: ${count}; ${down.map((c) => `${c.id} ${c.status}`).join(', ')}`)
  }
  return oneLine(`${phase.replace(/_/g, ' ')}: ${count}`)
}

/** STATUS= is one line: no newline may split the datagram's assignments. */
function oneLine(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ').trim()
  return flat.length > STATUS_MAX_CHARS ? `${flat.slice(0, STATUS_MAX_CHARS - 1)}…` : flat
}

/** Merges a message into one still waiting to go: flags accumulate, the newest status wins. */
export function mergeMessages(pending: NotifyMessage | null, next: NotifyMessage): NotifyMessage {
  return { ...(pending ?? {}), ...next }
}

/**
 * `systemd-notify` arguments for a message (systemd 252, Debian bookworm): every field as a
 * VARIABLE=VALUE assignment, which systemd-notify sends verbatim in one datagram, and
 * `--pid=<ours>` (MAINPID=) so the message names the service's main process even though a
 * helper sends it (hence NotifyAccess=all in the unit).
 */
export function notifyArgs(pid: number, message: NotifyMessage): string[] {
  const args = [`--pid=${pid}`]
  if (message.ready) args.push('READY=1')
  if (message.status !== undefined) args.push(`STATUS=${message.status}`)
  if (message.stopping) args.push('STOPPING=1')
  if (message.watchdog) args.push('WATCHDOG=1')
  return args
}
