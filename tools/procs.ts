/**
 * What the bench and the soak need of processes they start outside a ProcessOwner: a
 * registry that SIGKILLs whatever is still alive when the tool exits (normally, on an
 * error, on Ctrl-C), and /proc readings (children, argv, CPU ticks, RSS).
 */
import { rmSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { isAlive } from '../test/helpers/wait.js'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// ---- reaping -------------------------------------------------------------------------------------
// Every process the bench starts outside a ProcessOwner (rig processes, `vigil start`, the PM2
// daemon and its app) is registered here until it is known to be gone. On any exit of the bench
// (normal end, an error, Ctrl-C) whatever is still registered gets SIGKILL, by pid.

const owned = new Set<number>()
const ownedDirs = new Set<string>()
let reaperInstalled = false
let toolName = 'vigil'

/** How the reaper names the tool when it reports a signal (`bench`, `soak`). */
export function nameReaper(name: string): void {
  toolName = name
}

function reapAll(): void {
  for (const pid of owned) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  owned.clear()
  for (const dir of ownedDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
  ownedDirs.clear()
}

/** A temp dir removed if still there when the bench process exits (its own code removes it normally). */
export function ownDir(dir: string): void {
  ownedDirs.add(dir)
  installReaper()
}

/** Registers `pid` to be SIGKILLed if it is still alive when the bench process exits. */
export function ownPid(pid: number | undefined): void {
  if (pid === undefined || pid <= 0) return
  owned.add(pid)
  installReaper()
}

function installReaper(): void {
  if (reaperInstalled) return
  reaperInstalled = true
  process.on('exit', reapAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      process.stderr.write(`${toolName}: ${sig}, killing the processes it started\n`)
      reapAll()
      process.exit(130)
    })
}

/** The pid is gone (or was stopped in order): no longer reaped. */
export function disownPid(pid: number | undefined): void {
  if (pid !== undefined) owned.delete(pid)
}

/** SIGKILL `pid` if alive and wait (up to `timeoutMs`) until it is gone; true if it is gone. */
export async function killAndWait(pid: number, timeoutMs = 5000): Promise<boolean> {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone already
  }
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid) && Date.now() < deadline) await sleep(20)
  const gone = !isAlive(pid)
  if (gone) disownPid(pid)
  return gone
}

/** Direct children of `ppid` (from /proc/<ppid>/task/<tid>/children; cheap enough to poll). */
export async function childPids(ppid: number): Promise<number[]> {
    const out: number[] = []
  const tasks = await readdir(`/proc/${ppid}/task`).catch(() => [] as string[])
  for (const t of tasks) {
    const text = await readFile(`/proc/${ppid}/task/${t}/children`, 'utf8').catch(() => '')
    for (const p of text.split(' ')) if (p.trim()) out.push(Number(p))
  }
  return out
}

/** argv of a process joined by spaces; '' when it is gone. */
export async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ')
}

/** A child of `ppid` whose argv contains `marker` and whose pid is not `not`. */
export async function findChild(ppid: number, marker: string, not?: number): Promise<number | null> {
  for (const p of await childPids(ppid)) {
    if (p === not) continue
    if ((await cmdline(p)).includes(marker)) return p
  }
  return null
}

// ---- /proc sampling ---------------------------------------------------------------------------

const CLK_TCK = 100

export async function procTicks(pid: number): Promise<{ ticks: number; rssKb: number; ppid: number } | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // rest[0] is state (field 3); utime = field 14, stime = field 15, rss pages = field 24
    const ppid = Number(rest[1])
    const ticks = Number(rest[11]) + Number(rest[12])
    const rssKb = Number(rest[21]) * 4
    return { ticks, rssKb, ppid }
  } catch {
    return null
  }
}

export async function descendants(root: number): Promise<number[]> {
    const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number)
  const parent = new Map<number, number>()
  for (const p of pids) {
    const s = await procTicks(p)
    if (s) parent.set(p, s.ppid)
  }
  const out: number[] = []
  const frontier = [root]
  while (frontier.length > 0) {
    const p = frontier.pop()!
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c)
      frontier.push(c)
    }
  }
  return out
}

export { CLK_TCK }

