/**
 * The governor's decision, pure: which level each resource dimension is at, with
 * hysteresis. A dimension goes up at once and comes down only after its value is back
 * past the threshold by a margin for `samples` samples in a row, so a value hovering
 * at a threshold does not flap the preview on and off. The worst dimension wins.
 */

export type Level = 'NORMAL' | 'WARN' | 'DEGRADE' | 'CRITICAL'
export const LEVELS: readonly Level[] = ['NORMAL', 'WARN', 'DEGRADE', 'CRITICAL']
export type Dimension = 'cpu' | 'memory' | 'disk'
export const DIMENSIONS: readonly Dimension[] = ['cpu', 'memory', 'disk']
export type PreviewLevel = 'full' | 'low' | 'off'

export interface LevelThresholds {
  warn: number
  degrade: number
  critical: number
}

export interface Thresholds {
  /** Free bytes below which each level starts. */
  diskBytes: LevelThresholds
  /** Busy percent above which each level starts. */
  cpuPercent: LevelThresholds
  memoryPercent: LevelThresholds
}

export interface Hysteresis {
  /** CPU and memory: percentage points below the threshold to count as back. */
  marginPercent: number
  /** Disk: fraction of the threshold above it to count as back (0.1: 10 % more free). */
  marginDisk: number
  /** Consecutive samples back past the margin before the level drops. */
  samples: number
}

/** A reading; null where a dimension could not be read this time (it keeps its level). */
export interface ResourceSample {
  cpuPercent: number | null
  processCpuPercent: number | null
  memoryPercent: number | null
  diskFreeBytes: number | null
  /** Wall ms. */
  at: number
  /** What could not be read, in operator words. */
  errors: string[]
}

export interface DimensionState {
  level: Level
  /** Consecutive samples that qualified for a lower level. */
  calm: number
}

export interface LevelState {
  level: Level
  dims: Record<Dimension, DimensionState>
}

export const rank = (l: Level): number => LEVELS.indexOf(l)
const worst = (a: Level, b: Level): Level => (rank(a) >= rank(b) ? a : b)

export const initialLevelState = (): LevelState => ({
  level: 'NORMAL',
  dims: { cpu: { level: 'NORMAL', calm: 0 }, memory: { level: 'NORMAL', calm: 0 }, disk: { level: 'NORMAL', calm: 0 } },
})

export function valueOf(dim: Dimension, s: ResourceSample): number | null {
  return dim === 'cpu' ? s.cpuPercent : dim === 'memory' ? s.memoryPercent : s.diskFreeBytes
}

function thresholdsOf(dim: Dimension, t: Thresholds): LevelThresholds {
  return dim === 'cpu' ? t.cpuPercent : dim === 'memory' ? t.memoryPercent : t.diskBytes
}

/**
 * The level one value is at. With `release` the thresholds are moved by the margin
 * in the direction of "better", so this answers "which level may it drop to".
 */
export function dimensionLevel(dim: Dimension, value: number, t: Thresholds, h: Hysteresis, release = false): Level {
  const th = thresholdsOf(dim, t)
  if (dim === 'disk') {
    const k = release ? 1 + h.marginDisk : 1
    if (value < th.critical * k) return 'CRITICAL'
    if (value < th.degrade * k) return 'DEGRADE'
    if (value < th.warn * k) return 'WARN'
    return 'NORMAL'
  }
  const m = release ? h.marginPercent : 0
  if (value > th.critical - m) return 'CRITICAL'
  if (value > th.degrade - m) return 'DEGRADE'
  if (value > th.warn - m) return 'WARN'
  return 'NORMAL'
}

/** One sample's effect: up at once, down only after `h.samples` calm samples. Pure. */
export function stepLevels(state: LevelState, sample: ResourceSample, t: Thresholds, h: Hysteresis): LevelState {
  const dims = { ...state.dims }
  for (const dim of DIMENSIONS) {
    const value = valueOf(dim, sample)
    const cur = dims[dim]
    if (value === null) continue
    const now = dimensionLevel(dim, value, t, h)
    if (rank(now) > rank(cur.level)) {
      dims[dim] = { level: now, calm: 0 }
      continue
    }
    const release = dimensionLevel(dim, value, t, h, true)
    if (rank(release) < rank(cur.level)) {
      const calm = cur.calm + 1
      dims[dim] = calm >= h.samples ? { level: release, calm: 0 } : { level: cur.level, calm }
    } else {
      dims[dim] = { level: cur.level, calm: 0 }
    }
  }
  const level = DIMENSIONS.reduce<Level>((acc, d) => worst(acc, dims[d].level), 'NORMAL')
  return { level, dims }
}

export function previewFor(level: Level): PreviewLevel {
  return level === 'CRITICAL' ? 'off' : level === 'DEGRADE' ? 'low' : 'full'
}

const GiB = 1024 ** 3
export const formatValue = (dim: Dimension, v: number): string => (dim === 'disk' ? `${(v / GiB).toFixed(2)} GiB free` : `${v.toFixed(0)} %`)

/** "disk 0.80 GiB free, cpu 91 %": the dimensions at the level, for the alert. */
export function describeCauses(state: LevelState, sample: ResourceSample | null): string {
  if (!sample || state.level === 'NORMAL') return 'all resources within limits'
  return DIMENSIONS.filter((d) => state.dims[d].level === state.level)
    .map((d) => {
      const v = valueOf(d, sample)
      return v === null ? `${d} (no reading)` : `${d} ${formatValue(d, v)}`
    })
    .join(', ')
}
