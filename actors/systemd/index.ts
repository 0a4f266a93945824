import { performance } from 'node:perf_hooks'
import type { Logger } from '../../infra/logger.js'
import type { Feed } from '../../infra/feed.js'
import {
  initialNotifyState,
  notifyStep,
  statusLine,
  watchdogCadence,
  type ChildLine,
  type NotifyEnv,
  type NotifyEvent,
  type WatchdogCadence,
} from '../../machines/systemdNotify.policy.js'
import { createSdNotifySender, type SdNotifySender } from './sender.js'

/** What the notifier reads of a rig: its feed (state changes) and its supervisor's view. */
export interface NotifiedTree {
  feed: Feed
  supervisor: { state(): string; children(): ReadonlyArray<ChildLine> }
}

export interface SystemdNotifier {
  readonly cadence: WatchdogCadence | null
  /** Follows a started rig: READY once its tree runs, STATUS on its state changes. */
  follow(tree: NotifiedTree): void
  /** STOPPING=1 (once) with a line saying why. */
  stopping(reason: string): void
  /** Stops the timer and the feed subscription, then waits (bounded) for the last message. */
  close(): Promise<void>
}

export interface SystemdNotifierOptions {
  env?: NotifyEnv
  pid?: number
  log: Logger
  /** Tests swap the helper. */
  sender?: SdNotifySender
}

/** Without a watchdog the timer only lets rate-limited STATUS lines out. */
const STATUS_TICK_MS = 1000

/**
 * The systemd side of a rig (DESIGN.md §9.3), or null when systemd did not ask for it
 * (no NOTIFY_SOCKET). Started before the rig, so the watchdog pings while the tree
 * starts; the decisions are machines/systemdNotify.policy.ts, this only feeds it time
 * and states and carries out what it says.
 */
export function startSystemdNotifier(opts: SystemdNotifierOptions): SystemdNotifier | null {
  const env = opts.env ?? process.env
  const socket = env.NOTIFY_SOCKET
  if (!socket) return null
  const pid = opts.pid ?? process.pid
  const log = opts.log.child({ actor: 'systemd' })
  const cadence = watchdogCadence(env, pid)
  const sender = opts.sender ?? createSdNotifySender({ socket, pid, log })
  let state = initialNotifyState()
  const step = (event: NotifyEvent) => {
    const out = notifyStep(state, event, cadence)
    state = out.state
    if (out.message) sender.send(out.message)
  }
  log.info({ socket, watchdog: cadence }, cadence ? 'systemd notify: watchdog pings every half WATCHDOG_USEC while the event loop is responsive' : 'systemd notify: no watchdog asked for')

  // The loop-lag timer: a tick that runs late by more than maxLagMs sends no ping; a
  // wedged loop runs none. Owned by this notifier, cleared by close().
  const tickMs = cadence?.tickMs ?? STATUS_TICK_MS
  const timer = setInterval(() => step({ type: 'tick', now: performance.now() }), tickMs)
  timer.unref()
  step({ type: 'tick', now: performance.now() })

  let unsubscribe: (() => void) | undefined
  let closing: Promise<void> | undefined
  return {
    cadence,
    follow(tree) {
      const report = () => {
        const phase = tree.supervisor.state()
        step({ type: 'tree', now: performance.now(), phase, line: statusLine(phase, tree.supervisor.children()) })
      }
      const sub = tree.feed.subscribe((item) => {
        if (item.type === 'state') report()
      })
      unsubscribe = () => sub.unsubscribe()
      // The tree may be running already.
      report()
    },
    stopping(reason) {
      step({ type: 'stopping', now: performance.now(), line: `stopping: ${reason}` })
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer)
        unsubscribe?.()
        await sender.drain()
      })()
      return closing
    },
  }
}
