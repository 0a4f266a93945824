import t from 'tap'
import { createActor, fromPromise, SimulatedClock } from 'xstate'
import { AlertLog } from '../../../infra/alerts.js'
import { governorMachine, type GovernorAlert, type GovernorInput, type PreviewLevel, type ResourceSample } from '../../../machines/governor.machine.js'

const GiB = 1024 ** 3
const INPUT: GovernorInput = {
  sampleMs: 5000,
  thresholds: {
    diskBytes: { warn: 10 * GiB, degrade: 5 * GiB, critical: 1 * GiB },
    cpuPercent: { warn: 60, degrade: 70, critical: 85 },
    memoryPercent: { warn: 70, degrade: 80, critical: 95 },
  },
  hysteresis: { marginPercent: 5, marginDisk: 0.1, samples: 2 },
}

type Reading = Partial<ResourceSample> | Error

/** A fake sampler driving the pure machine: each sample is the next scripted reading (the last repeats). */
function start(script: Reading[]) {
  const clock = new SimulatedClock()
  const alerts: GovernorAlert[] = []
  const previews: PreviewLevel[] = []
  const reasons: string[] = []
  const stops: string[] = []
  const pauses: boolean[] = []
  let n = 0
  const machine = governorMachine.provide({
    actors: {
      sampleResources: fromPromise<ResourceSample>(async () => {
        const r = script[Math.min(n, script.length - 1)]!
        n += 1
        if (r instanceof Error) throw r
        return { cpuPercent: 10, processCpuPercent: 1, memoryPercent: 20, diskFreeBytes: 100 * GiB, at: clock.now(), errors: [], ...r }
      }),
    },
    actions: {
      raiseAlert: (_, a) => alerts.push(a),
      setPreview: (_, p) => {
        previews.push(p.level)
        reasons.push(p.reason)
      },
      stopRecording: (_, p) => stops.push(p.reason),
      pauseAnalysis: (_, p) => pauses.push(p.paused),
    },
  })
  const actor = createActor(machine, { clock, input: INPUT })
  actor.start()
  const settle = () => new Promise((r) => setTimeout(r, 0))
  return {
    actor,
    clock,
    alerts,
    previews,
    reasons,
    stops,
    pauses,
    samples: () => n,
    settle,
    /** One sampling period and its sample. */
    async next(count = 1) {
      for (let i = 0; i < count; i++) {
        clock.increment(INPUT.sampleMs)
        await settle()
      }
    },
    top: () => {
      const v = actor.getSnapshot().value
      return typeof v === 'string' ? v : Object.keys(v)[0]!
    },
  }
}

t.test('first sample: NORMAL is quiet and ready; then a sample every sampleMs', async (t) => {
  const h = start([{}])
  t.equal(h.top(), 'starting')
  t.notOk(h.actor.getSnapshot().hasTag('ready'))
  await h.settle()
  t.equal(h.top(), 'normal')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.same(h.alerts, [])
  t.same(h.previews, ['full'], 'the first sample says the preview level, NORMAL too (a governor restarted after a crash at CRITICAL gives the video back)')
  t.same(h.reasons, ['resource level NORMAL'])
  h.clock.increment(4999)
  await h.settle()
  t.equal(h.samples(), 1)
  h.clock.increment(1)
  await h.settle()
  t.equal(h.samples(), 2)
  await h.next(3)
  t.equal(h.samples(), 5)
  t.same(h.alerts, [])
})

t.test('levels up and down: alert per change, preview low → off → full, hysteresis on the way down', async (t) => {
  const h = start([{}, { cpuPercent: 75 }, { cpuPercent: 90 }, { cpuPercent: 90 }, { cpuPercent: 50 }, { cpuPercent: 50 }, { cpuPercent: 50 }])
  await h.settle()
  await h.next()
  t.equal(h.top(), 'degrade')
  t.match(h.alerts.at(-1), { code: 'governor.level', severity: 'warning', details: { level: 'DEGRADE', previous: 'NORMAL' } })
  t.match(h.alerts.at(-1)!.message, /NORMAL → DEGRADE: cpu 75 %/)
  t.same(h.previews, ['full', 'low'])
  t.equal(h.reasons.at(-1), 'resource level DEGRADE (cpu 75 %)', 'the reason names the level and its cause (the page shows it)')
  await h.next()
  t.equal(h.top(), 'critical')
  t.match(h.alerts.at(-1), { code: 'governor.level', severity: 'critical', details: { level: 'CRITICAL' } })
  t.same(h.previews, ['full', 'low', 'off'])
  t.equal(h.reasons.at(-1), 'resource level CRITICAL (cpu 90 %)')
  t.same(h.stops, [], 'CPU pressure protects the recording, it does not stop it')
  await h.next()
  t.equal(h.alerts.length, 2, 'no alert without a change')
  await h.next()
  t.equal(h.top(), 'critical', 'one calm sample is not enough')
  await h.next()
  t.equal(h.top(), 'normal')
  t.match(h.alerts.at(-1), { code: 'governor.level', severity: 'info', details: { level: 'NORMAL', previous: 'CRITICAL' } })
  t.same(h.previews, ['full', 'low', 'off', 'full'], 'said once per change, not on every sample')
})

