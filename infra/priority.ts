import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import type { Logger } from './logger.js'

/**
 * The recording comes first (DESIGN.md §9.3): which OS process runs at which CPU, I/O and
 * OOM priority, in one table keyed by the name each actor spawns it under. Applied by
 * ProcessOwner.spawn, so no actor chooses its own.
 *
 * - `recording`: the camera's and the recorder's ffmpeg (and the events-mode pre-roll
 *   buffer, whose segments become the session's first seconds) keep the default priority.
 * - `background`: what can lose a second without losing footage — the audio meter, the
 *   motion snapshot encoder, the media server (preview and the web's live view) — runs at
 *   nice +10, I/O class idle, and `oom_score_adj` 500, so under CPU, disk or memory
 *   pressure the kernel slows or kills them before the recording. The recorder reads the
 *   camera's stream through the media server, so the media server is not starved outright:
 *   nice +10 still gets CPU whenever a core is not saturated by normal-priority work, and its
 *   relay costs a few percent of a core.
 */
export type PriorityClass = 'recording' | 'background'

export interface ProcessPriority {
  /** Added niceness (0: inherit). */
  nice: number
  /** `ionice -c 3` (idle) when true. */
  ioIdle: boolean
  /** Written to /proc/<pid>/oom_score_adj when not 0. */
  oomScoreAdj: number
}

export const PRIORITY_CLASSES: Readonly<Record<PriorityClass, ProcessPriority>> = {
  recording: { nice: 0, ioIdle: false, oomScoreAdj: 0 },
  background: { nice: 10, ioIdle: true, oomScoreAdj: 500 },
}

/** The one table: process name (SpawnOptions.name) → class. A name not here runs as `recording`. */
export const PROCESS_PRIORITY: Readonly<Record<string, PriorityClass>> = {
  camera: 'recording',
  'recorder-ffmpeg': 'recording',
  'prebuffer-ffmpeg': 'recording',
  'nats-server': 'recording',
  'ffmpeg-audio': 'background',
  'ffmpeg-snapshot': 'background',
  media: 'background',
}

export function priorityFor(name: string): ProcessPriority {
  return PRIORITY_CLASSES[PROCESS_PRIORITY[name] ?? 'recording']
}

export interface PriorityTools {
  /** Absolute paths, or null when the tool is missing (the priority is then skipped). */
  ionice: string | null
  nice: string | null
}

/** util-linux's ionice and coreutils' nice: on every Debian; without them a child runs at normal priority. */
export function findPriorityTools(exists: (path: string) => boolean = existsSync): PriorityTools {
  const first = (names: string[]) => names.find((p) => exists(p)) ?? null
  return { ionice: first(['/usr/bin/ionice', '/bin/ionice']), nice: first(['/usr/bin/nice', '/bin/nice']) }
}

/**
 * The command line that starts `command` at `p`: `ionice -t -c 3 nice -n 10 command …`. Both
 * exec in place (the pid stays the child's). `-t`: an ioprio_set refused (a container
 * without the right) still runs the command instead of failing it; nice can always lower
 * a priority. Pure.
 */
export function withPriority(command: string, args: readonly string[], p: ProcessPriority, tools: PriorityTools): { command: string; args: string[]; applied: { nice: boolean; ioIdle: boolean } } {
  let argv = [command, ...args]
  const applied = { nice: false, ioIdle: false }
  if (p.nice !== 0 && tools.nice) {
    argv = [tools.nice, '-n', String(p.nice), ...argv]
    applied.nice = true
  }
  if (p.ioIdle && tools.ionice) {
    argv = [tools.ionice, '-t', '-c', '3', ...argv]
    applied.ioIdle = true
  }
  return { command: argv[0]!, args: argv.slice(1), applied }
}

let oomWarned = false
let toolsWarned = false

/** A missing ionice/nice is said once per process, not per spawn. */
export function warnMissingTools(tools: PriorityTools, log: Logger | undefined): void {
  if (toolsWarned || (tools.ionice && tools.nice)) return
  toolsWarned = true
  log?.warn({ ionice: tools.ionice, nice: tools.nice }, 'ionice or nice not found: background processes run at normal CPU/I/O priority')
}

/** Raises a child's OOM score; a refusal (no /proc, a sandbox) is logged once and is not fatal. */
export async function setOomScoreAdj(pid: number, value: number, log: Logger | undefined): Promise<void> {
  if (value === 0 || pid <= 0) return
  try {
    await writeFile(`/proc/${pid}/oom_score_adj`, String(value))
  } catch (err) {
    // ESRCH/ENOENT: the child is already gone; nothing to say.
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ESRCH' || oomWarned) return
    oomWarned = true
    log?.warn({ err, pid, value }, 'could not raise oom_score_adj of a background process (logged once)')
  }
}
