import t from 'tap'
import { judgeSoak, judgementProblems, metricValue, NATS_CEILING_MB, slopePerHour, SOAK_BOUNDS, type SoakSample } from '../../../tools/soak/trend.js'
import { soakSection, SOAK_END, SOAK_START } from '../../../tools/soak/report.js'
import { emptyActivity, DEFAULT_DRIVERS } from '../../../tools/soak/drivers.js'
import { rejudged, type SoakResult } from '../../../tools/soak/run.js'

/** A minute-by-minute series over `minutes`, each metric `base + perHour·h + wobble`. */
function series(minutes: number, perHour: Partial<Record<keyof SoakSample, number>>): SoakSample[] {
  return Array.from({ length: minutes + 1 }, (_, m) => {
    const h = m / 60
    // A sawtooth wobble (GC-like) that has no trend of its own over whole periods.
    const wobble = ((m % 4) - 1.5) * 0.8
    return {
      atS: m * 60,
      rssMb: 120 + (perHour.rssMb ?? 0) * h + wobble,
      heapMb: 38 + (perHour.heapMb ?? 0) * h + wobble / 2,
      heapTotalMb: 50,
      externalMb: 3.5,
      fds: 45 + Math.round((perHour.fds ?? 0) * h),
      handles: 22 + Math.round((perHour.handles ?? 0) * h),
      children: 4 + Math.floor((perHour.children ?? 0) * h),
      treeRssMb: 300 + (perHour.treeRssMb ?? 0) * h + (perHour.natsRssMb ?? 0) * h + wobble,
      natsRssMb: 20 + (perHour.natsRssMb ?? 0) * h,
      mediaRssMb: 60,
      load1: 0.5,
    }
  })
}

t.test('slopePerHour: the least-squares slope, per hour', async (t) => {
  t.equal(slopePerHour([0, 3600, 7200], [10, 20, 30]), 10)
  t.equal(slopePerHour([0, 60, 120, 180], [5, 5, 5, 5]), 0, 'flat')
  t.ok(Math.abs(slopePerHour([0, 1800, 3600, 5400], [0, 1, 0, 1])! - 0.4) < 1e-9, 'noisy: the fit, not the end points')
  t.equal(slopePerHour([0, 60], [1, 2]), null, 'two points are not a trend')
  t.equal(slopePerHour([60, 60, 60], [1, 2, 3]), null, 'no spread in time')
})

t.test('judgeSoak: a flat rig passes, a leaking one fails on the leaking series only', async (t) => {
  const flat = judgeSoak(series(60, {}), 300)
  t.ok(flat.judged, '55 min after warm-up is judged')
  t.ok(flat.ok)
  t.equal(flat.fitted, 56, 'samples before the warm-up are left out')
  t.ok(flat.slopes.every((s) => s.verdict === 'pass'))

  // One more descriptor every 12 minutes: 5 fds/h, over the 3/h bound.
  const fdLeak = judgeSoak(series(60, { fds: 5 }), 300)
  t.notOk(fdLeak.ok)
  t.same(fdLeak.slopes.filter((s) => s.verdict === 'fail').map((s) => s.metric), ['fds'])

  const rssLeak = judgeSoak(series(60, { rssMb: 20, treeRssMb: 20 }), 300)
  t.same(rssLeak.slopes.filter((s) => s.verdict === 'fail').map((s) => s.metric), ['rssMb'], 'tree RSS bound is wider: 20 MB/h passes there')
  const childLeak = judgeSoak(series(60, { children: 2 }), 300)
  t.same(childLeak.slopes.filter((s) => s.verdict === 'fail').map((s) => s.metric), ['children'])
})

t.test('judgeSoak: the nats-server is held to a ceiling, the rest of the tree to a slope', async (t) => {
  // 14 → 38 MB in an hour, as its store blocks fill: under the ceiling, and not in the tree's slope.
  const storeFilling = judgeSoak(series(60, { natsRssMb: 24 }), 300)
  t.ok(storeFilling.ok, 'a nats-server rising under its ceiling passes')
  t.equal(storeFilling.slopes.find((s) => s.metric === 'treeLessNatsRssMb')!.verdict, 'pass')
  t.equal(storeFilling.natsCeiling.verdict, 'pass')
  t.ok(Math.abs(storeFilling.natsCeiling.maxMb! - 44) < 1e-9, 'the highest sample')

  const natsLeak = judgeSoak(series(60, { natsRssMb: NATS_CEILING_MB }), 300)
  t.notOk(natsLeak.ok, 'past the ceiling fails')
  t.equal(natsLeak.natsCeiling.verdict, 'fail')
  t.match(judgementProblems(natsLeak), [/^nats-server RSS reached 84\.0 MB \(ceiling 64\)$/])

  const vigilTreeLeak = judgeSoak(series(60, { treeRssMb: 30 }), 300)
  t.same(vigilTreeLeak.slopes.filter((s) => s.verdict === 'fail').map((s) => s.metric), ['treeLessNatsRssMb'], 'the tree without nats-server still has its slope bound')

  const external = judgeSoak(series(60, {}).map((s) => ({ ...s, natsRssMb: 0 })), 300)
  t.equal(external.natsCeiling.verdict, 'none', 'no embedded server: nothing to hold')
  t.ok(external.ok)
})