t.test('disk below the critical threshold: a stop is asked on every critical sample, none once it recovers', async (t) => {
  const low = { diskFreeBytes: 0.5 * GiB }
  const h = start([low, low, low, { diskFreeBytes: 50 * GiB }, { diskFreeBytes: 50 * GiB }, low])
  await h.settle()
  t.equal(h.top(), 'critical', 'the first sample already says CRITICAL')
  t.equal(h.stops.length, 1)
  t.match(h.stops[0], /only 0\.50 GiB free on the data disk \(critical below 1\.00 GiB free\)/)
  t.same(h.previews, ['off'])
  await h.next(2)
  t.equal(h.stops.length, 3, 'asked again while it stays low: a recording started meanwhile is stopped too')
  await h.next(2)
  t.equal(h.top(), 'normal')
  t.equal(h.stops.length, 3, 'no stop while the disk has room')
  await h.next()
  t.equal(h.top(), 'critical')
  t.equal(h.stops.length, 4, 'low again: asked again')
})

t.test('a failing sampler: one sample_failed alert per episode, the governor stays up', async (t) => {
  const h = start([new Error('statfs EIO'), new Error('statfs EIO'), {}, { diskFreeBytes: null, errors: ['free space of /var: ENOENT'] }])
  await h.settle()
  t.equal(h.top(), 'normal')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.match(h.alerts, [{ code: 'governor.sample_failed', severity: 'warning' }])
  await h.next()
  t.equal(h.alerts.length, 1)
  await h.next()
  await h.next()
  t.equal(h.alerts.length, 2, 'a new failure after a good sample')
  t.match(h.alerts[1]!.message, /ENOENT/)
  t.equal(h.actor.getSnapshot().status, 'active')
})

t.test('STOP from any state: stopped (normal)', async (t) => {
  const h = start([{ cpuPercent: 90 }])
  await h.settle()
  h.actor.send({ type: 'STOP' })
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('a flapping level through the alert manager: folded into counts within 60 s', async (t) => {
  const script: Reading[] = [{}]
  for (let i = 0; i < 6; i++) script.push({ cpuPercent: 90 }, { cpuPercent: 10 }, { cpuPercent: 10 })
  const h = start(script)
  const log = new AlertLog({ node: 'n', now: () => h.clock.now() })
  await h.settle()
  await h.next(12)
  for (const a of h.alerts) log.add({ source: 'governor', ...a })
  const list = log.list()
  t.equal(list.length, 2, 'one CRITICAL alert and one NORMAL alert')
  t.match(list.find((a) => a.severity === 'critical'), { code: 'governor.level', count: 4 })
})

t.test('CPU CRITICAL pauses audio and motion analysis; it resumes when the CPU level comes down', async (t) => {
  let cpu = 10
  const h2 = startCpu(() => cpu)
  await h2.settle()
  t.same(h2.pauses, [false], 'the first sample says where analysis stands (a governor restarted after a crash restates it)')
  t.equal(h2.actor.getSnapshot().context.analysisPaused, false)
  cpu = 90
  await h2.next()
  t.same(h2.pauses, [false, true], 'CPU above critical: paused')
  t.same(h2.stops, [], 'the recording is not touched')
  await h2.next(3)
  t.same(h2.pauses, [false, true], 'said once per episode')
  cpu = 82
  await h2.next(3)
  t.same(h2.pauses, [false, true], 'within the release margin (85 − 5): still paused')
  cpu = 50
  await h2.next()
  t.same(h2.pauses, [false, true], 'one calm sample is not enough (hysteresis: 2)')
  await h2.next()
  t.same(h2.pauses, [false, true, false], 'resumed when the CPU level comes down')
  h2.actor.stop()
})

t.test('a critical disk or memory does not pause analysis', async (t) => {
  const h = start([{ memoryPercent: 99, diskFreeBytes: 0.5 * GiB }])
  await h.settle()
  await h.next()
  t.equal(h.top(), 'critical')
  t.same(h.pauses, [false])
  h.actor.stop()
})

function startCpu(cpu: () => number) {
  const clock = new SimulatedClock()
  const pauses: boolean[] = []
  const stops: string[] = []
  const machine = governorMachine.provide({
    actors: {
      sampleResources: fromPromise<ResourceSample>(async () => ({ cpuPercent: cpu(), processCpuPercent: 1, memoryPercent: 20, diskFreeBytes: 100 * GiB, at: clock.now(), errors: [] })),
    },
    actions: { pauseAnalysis: (_, p) => pauses.push(p.paused), stopRecording: (_, p) => stops.push(p.reason) },
  })
  const actor = createActor(machine, { clock, input: INPUT })
  actor.start()
  const settle = () => new Promise((r) => setTimeout(r, 0))
  return {
    actor,
    pauses,
    stops,
    settle,
    async next(count = 1) {
      for (let i = 0; i < count; i++) {
        clock.increment(INPUT.sampleMs)
        await settle()
      }
    },
  }
}
