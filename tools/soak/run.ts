/**
 * `npm run soak -- --minutes M`: a real `vigil start` used for M minutes (tools/soak/drivers.ts)
 * while its RSS, heap, descriptors, handles and processes are sampled; the slopes of those
 * series are judged against stated bounds (tools/soak/trend.ts). Then an ordered stop: the
 * rig must exit 0 in its grace and leave no process behind.
 */
import { cpus, loadavg } from 'node:os'
import { DEFAULT_DRIVERS, emptyActivity, runDrivers, type DriverOptions, type SoakActivity } from './drivers.js'
import { startSoakRig, type CameraSize, type ChildView, type SoakRig } from './rig.js'
import { judgeSoak, judgementProblems, metricValue, type SoakJudgement, type SoakSample } from './trend.js'
import { cmdline, descendants, procTicks } from '../procs.js'
import { isAlive } from '../../test/helpers/wait.js'

export interface SoakOptions {
  minutes: number
  sampleS: number
  /** Readings within a sample (their floor is the sample). */
  readS: number
  warmupS: number
  camera: CameraSize
  drivers: DriverOptions
}

export interface SoakResult {
  startedAt: string
  options: SoakOptions
  machine: { cpus: number; node: string }
  samples: SoakSample[]
  judgement: SoakJudgement
  activity: SoakActivity
  /** Restarts per child over the soak (the churn causes some: audio and camera are killed). */
  restarts: Record<string, number>
  stop: { code: number | null; signal: string | null; forced: boolean; ms: number; orphans: number[] }
  /** Why the soak failed, besides a slope over its bound; empty when it passed. */
  problems: string[]
}

export const DEFAULT_SOAK: SoakOptions = {
  minutes: 60,
  sampleS: 60,
  readS: 5,
  warmupS: 300,
  camera: { width: 320, height: 240, fps: 15 },
  drivers: DEFAULT_DRIVERS,
}

const MB = 1024 * 1024

