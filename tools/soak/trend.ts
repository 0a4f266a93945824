/**
 * The soak's verdict, pure: least-squares slopes of each sampled series per hour, judged
 * against stated bounds. A leak is a trend, not a level: a rig that settles at 120 MB is
 * fine, one that grows 1 MB per record cycle is not. The first minutes (warm-up: JIT,
 * pools, first recordings, caches filling) are left out of the fit.
 */

/** One minute's reading of the rig under soak. */
export interface SoakSample {
  /** Seconds since the rig was ready. */
  atS: number
  /** The vigil process (`process_resident_memory_bytes`), MB. */
  rssMb: number
  /** V8 heap in use after whatever GC ran (`nodejs_heap_size_used_bytes`), MB. */
  heapMb: number
  /** V8 heap reserved (`nodejs_heap_size_total_bytes`), MB: context for RSS, not judged. */
  heapTotalMb: number
  /** Memory of Buffers and other objects outside the V8 heap (`nodejs_external_memory_bytes`), MB: context, not judged. */
  externalMb: number
  /** Open file descriptors of the vigil process. */
  fds: number
  /** libuv handles Node keeps alive (sockets, timers, child pipes). */
  handles: number
  /** Processes under vigil (ffmpeg ×n, the media server's node, nats-server, systemd-notify…). */
  children: number
  /** RSS of vigil and everything under it, MB. */
  treeRssMb: number
  /** The embedded nats-server's RSS, MB (context: JetStream's indexes grow with its streams, to their limits). */
  natsRssMb: number
  /** The media server's (node-media-server) RSS, MB (context). */
  mediaRssMb: number
  /** 1-minute load average of the machine when sampled (context, not judged). */
  load1: number
}

export type SoakMetric = 'rssMb' | 'heapMb' | 'fds' | 'handles' | 'children' | 'treeRssMb' | 'treeLessNatsRssMb'

/** A judged series' value in one sample: the sampled fields, and the tree without the nats-server. */
export function metricOf(s: SoakSample, metric: SoakMetric): number {
  if (metric === 'treeLessNatsRssMb') return s.treeRssMb - (s.natsRssMb ?? 0)
  return s[metric]
}

export interface SoakBound {
  metric: SoakMetric
  /** The largest acceptable slope, in the metric's unit per hour. */
  maxPerHour: number
  unit: string
}

/**
 * Stated bounds (per hour of use). RSS and heap sample the GC's sawtooth, so a flat series
 * still fits a slope of a few MB/h over an hour; the bounds sit above that noise (measured:
 * docs/BENCHMARKS.md "soak") and below what a real per-cycle leak gives (a record cycle every
 * 25 s is ~144 cycles/h: leaking 100 KB each is 14 MB/h). Descriptors, handles and child
 * processes are integers that must come back to the same count: any steady growth is a leak.
 */
export const SOAK_BOUNDS: readonly SoakBound[] = [
  { metric: 'rssMb', maxPerHour: 12, unit: 'MB/h' },
  { metric: 'heapMb', maxPerHour: 6, unit: 'MB/h' },
  // The nats-server is held to a ceiling instead (NATS_CEILING_MB): its memory follows its
  // stores' blocks, a sawtooth whose period at a rig's pace is hours.
  { metric: 'treeLessNatsRssMb', maxPerHour: 24, unit: 'MB/h' },
  { metric: 'fds', maxPerHour: 3, unit: 'fds/h' },
  { metric: 'handles', maxPerHour: 3, unit: 'handles/h' },
  { metric: 'children', maxPerHour: 1, unit: 'processes/h' },
]

/**
 * The embedded nats-server's RSS never goes over this, MB. nats-server 2.9's file store holds
 * the block it writes to (up to 8 MB) in memory, and a stream of one message per subject
 * (the rig's state, its vigil_rigs entry) loads it on every write: its memory rises as those
 * blocks fill and falls when the next starts, over hours at a rig's pace, so an hour's slope
 * says nothing. `vigil soak --nats-store` drives the same writes through several blocks in
 * minutes: the top of that sawtooth (docs/BENCHMARKS.md "nats-server under a rig's writes")
 * with room for the GC's timing. A leak passes through any ceiling in the end; this one
 * catches it within the soak once it is over the top a healthy server reaches.
 */
export const NATS_CEILING_MB = 64

