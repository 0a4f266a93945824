import * as os from 'node:os'
import { systemClock, type Clock } from '../../infra/clock.js'
import { systemDisk, type DiskProbe } from '../../infra/disk.js'
import type { ResourceSample } from '../../machines/governor.machine.js'

export interface SystemInfo {
  cpus(): Array<{ times: { user: number; nice: number; sys: number; idle: number; irq: number } }>
  totalmem(): number
  /** Linux: MemAvailable (what can be had without swapping), not MemFree. */
  freemem(): number
  cpuUsage(): NodeJS.CpuUsage
}

const nodeSystem: SystemInfo = {
  cpus: () => os.cpus(),
  totalmem: () => os.totalmem(),
  freemem: () => os.freemem(),
  cpuUsage: () => process.cpuUsage(),
}

export interface SamplerDeps {
  /** The data dir: its filesystem is the one recordings fill. */
  dataDir: string
  disk?: DiskProbe
  clock?: Clock
  system?: SystemInfo
}

interface CpuMark {
  busy: number
  total: number
  processMicros: number
  at: number
}

const round1 = (v: number) => Math.round(v * 10) / 10

/**
 * Reads CPU (system and this process), memory and the data dir's free space. CPU is a
 * rate, so it is the difference to the previous call: the first call of a sampler
 * has no CPU reading (null), which the governor treats as "unchanged", not as idle.
 */
export function createSystemSampler(deps: SamplerDeps): () => Promise<ResourceSample> {
  const disk = deps.disk ?? systemDisk
  const clock = deps.clock ?? systemClock
  const sys = deps.system ?? nodeSystem
  const mark = (): CpuMark => {
    let busy = 0
    let total = 0
    for (const c of sys.cpus()) {
      const t = c.times
      const all = t.user + t.nice + t.sys + t.idle + t.irq
      total += all
      busy += all - t.idle
    }
    const u = sys.cpuUsage()
    return { busy, total, processMicros: u.user + u.system, at: clock.monotonic() }
  }
  let previous: CpuMark | null = null

  return async () => {
    const errors: string[] = []
    const now = mark()
    let cpuPercent: number | null = null
    let processCpuPercent: number | null = null
    if (previous && now.total > previous.total) {
      cpuPercent = round1((100 * (now.busy - previous.busy)) / (now.total - previous.total))
      const wallMs = now.at - previous.at
      const ncpu = Math.max(1, sys.cpus().length)
      if (wallMs > 0) processCpuPercent = round1((100 * (now.processMicros - previous.processMicros)) / 1000 / wallMs / ncpu)
    }
    previous = now
    const total = sys.totalmem()
    const memoryPercent = total > 0 ? round1((100 * (total - sys.freemem())) / total) : null
    let diskFreeBytes: number | null = null
    try {
      diskFreeBytes = (await disk.free(deps.dataDir)).freeBytes
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      errors.push(`free space of ${deps.dataDir}: ${e.code ?? e.message}`)
    }
    return { cpuPercent, processCpuPercent, memoryPercent, diskFreeBytes, at: clock.now(), errors }
  }
}
