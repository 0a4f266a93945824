import { readdir, readFile } from 'node:fs/promises'
import { waitFor } from './wait.js'

export interface ProcessSeen {
  pid: number
  cmd: string
}

/**
 * Live processes (other than this one) whose command line mentions `needle` — a rig's
 * data dir or recordings dir: what a test checks is gone after a fault or a shutdown.
 * `ffmpegOnly` keeps those whose program is ffmpeg (not their setpriv wrapper).
 */
export async function processesMentioning(needle: string, opts: { ffmpegOnly?: boolean } = {}): Promise<ProcessSeen[]> {
  const out: ProcessSeen[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    // Exited while we looked: not there.
    const cmd = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim()
    if (!cmd.includes(needle)) continue
    if (opts.ffmpegOnly && !/ffmpeg/.test(cmd.split(' ')[0] ?? '')) continue
    out.push({ pid: Number(name), cmd })
  }
  return out
}

/** A line per process for an assertion message. */
export const describeProcesses = (ps: ProcessSeen[]) => ps.map((p) => `${p.pid}: ${p.cmd.slice(0, 160)}`)

/** The state letter of a pid from /proc (`T` = stopped, `Z` = zombie), or null when it is gone. */
export async function procState(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0)
  } catch {
    return null
  }
}

/**
 * Polls until `pid`'s state letter is `state` and returns it, or returns the last one seen
 * (null: gone) after `timeoutMs`, for the caller to assert on. A signal is delivered
 * asynchronously: right after `process.kill(pid, 'SIGSTOP')` the state still reads `R`
 * for a few ms, longer on a busy machine. `timeoutMs` is a hang guard, not a timing bound.
 */
export async function waitProcState(pid: number, state: string, timeoutMs = 5000): Promise<string | null> {
  let seen: string | null = null
  await waitFor(async () => (seen = await procState(pid)) === state, timeoutMs, `pid ${pid} in state ${state}`, 10).catch(() => {})
  return seen
}

/**
 * Whether something listens on TCP `port` (any address), read from /proc/net/tcp{,6}: no
 * connection is made, so a one-shot listener (`ffmpeg -listen 1`) is not used up by asking.
 * A process just spawned listens only once it got that far: poll this, do not sleep.
 */
export async function isListening(port: number): Promise<boolean> {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n').slice(1)) {
      const [, address, , state] = line.trim().split(/\s+/)
      if (address?.endsWith(local) && state === '0A') return true
    }
  }
  return false
}