export interface CeilingVerdict {
  ceilingMb: number
  /** null: no sample saw a nats-server (a rig on an external cluster). */
  maxMb: number | null
  verdict: 'pass' | 'fail' | 'none'
}

/** Below this much fitted time a slope says little about an hour: reported, not judged. */
export const MIN_JUDGED_S = 20 * 60

/** Least-squares slope of `ys` over `xsS` (seconds), per hour; null with fewer than 3 points or no spread in x. */
export function slopePerHour(xsS: readonly number[], ys: readonly number[]): number | null {
  const n = Math.min(xsS.length, ys.length)
  if (n < 3) return null
  let sx = 0
  let sy = 0
  for (let i = 0; i < n; i++) {
    sx += xsS[i]!
    sy += ys[i]!
  }
  const mx = sx / n
  const my = sy / n
  let sxx = 0
  let sxy = 0
  for (let i = 0; i < n; i++) {
    const dx = xsS[i]! - mx
    sxx += dx * dx
    sxy += dx * (ys[i]! - my)
  }
  if (sxx === 0) return null
  return (sxy / sxx) * 3600
}

export interface SlopeVerdict {
  metric: SoakMetric
  unit: string
  maxPerHour: number
  /** null: too few samples after the warm-up to fit. */
  perHour: number | null
  first: number | null
  last: number | null
  /** 'pass' | 'fail'; 'short' when the fitted window is under MIN_JUDGED_S (not judged). */
  verdict: 'pass' | 'fail' | 'short'
}

export interface SoakJudgement {
  /** Samples fitted: those at or after the warm-up. */
  fitted: number
  windowS: number
  slopes: SlopeVerdict[]
  /** The embedded nats-server's RSS against NATS_CEILING_MB, over every sample (warm-up too). */
  natsCeiling: CeilingVerdict
  /** False when any judged slope is over its bound or the nats-server over its ceiling. */
  ok: boolean
  /** True when the window was long enough to judge at all. */
  judged: boolean
}

export function judgeSoak(samples: readonly SoakSample[], warmupS: number, bounds: readonly SoakBound[] = SOAK_BOUNDS, natsCeilingMb: number = NATS_CEILING_MB): SoakJudgement {
  const kept = samples.filter((s) => s.atS >= warmupS)
  const windowS = kept.length >= 2 ? kept[kept.length - 1]!.atS - kept[0]!.atS : 0
  const judged = windowS >= MIN_JUDGED_S
  const xs = kept.map((s) => s.atS)
  const slopes = bounds.map((b): SlopeVerdict => {
    const ys = kept.map((s) => metricOf(s, b.metric))
    const perHour = slopePerHour(xs, ys)
    const verdict = !judged || perHour === null ? 'short' : perHour > b.maxPerHour ? 'fail' : 'pass'
    return { metric: b.metric, unit: b.unit, maxPerHour: b.maxPerHour, perHour, first: ys[0] ?? null, last: ys[ys.length - 1] ?? null, verdict }
  })
  const nats = samples.map((s) => s.natsRssMb ?? 0).filter((x) => x > 0)
  const maxMb = nats.length > 0 ? Math.max(...nats) : null
  const natsCeiling: CeilingVerdict = { ceilingMb: natsCeilingMb, maxMb, verdict: maxMb === null ? 'none' : maxMb > natsCeilingMb ? 'fail' : 'pass' }
  return { fitted: kept.length, windowS, slopes, natsCeiling, ok: slopes.every((s) => s.verdict !== 'fail') && natsCeiling.verdict !== 'fail', judged }
}

/** What a judgement fails on, one line each (the soak's problems). */
export function judgementProblems(j: SoakJudgement): string[] {
  const out = j.slopes.filter((s) => s.verdict === 'fail').map((s) => `${s.metric} grows ${s.perHour!.toFixed(2)} ${s.unit} (bound ${s.maxPerHour})`)
  if (j.natsCeiling.verdict === 'fail') out.push(`nats-server RSS reached ${j.natsCeiling.maxMb!.toFixed(1)} MB (ceiling ${j.natsCeiling.ceilingMb})`)
  return out
}

/** Prometheus text → the value of an unlabelled (or first-labelled) series, or null. */
export function metricValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1))
    if (Number.isFinite(value)) return value
  }
  return null
}
