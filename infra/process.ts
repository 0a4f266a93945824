import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import type { Logger } from './logger.js'
import { findPriorityTools, priorityFor, setOomScoreAdj, warnMissingTools, withPriority } from './priority.js'
import { redactCredentials } from './redaction.js'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** Operator words: "exited with code 1", "killed by SIGKILL". */
  reason: string
  /** A clean exit (code 0) as opposed to a crash or a kill. */
  normal: boolean
}

export interface OwnedProcess {
  readonly pid: number
  readonly name: string
  readonly child: ChildProcess
  readonly stdin: Writable | null
  readonly stdout: Readable | null
  readonly stderr: Readable | null
  /** Resolves once, when the process is gone. Never rejects. */
  readonly exited: Promise<ExitInfo>
  readonly isRunning: () => boolean
  /** Last stderr lines, for "why did it die" messages. */
  stderrTail(): string
  /** Signal the whole process group. */
  signal(sig: NodeJS.Signals): void
  /** SIGTERM (or `sig`) and SIGCONT, then SIGKILL after `graceMs`. */
  stop(graceMs: number, sig?: NodeJS.Signals): Promise<ExitInfo>
}

export interface SpawnOptions {
  name: string
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Keep stdin open as a pipe (ffmpeg reads commands there) or ignore it. */
  stdin?: 'pipe' | 'ignore'
  /** Extra fds after stdio, e.g. 'pipe' for ffmpeg's frame output on fd 3, 'ipc' for node. */
  extraStdio?: Array<'pipe' | 'ipc'>
  onStderrLine?: (line: string) => void
  log?: Logger
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
  if (signal) return { code, signal, reason: `killed by ${signal}`, normal: false }
  if (code === 0) return { code, signal, reason: 'exited with code 0', normal: true }
  return { code, signal, reason: `exited with code ${code ?? 'unknown'}`, normal: false }
}

// The kernel kills our children when we die, even by SIGKILL (no orphan ffmpeg).
const SETPRIV = '/usr/bin/setpriv'
const canSetPdeathsig = process.platform === 'linux' && existsSync(SETPRIV)

const STDERR_TAIL_LINES = 20
const priorityTools = findPriorityTools()

/**
 * systemd's notify variables are the supervisor's alone: a child that saw NOTIFY_SOCKET
 * could send READY or WATCHDOG=1 for us (ffmpeg does not, but a media server's node, a
 * wrapper script or a future child might), keeping a wedged supervisor "alive".
 */
export const SUPERVISOR_ONLY_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const

/** The environment a child gets: `env` without the supervisor-only variables. */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env }
  for (const name of SUPERVISOR_ONLY_ENV) delete out[name]
  return out
}

/**
 * Owns every OS process vigil starts: each is registered here until it exits, so
 * `killAll` on a forced exit leaves nothing behind and `pids` can be reported.
 */
export class ProcessOwner {
  readonly #live = new Map<number, OwnedProcess>()

  spawn(command: string, args: readonly string[], opts: SpawnOptions): OwnedProcess {
    // The recording comes first: CPU/I/O priority by the one table in priority.ts.
    const priority = priorityFor(opts.name)
    const p = withPriority(command, args, priority, priorityTools)
    if (priority.nice !== 0 || priority.ioIdle) warnMissingTools(priorityTools, opts.log)
    const [file, argv] = canSetPdeathsig
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', p.command, ...p.args]]
      : [p.command, p.args]
    const stdio: StdioOptions = [opts.stdin ?? 'ignore', 'pipe', 'pipe', ...(opts.extraStdio ?? [])]
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      // Every child of the rig is spawned here, so this is the one place they lose NOTIFY_SOCKET.
      env: childEnv(opts.env ?? process.env),
      stdio,
      // Own process group: a terminal's Ctrl-C reaches only the supervisor, which
      // then stops children in order; and a group kill takes grandchildren too.
      detached: true,
    })
    const tail: string[] = []
    let pending = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split(/\r?\n|\r/)
      pending = lines.pop() ?? ''
      for (const raw of lines) {
        if (raw.length === 0) continue
        // Redacted at the source: ffmpeg echoes its input URL (credentials, `?sign=`) in
        // errors, and every "why did it die" (alerts, status, logs) is built from these lines.
        const line = redactCredentials(raw)
        tail.push(line)
        if (tail.length > STDERR_TAIL_LINES) tail.shift()
        opts.onStderrLine?.(line)
      }
    })
    let running = true
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err) => {
        // spawn failure (ENOENT): there is no exit event to wait for.
        if (child.pid === undefined) {
          running = false
          tail.push(err.message)
          resolve({ code: null, signal: null, reason: `could not start ${command}: ${err.message}`, normal: false })
        }
      })
      child.once('exit', (code, signal) => {
        running = false
        if (pending) tail.push(redactCredentials(pending))
        resolve(describeExit(code, signal))
      })
    })
    const pid = child.pid ?? -1
    const owned: OwnedProcess = {
      pid,
      name: opts.name,
      child,
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      isRunning: () => running,
      stderrTail: () => tail.join('\n'),
      signal: (sig) => {
        if (!running || pid < 0) return
        try {
          process.kill(-pid, sig)
        } catch {
          // The group is already gone: the exit event is on its way.
        }
      },
      stop: async (graceMs, sig = 'SIGTERM') => {
        if (!running) return exited
        owned.signal(sig)
        // A stopped (SIGSTOPped) process cannot act on the SIGTERM: wake it, so it exits
        // cleanly now (ffmpeg writes the fragment it holds) instead of at the SIGKILL.
        if (sig !== 'SIGKILL') owned.signal('SIGCONT')
        // The grace timer is owned by this call and cleared whichever way it ends.
        let timer: NodeJS.Timeout | undefined
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            owned.signal('SIGKILL')
            resolve()
          }, graceMs)
        })
        await Promise.race([exited, killed])
        clearTimeout(timer)
        return exited
      },
    }
    if (pid > 0) {
      void setOomScoreAdj(pid, priority.oomScoreAdj, opts.log)
      this.#live.set(pid, owned)
      opts.log?.debug({ pid, command, name: opts.name }, 'process started')
      void exited.then((info) => {
        this.#live.delete(pid)
        opts.log?.debug({ pid, name: opts.name, reason: info.reason }, 'process exited')
      })
    }
    return owned
  }

  pids(): number[] {
    return [...this.#live.keys()]
  }

  /** Last resort on a forced exit: SIGKILL every process still owned. */
  killAll(): void {
    for (const p of this.#live.values()) p.signal('SIGKILL')
  }
}
