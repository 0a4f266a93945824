import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process'
import type { Logger } from '../../infra/logger.js'
import { mergeMessages, notifyArgs, type NotifyMessage } from '../../machines/systemdNotify.policy.js'

/**
 * Sends sd_notify messages through systemd's own `systemd-notify` binary: Node has no
 * unix datagram sockets, and a native addon would be one more thing to build on every
 * rig. One helper runs at a time; what arrives meanwhile is merged into the next one
 * (flags accumulate, the newest STATUS wins), so a burst of state changes costs one
 * process and the event loop never waits on any of them.
 *
 * systemd-notify (252) waits until the receiver has taken the message (its BARRIER), which
 * is what lets systemd still find the sender's cgroup; `timeoutMs` bounds that wait.
 * A missing binary is logged once and the rig carries on: a rig without the pings is
 * worse off under a watchdog, but one that crashed over them would be worse still.
 */
export interface SdNotifySender {
  send(message: NotifyMessage): void
  /** Waits (bounded) for what is in flight and queued: the last STATUS/STOPPING before exit. */
  drain(timeoutMs?: number): Promise<void>
}

export interface SdNotifyOptions {
  socket: string
  /** The service's main process: ours. */
  pid: number
  log: Logger
  binary?: string
  timeoutMs?: number
  spawn?: typeof nodeSpawn
}

export function createSdNotifySender(opts: SdNotifyOptions): SdNotifySender {
  const binary = opts.binary ?? 'systemd-notify'
  const timeoutMs = opts.timeoutMs ?? 10_000
  const spawn = opts.spawn ?? nodeSpawn
  const { log } = opts
  let inFlight: ChildProcess | null = null
  let pending: NotifyMessage | null = null
  let disabled = false
  let failuresLogged = 0
  const idleWaiters = new Set<() => void>()

  const settle = (): void => {
    inFlight = null
    if (pending && !disabled) return flush()
    for (const w of idleWaiters) w()
    idleWaiters.clear()
  }

  const flush = (): void => {
    const message = pending!
    pending = null
    let child: ChildProcess
    try {
      // The socket and where to find the binary: the helper needs nothing else of ours.
      const env = { NOTIFY_SOCKET: opts.socket, PATH: process.env.PATH ?? '/usr/bin:/bin' }
      child = spawn(binary, notifyArgs(opts.pid, message), { env, stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (err) {
      disabled = true
      log.warn({ err, binary }, 'cannot run systemd-notify: systemd will not hear READY, STATUS or WATCHDOG from this rig')
      return settle()
    }
    inFlight = child
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 2000) stderr += chunk
    })
    // Owned by this run, cleared when it ends either way.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      settle()
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        disabled = true
        pending = null
        log.warn({ binary, code: err.code }, `${binary} not found: systemd will not hear READY, STATUS or WATCHDOG from this rig (install Debian's "systemd" package)`)
        end()
      }
    })
    child.once('exit', (code, signal) => {
      if ((code !== 0 || signal) && failuresLogged < 3) {
        failuresLogged += 1
        log.warn({ code, signal, stderr: stderr.trim(), socket: opts.socket }, `systemd-notify failed${failuresLogged === 3 ? ' (further failures are not logged)' : ''}`)
      }
      end()
    })
  }

  return {
    send(message) {
      if (disabled) return
      pending = mergeMessages(pending, message)
      if (!inFlight) flush()
    },
    drain(drainMs = 2000) {
      if (!inFlight && !pending) return Promise.resolve()
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, drainMs)
        function done() {
          clearTimeout(timer)
          idleWaiters.delete(done)
          resolve()
        }
        idleWaiters.add(done)
      })
    },
  }
}
