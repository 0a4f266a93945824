import t from 'tap'
import {
  describeCauses,
  dimensionLevel,
  initialLevelState,
  previewFor,
  stepLevels,
  type Hysteresis,
  type LevelState,
  type ResourceSample,
  type Thresholds,
} from '../../../machines/governor.levels.js'

const GiB = 1024 ** 3
const T: Thresholds = {
  diskBytes: { warn: 10 * GiB, degrade: 5 * GiB, critical: 1 * GiB },
  cpuPercent: { warn: 60, degrade: 70, critical: 85 },
  memoryPercent: { warn: 70, degrade: 80, critical: 95 },
}
const H: Hysteresis = { marginPercent: 5, marginDisk: 0.1, samples: 2 }

const sample = (over: Partial<ResourceSample> = {}): ResourceSample => ({
  cpuPercent: 10,
  processCpuPercent: 1,
  memoryPercent: 20,
  diskFreeBytes: 100 * GiB,
  at: 0,
  errors: [],
  ...over,
})

/** Runs samples through stepLevels; the overall level after each. */
function run(samples: Array<Partial<ResourceSample>>, start: LevelState = initialLevelState()): string[] {
  let s = start
  return samples.map((x) => {
    s = stepLevels(s, sample(x), T, H)
    return s.level
  })
}

t.test('raw levels per dimension (DESIGN defaults)', async (t) => {
  t.equal(dimensionLevel('cpu', 60, T, H), 'NORMAL', 'at the threshold is not over it')
  t.equal(dimensionLevel('cpu', 60.1, T, H), 'WARN')
  t.equal(dimensionLevel('cpu', 71, T, H), 'DEGRADE')
  t.equal(dimensionLevel('cpu', 86, T, H), 'CRITICAL')
  t.equal(dimensionLevel('memory', 79, T, H), 'WARN')
  t.equal(dimensionLevel('memory', 96, T, H), 'CRITICAL')
  t.equal(dimensionLevel('disk', 10 * GiB, T, H), 'NORMAL')
  t.equal(dimensionLevel('disk', 9 * GiB, T, H), 'WARN')
  t.equal(dimensionLevel('disk', 4 * GiB, T, H), 'DEGRADE')
  t.equal(dimensionLevel('disk', 0.5 * GiB, T, H), 'CRITICAL')
  t.equal(dimensionLevel('cpu', 64, T, H, true), 'WARN', 'release: 60 - 5 = 55 still counts as WARN')
  t.equal(dimensionLevel('disk', 10.5 * GiB, T, H, true), 'WARN', 'release: needs 11 GiB free')
  t.equal(dimensionLevel('disk', 11 * GiB, T, H, true), 'NORMAL')
})

t.test('up at once, down only after two samples past the margin', async (t) => {
  t.same(run([{ cpuPercent: 75 }]), ['DEGRADE'])
  t.same(run([{ cpuPercent: 75 }, { cpuPercent: 68 }, { cpuPercent: 68 }, { cpuPercent: 68 }]), ['DEGRADE', 'DEGRADE', 'DEGRADE', 'DEGRADE'], '68 is within the 5-point margin of 70')
  t.same(run([{ cpuPercent: 75 }, { cpuPercent: 64 }, { cpuPercent: 64 }]), ['DEGRADE', 'DEGRADE', 'WARN'])
  t.same(run([{ cpuPercent: 75 }, { cpuPercent: 64 }, { cpuPercent: 69 }, { cpuPercent: 64 }]), ['DEGRADE', 'DEGRADE', 'DEGRADE', 'DEGRADE'], 'a sample inside the margin resets the count')
  t.same(run([{ cpuPercent: 90 }, { cpuPercent: 10 }, { cpuPercent: 10 }]), ['CRITICAL', 'CRITICAL', 'NORMAL'], 'straight down to where the value is')
  t.same(run([{ cpuPercent: 64 }, { cpuPercent: 90 }]), ['WARN', 'CRITICAL'])
})

t.test('hovering at a threshold does not flap', async (t) => {
  const levels = run([61, 59, 61, 59, 61, 59, 58, 57].map((c) => ({ cpuPercent: c })))
  t.same(levels, ['WARN', 'WARN', 'WARN', 'WARN', 'WARN', 'WARN', 'WARN', 'WARN'])
  t.same(run([{ cpuPercent: 61 }, { cpuPercent: 50 }, { cpuPercent: 50 }]), ['WARN', 'WARN', 'NORMAL'])
})

t.test('the worst dimension wins; each keeps its own hysteresis', async (t) => {
  t.same(run([{ cpuPercent: 65, memoryPercent: 85, diskFreeBytes: 0.5 * GiB }]), ['CRITICAL'])
  let s = stepLevels(initialLevelState(), sample({ cpuPercent: 65, diskFreeBytes: 4 * GiB }), T, H)
  t.equal(s.level, 'DEGRADE')
  t.same(s.dims.cpu.level, 'WARN')
  t.same(s.dims.disk.level, 'DEGRADE')
  // Disk recovers (well past 5.5 GiB) for two samples: cpu still WARN.
  s = stepLevels(s, sample({ cpuPercent: 65, diskFreeBytes: 20 * GiB }), T, H)
  s = stepLevels(s, sample({ cpuPercent: 65, diskFreeBytes: 20 * GiB }), T, H)
  t.equal(s.level, 'WARN')
  t.equal(describeCauses(s, sample({ cpuPercent: 65 })), 'cpu 65 %')
})

t.test('a dimension without a reading keeps its level', async (t) => {
  const levels = run([{ diskFreeBytes: 0.5 * GiB }, { diskFreeBytes: null }, { diskFreeBytes: null }, { diskFreeBytes: null }])
  t.same(levels, ['CRITICAL', 'CRITICAL', 'CRITICAL', 'CRITICAL'])
  t.same(run([{ cpuPercent: null, memoryPercent: null, diskFreeBytes: null }]), ['NORMAL'])
})

t.test('disk release margin: 10 % above the threshold', async (t) => {
  const gib = (n: number) => ({ diskFreeBytes: n * GiB })
  t.same(run([gib(0.9), gib(1.05), gib(1.05), gib(1.1), gib(1.1)]), ['CRITICAL', 'CRITICAL', 'CRITICAL', 'CRITICAL', 'DEGRADE'])
})

t.test('preview per level; causes in words', async (t) => {
  t.same(['NORMAL', 'WARN', 'DEGRADE', 'CRITICAL'].map((l) => previewFor(l as never)), ['full', 'full', 'low', 'off'])
  const s = stepLevels(initialLevelState(), sample({ diskFreeBytes: 0.8 * GiB }), T, H)
  t.equal(describeCauses(s, sample({ diskFreeBytes: 0.8 * GiB })), 'disk 0.80 GiB free')
  t.equal(describeCauses(initialLevelState(), sample()), 'all resources within limits')
})