t.test('rejudged: a stored result judged by today\'s bounds keeps its own problems', async (t) => {
  const samples = series(60, { natsRssMb: 24 })
  const old = { ...judgeSoak(samples, 300), slopes: [{ metric: 'treeRssMb' as const, unit: 'MB/h', maxPerHour: 24, perHour: 30, first: 300, last: 330, verdict: 'fail' as const }] }
  const { natsCeiling: _, ...oldShape } = old
  const stored = { samples, options: { warmupS: 300 }, judgement: oldShape, problems: ['vigil\'s stop: exit 1', 'treeRssMb grows 30.00 MB/h (bound 24)'] } as unknown as SoakResult
  const r = rejudged(stored)
  t.same(r.problems, ["vigil's stop: exit 1"], 'the old slope failure is judged again (passes), the unclean stop stays')
  t.equal(r.judgement.natsCeiling.verdict, 'pass')
})

t.test('judgeSoak: under 20 fitted minutes it reports and does not judge', async (t) => {
  const short = judgeSoak(series(10, { fds: 100 }), 60)
  t.notOk(short.judged)
  t.ok(short.ok, 'not failed: not judged')
  t.ok(short.slopes.every((s) => s.verdict === 'short'))
  t.ok(short.slopes.find((s) => s.metric === 'fds')!.perHour! > 50, 'the slope is still computed and shown')
})

t.test('every bound is stated with a unit', async (t) => {
  t.same(SOAK_BOUNDS.map((b) => b.metric).sort(), ['children', 'fds', 'handles', 'heapMb', 'rssMb', 'treeLessNatsRssMb'])
  for (const b of SOAK_BOUNDS) t.ok(b.maxPerHour > 0 && b.unit.endsWith('/h'), b.metric)
})

t.test('metricValue reads prom-client text, labelled or not', async (t) => {
  const text = [
    '# HELP vigil_process_open_fds Number of open file descriptors.',
    '# TYPE vigil_process_open_fds gauge',
    'vigil_process_open_fds{node="soak"} 47',
    'vigil_process_open_fds_max{node="soak"} 1024',
    'vigil_nodejs_active_handles_total 23',
  ].join('\n')
  t.equal(metricValue(text, 'vigil_process_open_fds'), 47, 'not the _max series with the same prefix')
  t.equal(metricValue(text, 'vigil_nodejs_active_handles_total'), 23)
  t.equal(metricValue(text, 'vigil_nodejs_heap_size_used_bytes'), null)
})

t.test('the BENCHMARKS section: markers, verdict, every slope and every sample', async (t) => {
  const samples = series(30, { fds: 10 })
  const result: SoakResult = {
    startedAt: '2026-12-02T08:00:00.000Z',
    options: { minutes: 30, sampleS: 60, readS: 5, warmupS: 300, camera: { width: 320, height: 240, fps: 15 }, drivers: DEFAULT_DRIVERS },
    machine: { cpus: 2, node: 'v20.20.2' },
    samples,
    judgement: judgeSoak(samples, 300),
    activity: emptyActivity(),
    restarts: { audio: 2 },
    stop: { code: 0, signal: null, forced: false, ms: 1200, orphans: [] },
    problems: ['fds grows 10.00 fds/h (bound 3)'],
  }
  const md = soakSection(result, 'bench/results/soak-x.json')
  t.ok(md.startsWith(SOAK_START) && md.endsWith(SOAK_END))
  t.match(md, /\*\*Verdict: FAIL\*\*: fds grows/)
  t.match(md, /\| fds \| 46 \| 50 \| \+\d+\.\d\d fds\/h \| 3 fds\/h \| fail \|/)
  t.equal(md.split('\n').filter((l) => /^\| \d+\.\d \|/.test(l)).length, samples.length, 'one row a sample')
  t.match(md, /Restarts over the run: audio 2/)
})