async function read(rig: SoakRig, t0: number): Promise<{ sample: SoakSample; pids: number[] }> {
  const res = await fetch(`${rig.webUrl}/metrics`, { headers: { authorization: `Bearer ${rig.token}` }, signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`)
  const text = await res.text()
  const need = (name: string) => {
    const v = metricValue(text, name)
    if (v === null) throw new Error(`/metrics has no ${name}`)
    return v
  }
  const pids = await descendants(rig.pid)
  let treeKb = 0
  let natsKb = 0
  let mediaKb = 0
  for (const p of [rig.pid, ...pids]) {
    const kb = (await procTicks(p))?.rssKb ?? 0
    treeKb += kb
    if (p === rig.pid) continue
    // The two long-lived children whose own growth a tree trend could hide behind.
    const argv = await cmdline(p)
    if (/(^|\/)nats-server /.test(argv)) natsKb += kb
    else if (argv.includes('actors/media/server.ts')) mediaKb += kb
  }
  return {
    pids,
    sample: {
      atS: Math.round((Date.now() - t0) / 1000),
      rssMb: need('vigil_process_resident_memory_bytes') / MB,
      heapMb: need('vigil_nodejs_heap_size_used_bytes') / MB,
      heapTotalMb: need('vigil_nodejs_heap_size_total_bytes') / MB,
      externalMb: need('vigil_nodejs_external_memory_bytes') / MB,
      fds: need('vigil_process_open_fds'),
      handles: need('vigil_nodejs_active_handles_total'),
      children: pids.length,
      treeRssMb: treeKb / 1024,
      natsRssMb: natsKb / 1024,
      mediaRssMb: mediaKb / 1024,
      load1: loadavg()[0]!,
    },
  }
}

/**
 * One sample: the floor of readings taken every `readS` over the sample period. A single
 * reading lands wherever the drivers are (a recording's ffmpeg and pipes open or not, a
 * viewer's socket, the GC's sawtooth), which is noise a slope would pick up; the floor is
 * what the rig holds when nothing passing is open, and a leak raises the floor.
 */
function floorOf(readings: SoakSample[]): SoakSample {
  const last = readings[readings.length - 1]!
  const min = (k: keyof SoakSample) => Math.min(...readings.map((r) => r[k]))
  return {
    atS: last.atS,
    rssMb: min('rssMb'),
    heapMb: min('heapMb'),
    heapTotalMb: min('heapTotalMb'),
    externalMb: min('externalMb'),
    fds: min('fds'),
    handles: min('handles'),
    children: min('children'),
    treeRssMb: min('treeRssMb'),
    natsRssMb: min('natsRssMb'),
    mediaRssMb: min('mediaRssMb'),
    load1: last.load1,
  }
}

export async function runSoak(o: SoakOptions, progress: (line: string) => void): Promise<SoakResult> {
  const problems: string[] = []
  const startedAt = new Date().toISOString()
  progress(`soak: starting vigil (camera ${o.camera.width}x${o.camera.height}@${o.camera.fps}) for ${o.minutes} min, a sample every ${o.sampleS} s`)
  const rig = await startSoakRig(o.camera)
  progress(`soak: vigil pid ${rig.pid} ready, web ${rig.webUrl}`)
  const before = new Map((await rig.children()).map((c) => [c.id, c.restarts]))
  const activity = emptyActivity()
  const stopDrivers = new AbortController()
  let died: string | null = null
  void rig.exited.then(({ code, signal }) => {
    if (!stopDrivers.signal.aborted) {
      died = `vigil exited during the soak (${code ?? signal})`
      stopDrivers.abort()
    }
  })
  const drivers = runDrivers(rig, o.drivers, activity, stopDrivers.signal)

  const samples: SoakSample[] = []
  let lastPids: number[] = []
  const t0 = Date.now()
  const end = t0 + o.minutes * 60_000
  while (!died) {
    try {
      const readings: SoakSample[] = []
      for (let k = 0; k < Math.max(1, Math.round(o.sampleS / o.readS)) && !died; k++) {
        if (k > 0 || samples.length > 0) await new Promise((r) => setTimeout(r, o.readS * 1000))
        const one = await read(rig, t0)
        readings.push(one.sample)
        lastPids = one.pids
      }
      if (readings.length === 0) break
      const s = { sample: floorOf(readings) }
      samples.push(s.sample)
      const a = activity
      progress(
        `soak: ${(s.sample.atS / 60).toFixed(1)} min  rss ${s.sample.rssMb.toFixed(1)} MB  heap ${s.sample.heapMb.toFixed(1)} MB  fds ${s.sample.fds}  handles ${s.sample.handles}  ` +
          `procs ${s.sample.children}  tree ${s.sample.treeRssMb.toFixed(0)} MB  load ${s.sample.load1.toFixed(2)}  |  cycles ${a.cycles.ok}/${a.cycles.ok + a.cycles.failed}  ws ${a.ws.sessions}  live ${a.live.views} (${a.live.refused} refused)  kills ${a.churn.audioKills + a.churn.cameraKills}`,
      )
    } catch (err) {
      problems.push(`sample at ${((Date.now() - t0) / 60_000).toFixed(1)} min failed: ${(err as Error).message}`)
      progress(`soak: ${problems[problems.length - 1]}`)
    }
    if (Date.now() >= end) break
  }
  stopDrivers.abort()
  await drivers
  if (died) problems.push(died)

  const after: ChildView[] = died ? [] : await rig.children()
  const restarts: Record<string, number> = {}
  for (const c of after) restarts[c.id] = c.restarts - (before.get(c.id) ?? 0)

  progress('soak: stopping vigil (SIGTERM)')
  const t = Date.now()
  const stopped = await rig.stop()
  const stopMs = Date.now() - t
  // Its children end with it (ordered stop, then pdeathsig): give the last ones a moment.
  const orphanDeadline = Date.now() + 10_000
  let orphans = lastPids.filter(isAlive)
  while (orphans.length > 0 && Date.now() < orphanDeadline) {
    await new Promise((r) => setTimeout(r, 200))
    orphans = orphans.filter(isAlive)
  }
  if (!died && (stopped.code !== 0 || stopped.forced)) problems.push(`vigil's stop: exit ${stopped.code ?? stopped.signal}${stopped.forced ? ' (SIGKILL after the grace)' : ''}`)
  if (orphans.length > 0) problems.push(`processes left after vigil exited: ${orphans.join(', ')}`)

  const c = activity.cycles
  if (c.ok === 0) problems.push('no record cycle succeeded')
  else if (c.failed > Math.max(1, c.ok * 0.05)) problems.push(`${c.failed} of ${c.ok + c.failed} record cycles failed: ${JSON.stringify(c.errors)}`)
  if (activity.ws.sessions === 0 && o.drivers.viewers > 0) problems.push('no WebSocket viewer connected')
  if (activity.rotations.failed > 0) problems.push(`${activity.rotations.failed} logs.rotate commands failed`)

  const judgement = judgeSoak(samples, o.warmupS)
  problems.push(...judgementProblems(judgement))
  if (!judgement.judged) progress(`soak: only ${(judgement.windowS / 60).toFixed(0)} min after the warm-up: slopes reported, not judged (20 min needed)`)

  return {
    startedAt,
    options: o,
    machine: { cpus: cpus().length, node: process.version },
    samples,
    judgement,
    activity,
    restarts,
    stop: { code: stopped.code, signal: stopped.signal, forced: stopped.forced, ms: stopMs, orphans },
    problems,
  }
}

/**
 * A stored result judged again by today's bounds (`vigil soak --docs-only`): the samples are
 * what was measured; the run's own problems (a death, an unclean stop, failed cycles) stay.
 */
export function rejudged(r: SoakResult): SoakResult {
  const judgement = judgeSoak(r.samples, r.options.warmupS)
  const before = new Set(judgementProblems(r.judgement.natsCeiling ? r.judgement : { ...r.judgement, natsCeiling: { ceilingMb: 0, maxMb: null, verdict: 'none' } }))
  const own = r.problems.filter((p) => !before.has(p))
  return { ...r, judgement, problems: [...own, ...judgementProblems(judgement)] }
}
