import { readdir, readFile } from 'node:fs/promises'

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
