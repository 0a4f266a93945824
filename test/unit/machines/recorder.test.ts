import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import {
  recorderMachine,
  recorderStateName,
  recorderStateNameOf,
  summarize,
  type CaptureInput,
  type FinalizeInput,
  type FinalizeOutput,
  type OpenedSession,
  type OpenInput,
  type RecorderAlert,
  type RecorderEvent,
  type RecorderPublication,
  type RecorderReply,
  type RecorderSettings,
} from '../../../machines/recorder.machine.js'

const GiB = 1024 ** 3

const settings: RecorderSettings = {
  node: 'rig1',
  segmentS: 10,
  minFreeBytes: 2 * GiB,
  stopBelowBytes: 1 * GiB,
  stallWarnMs: 10_000,
  stallStopMs: 30_000,
  diskProbeMs: 1000,
  reconnectMs: 1000,
  sourceWaitMs: 5000,
}

/** Promise-based fakes resolve on the microtask queue; let them land. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
}

function harness(
  opts: { free?: number | Error; finalizeGate?: () => Promise<void>; settings?: Partial<RecorderSettings>; openFails?: boolean; prepareGate?: Promise<void>; probeGate?: () => Promise<void> } = {},
) {
  const clock = new SimulatedClock()
  const replies: RecorderReply[] = []
  const alerts: RecorderAlert[] = []
  const published: RecorderPublication[] = []
  const finalized: FinalizeInput[] = []
  const disk = { free: opts.free ?? 100 * GiB, probes: 0 } as { free: number | Error; probes: number }
  const ffmpeg = { live: 0, started: 0, stopped: 0, sendBack: null as null | ((e: RecorderEvent) => void) }
  let n = 0
  const machine = recorderMachine.provide({
    actors: {
      prepareStore: fromPromise<void, void>(async () => {
        await opts.prepareGate
      }),
      probeDisk: fromPromise<{ freeBytes: number }, void>(async () => {
        disk.probes += 1
        if (opts.probeGate) await opts.probeGate()
        if (disk.free instanceof Error) throw disk.free
        return { freeBytes: disk.free }
      }),
      openSession: fromPromise<OpenedSession, OpenInput>(async ({ input }) => {
        if (opts.openFails) throw new Error('EACCES: permission denied')
        n += 1
        const id = `20250101T0000${String(n).padStart(2, '0')}Z-aaaaaa`
        const trigger = input.trigger ? { trigger: { kind: input.trigger.kind, at: input.trigger.at } } : {}
        return { id, name: input.name ?? 'recording', dir: `/rec/${id}`, startedAt: '2025-01-01T00:00:00.000Z', startedMono: 0, ...trigger }
      }),
      ffmpegCapture: fromCallback<RecorderEvent, CaptureInput>(({ sendBack }) => {
        ffmpeg.live += 1
        ffmpeg.started += 1
        ffmpeg.sendBack = sendBack
        sendBack({ type: 'FFMPEG.STARTED', pid: 4000 + ffmpeg.started })
        return () => {
          ffmpeg.live -= 1
          ffmpeg.stopped += 1
        }
      }),
      finalizeSession: fromPromise<FinalizeOutput, FinalizeInput>(async ({ input }) => {
        finalized.push(input)
        if (opts.finalizeGate) await opts.finalizeGate()
        const deleted = input.session.bytes === 0
        return {
          summary: { ...summarize(input.session), state: input.endState, stopReason: input.stopReason, stoppedAt: '2025-01-01T00:01:00.000Z', durationMs: 60_000, deleted },
          files: deleted ? [] : [{ file: 'seg-00001.mp4', bytes: input.session.bytes }],
        }
      }),
    },
    actions: {
      reply: (_, p) => {
        if (p) replies.push(p)
      },
      raiseAlert: (_, a) => {
        alerts.push(a)
      },
      publishEvent: (_, e) => {
        published.push(e)
      },
      note: () => undefined,
    },
  })
  const actor = createActor(machine, { clock, input: { settings: { ...settings, ...opts.settings } } })
  actor.start()
  let req = 0
  const h = {
    actor,
    clock,
    replies,
    alerts,
    published,
    finalized,
    disk,
    ffmpeg,
    state: () => recorderStateName(actor.getSnapshot()),
    start(args: { name?: string; idempotencyKey?: string } = {}) {
      const requestId = `r${++req}`
      actor.send({ type: 'START', requestId, ...args })
      return requestId
    },
    stop() {
      const requestId = `r${++req}`
      actor.send({ type: 'STOP_RECORDING', requestId })
      return requestId
    },
    reply(id: string) {
      return replies.find((r) => r.requestId === id)
    },
    /** Advance simulated time one second at a time, letting promise actors land between ticks. */
    async advance(ms: number) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.increment(Math.min(1000, left))
        await settle()
      }
    },
    bytes(total: number, mono = 0) {
      ffmpeg.sendBack?.({ type: 'BYTES', total, segments: 1, mono })
    },
  }
  return h
}

t.test('starts idle and ready; start → recording, stop → finalized and idle', async (t) => {
  const h = harness()
  await settle()
  t.equal(h.state(), 'idle')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  const s = h.start({ name: 'nap' })
  await settle()
  t.equal(h.state(), 'recording')
  const r = h.reply(s)
  t.ok(r?.ok)
  if (r?.ok) t.equal(r.result.name, 'nap')
  t.same(h.actor.getSnapshot().context.pids, [4001], 'pids of the running ffmpeg')
  t.equal(h.published[0]?.kind, 'recording.started')
  h.bytes(5000)
  const p = h.stop()
  await settle()
  t.equal(h.state(), 'idle')
  t.equal(h.ffmpeg.live, 0, 'ffmpeg stopped')
  t.same(h.actor.getSnapshot().context.pids, [])
  const stopped = h.reply(p)
  t.ok(stopped?.ok)
  if (stopped?.ok) {
    t.equal(stopped.result.state, 'finalized')
    t.equal(stopped.result.bytes, 5000)
  }
  t.same(
    h.published.map((e) => e.kind),
    ['recording.started', 'segment.closed', 'recording.stopped'],
    'the last segment is announced at the stop',
  )
})

t.test('idempotency: same key → same session; other key → ALREADY_RECORDING; same key after stop → same session', async (t) => {
  const h = harness()
  await settle()
  const a = h.start({ idempotencyKey: 'k1' })
  await settle()
  const b = h.start({ idempotencyKey: 'k1' })
  const c = h.start({ idempotencyKey: 'k2' })
  const d = h.start()
  await settle()
  const ra = h.reply(a)
  const rb = h.reply(b)
  t.ok(ra?.ok && rb?.ok)
  if (ra?.ok && rb?.ok) t.equal(rb.result.id, ra.result.id, 'same session')
  const rc = h.reply(c)
  t.equal(rc?.ok === false && rc.error.code, 'ALREADY_RECORDING')
  const rd = h.reply(d)
  t.equal(rd?.ok === false && rd.error.code, 'ALREADY_RECORDING', 'no key while recording is another client')
  t.equal(h.ffmpeg.started, 1, 'one ffmpeg')
  h.bytes(10)
  h.stop()
  await settle()
  const e = h.start({ idempotencyKey: 'k1' })
  await settle()
  const re = h.reply(e)
  t.equal(h.state(), 'idle', 'a retried start does not record again')
  t.ok(re?.ok)
  if (re?.ok && ra?.ok) {
    t.equal(re.result.id, ra.result.id)
    t.equal(re.result.state, 'finalized')
  }
})

t.test('stop while idle → NOT_RECORDING', async (t) => {
  const h = harness()
  await settle()
  const p = h.stop()
  await settle()
  const r = h.reply(p)
  t.equal(r?.ok === false && r.error.code, 'NOT_RECORDING')
  t.equal(h.state(), 'idle')
})

t.test('pre-check: free < minFreeBytes → DISK_FULL, stays idle, no session', async (t) => {
  const h = harness({ free: 1.5 * GiB })
  await settle()
  const s = h.start()
  await settle()
  const r = h.reply(s)
  t.equal(r?.ok === false && r.error.code, 'DISK_FULL')
  t.equal(h.state(), 'idle')
  t.equal(h.ffmpeg.started, 0)
  t.equal(h.finalized.length, 0)
})

t.test('disk falls below stopBelowBytes → stop, finalize, critical alert, disk_full until space returns', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000)
  await h.advance(3000)
  t.ok(h.disk.probes >= 3, 'probed every second')
  t.equal(h.state(), 'recording')
  h.disk.free = 0.5 * GiB
  await h.advance(1000)
  t.equal(h.state(), 'disk_full')
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'disk_full is a serving state')
  t.equal(h.ffmpeg.live, 0)
  t.equal(h.finalized[0]?.endState, 'disk_full')
  t.match(h.alerts.find((a) => a.code === 'recorder.disk_full'), { severity: 'critical' })
  const s = h.start()
  await settle()
  const r = h.reply(s)
  t.equal(r?.ok === false && r.error.code, 'DISK_FULL', 'no start while full')
  h.disk.free = 1.5 * GiB
  await h.advance(3000)
  t.equal(h.state(), 'disk_full', 'above stopBelow but under minFree is not enough (hysteresis)')
  h.disk.free = 3 * GiB
  await h.advance(1000)
  t.equal(h.state(), 'idle', 'back once minFreeBytes is free')
  const s2 = h.start()
  await settle()
  t.ok(h.reply(s2)?.ok)
  t.equal(h.state(), 'recording')
})

t.test('ENOSPC from ffmpeg stops at once into disk_full', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(100)
  h.ffmpeg.sendBack?.({ type: 'DISK.ENOSPC' })
  await settle()
  t.equal(h.state(), 'disk_full')
  t.equal(h.finalized[0]?.stopReason, 'no space left on device')
  t.equal(h.alerts.filter((a) => a.code === 'recorder.disk_full' && a.severity === 'critical').length, 1)
})

t.test('stall: warning at 10 s of unchanged bytes, auto-stop + critical at 30 s', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(100)
  await h.advance(9000)
  h.bytes(200, 9000) // growth resets the watchdog
  await h.advance(9000)
  t.equal(h.state(), 'recording')
  t.equal(h.alerts.length, 0)
  h.bytes(200) // unchanged: no reset
  await h.advance(1000)
  t.equal(h.state(), 'stalled', '10 s after the last growth')
  t.match(h.alerts.at(-1), { severity: 'warning', code: 'recorder.stall' })
  await h.advance(19_000)
  t.equal(h.state(), 'stalled')
  await h.advance(1000)
  t.equal(h.state(), 'idle', 'auto-stopped 30 s after the last growth')
  t.match(h.alerts.at(-1), { severity: 'critical', code: 'recorder.stall' })
  t.equal(h.finalized[0]?.endState, 'stalled')
  t.same(
    h.finalized[0]?.openGap,
    { at: '2025-01-01T00:00:09.000Z', mono: 9000, reason: 'stalled: no new bytes' },
    'the stall is a gap from the last growth: the frozen seconds are not counted as recorded',
  )
  t.equal(h.ffmpeg.live, 0)
})

t.test('stall clears when bytes flow again', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  await h.advance(10_000)
  t.equal(h.state(), 'stalled')
  h.bytes(1)
  await settle()
  t.equal(h.state(), 'recording')
  t.match(h.alerts.at(-1), { severity: 'info', code: 'recorder.stall_cleared' })
  await h.advance(25_000)
  t.equal(h.state(), 'stalled', 'the watchdog restarted from the growth')
})

t.test('source lost and back: same session, new ffmpeg, gap recorded', async (t) => {
  const h = harness()
  await settle()
  const s = h.start()
  await settle()
  h.bytes(1000, 4500)
  h.actor.send({ type: 'SOURCE.LOST', reason: 'media restarting', at: '2025-01-01T00:00:05.000Z', mono: 5000 })
  await settle()
  t.equal(h.ffmpeg.live, 0, 'ffmpeg stopped while the source is away')
  t.equal(h.state(), 'recording', 'still the same recording')
  h.actor.send({ type: 'SOURCE.RESUMED' })
  await settle()
  t.equal(h.ffmpeg.live, 1)
  t.equal(h.ffmpeg.started, 2)
  h.bytes(1100, 7500) // the new run's header
  h.bytes(1500, 7500)
  await settle()
  const session = h.actor.getSnapshot().context.session
  const first = h.reply(s)
  t.equal(first?.ok && session?.id, first?.ok ? first.result.id : null, 'same session id')
  t.same(session?.gaps, [{ at: '2025-01-01T00:00:04.500Z', reason: 'source lost: media restarting', ms: 3000 }], 'the gap starts at the last growth')
})

t.test('source lost and back, with progress: the gap runs from the old run\'s live edge to the new run\'s first footage, not between two polls of the files', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 4000, mono: 4000, firstRun: true })
  h.bytes(1000, 4200)
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 4700, mono: 4700, firstRun: true })
  // The media server died at ~4.8 s; the poll last saw growth at 4.2 s (fragments flush once a keyframe).
  h.actor.send({ type: 'SOURCE.LOST', reason: 'media restarting', at: '2025-01-01T00:00:05.000Z', mono: 5000 })
  await settle()
  t.match(h.actor.getSnapshot().context.openGap, { mono: 4700, at: '2025-01-01T00:00:04.700Z', newRun: true }, 'opened at the last reading: the SIGTERMed ffmpeg writes its open fragment')
  h.actor.send({ type: 'SOURCE.RESUMED' })
  await settle()
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.STARTED', pid: 2 })
  h.bytes(1200, 6900) // its header, written once ffmpeg probed the input: not where footage began
  t.equal(h.actor.getSnapshot().context.session?.gaps.length, 0, 'the header growth does not close the gap')
  // ffmpeg's first report comes with its first packet: no timeline yet, no closing.
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 0.065, mono: 6500, firstRun: false })
  t.ok(h.actor.getSnapshot().context.openGap, 'a first report with 0.065 ms of timeline says nothing yet')
  // The new run's reading: 600 ms of timeline at 7.0 s, so its footage began at 6.4 s.
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 600, mono: 7000, firstRun: false })
  await settle()
  t.same(h.actor.getSnapshot().context.session?.gaps, [{ at: '2025-01-01T00:00:04.700Z', reason: 'source lost: media restarting', ms: 1700 }], 'closed where the new footage begins')
  h.bytes(1500, 8200)
  t.equal(h.actor.getSnapshot().context.session?.gaps.length, 1, 'a later growth closes nothing more')
})

t.test('a new run whose footage begins before the gap (a stale GOP) leaves the gap to the files\' growth', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000, 4500)
  h.actor.send({ type: 'SOURCE.LOST', reason: 'media restarting', at: '2025-01-01T00:00:05.000Z', mono: 5000 })
  h.actor.send({ type: 'SOURCE.RESUMED' })
  await settle()
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 3000, mono: 6000, firstRun: false })
  t.ok(h.actor.getSnapshot().context.openGap, 'still open: footage from 3.0 s would be before the gap at 4.5 s')
  h.bytes(1200, 7000) // the new run's header
  t.ok(h.actor.getSnapshot().context.openGap, 'not closed by the header')
  h.bytes(1500, 7500)
  t.same(h.actor.getSnapshot().context.session?.gaps.map((g) => g.ms), [3000], 'closed by growth')
})

t.test('a loss noticed late (frozen source, read timeout) opens its gap at the last growth, not when it was noticed', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000, 2000)
  h.bytes(2000, 3000)
  // ffmpeg gave up on a silent input 4 s after the last packet.
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 0: Input/output error', at: '2025-01-01T00:00:07.000Z', mono: 7000 })
  await settle()
  t.match(h.actor.getSnapshot().context.openGap, { at: '2025-01-01T00:00:03.000Z', mono: 3000 })
  await h.advance(1000)
  h.bytes(2100, 9000) // the new run's header
  h.bytes(2500, 9000)
  await settle()
  t.same(h.actor.getSnapshot().context.session?.gaps, [{ at: '2025-01-01T00:00:03.000Z', reason: 'ffmpeg exited with code 0: Input/output error', ms: 6000 }])
})

t.test('ffmpeg dying before any byte: the gap starts at the session start', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'killed by SIGKILL', at: '2025-01-01T00:00:02.000Z', mono: 2000 })
  await settle()
  t.match(h.actor.getSnapshot().context.openGap, { at: '2025-01-01T00:00:00.000Z', mono: 0, reason: 'ffmpeg killed by SIGKILL' })
  t.same(h.alerts.map((a) => [a.severity, a.code]), [['warning', 'recorder.capture_killed']], 'a kill from outside is alerted')
})

t.test('ffmpeg ending on its own (source closed) raises no alert: the source has its own', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 0: Input/output error', at: '2025-01-01T00:00:02.000Z', mono: 2000 })
  await settle()
  t.same(h.alerts, [])
})

t.test('ffmpeg exiting on its own → reconnect after a pause with the same session', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000)
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 1', at: '2025-01-01T00:00:05.000Z', mono: 5000 })
  await settle()
  t.same(h.actor.getSnapshot().context.pids, [])
  t.equal(h.ffmpeg.started, 1)
  await h.advance(1000)
  t.equal(h.ffmpeg.started, 2, 'respawned')
  t.equal(h.state(), 'recording')
  t.ok(h.actor.getSnapshot().context.openGap, 'gap open until bytes flow')
})

t.test('a START during stopping is answered after the stop completes, in order', async (t) => {
  let release!: () => void
  let gate = new Promise<void>((r) => (release = r))
  const h = harness({ finalizeGate: () => gate })
  await settle()
  h.start()
  await settle()
  h.bytes(10)
  const stop1 = h.stop()
  await settle()
  t.equal(h.state(), 'stopping')
  const start2 = h.start({ name: 'second' })
  const stop2 = h.stop()
  await settle()
  t.notOk(h.reply(start2), 'not answered while the stop is in flight')
  release()
  gate = Promise.resolve()
  await settle()
  const order = h.replies.map((r) => r.requestId)
  t.same(order.slice(-3), [stop1, start2, stop2], 'answers in arrival order')
  t.ok(h.reply(start2)?.ok)
  t.ok(h.reply(stop2)?.ok)
  t.equal(h.state(), 'idle')
  t.equal(h.ffmpeg.live, 0)
})

t.test('100 rapid start/stop cycles: every command answered once, in order, nothing left running', async (t) => {
  const h = harness()
  await settle()
  const ids: string[] = []
  for (let i = 0; i < 100; i++) {
    ids.push(h.start({ name: `c${i}` }))
    ids.push(h.stop())
  }
  await settle()
  for (let i = 0; i < 200 && h.state() !== 'idle'; i++) await settle()
  t.equal(h.state(), 'idle')
  t.equal(h.replies.length, 200, 'every command answered')
  t.same(h.replies.map((r) => r.requestId), ids, 'in order')
  t.ok(h.replies.every((r) => r.ok), 'each start found idle, each stop found a recording')
  // A stop replayed in the same macrostep as its start leaves `recording` before the
  // invoked capture is started: XState never starts it, so no process is spawned at all.
  t.ok(h.ffmpeg.started <= 100)
  t.equal(h.ffmpeg.started, h.ffmpeg.stopped, 'every ffmpeg started was stopped')
  t.equal(h.ffmpeg.live, 0, 'no ffmpeg left')
  t.equal(h.finalized.length, 100, 'every session finalized')
  t.equal(h.actor.getSnapshot().context.queue.length, 0)
})

t.test('supervisor STOP while recording finalizes then ends with {normal:true}', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(10)
  const queued: string[] = []
  h.actor.send({ type: 'STOP' })
  queued.push(h.start())
  await settle()
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.same(snap.output, { normal: true, reason: 'stopped' })
  t.equal(h.finalized[0]?.stopReason, 'recorder shut down')
  t.equal(h.ffmpeg.live, 0)
  const r = h.reply(queued[0]!)
  t.equal(r?.ok === false && r.error.code, 'SHUTTING_DOWN', 'a command behind the stop is refused, not lost')
})

t.test('supervisor STOP while idle ends at once', async (t) => {
  const h = harness()
  await settle()
  h.actor.send({ type: 'STOP' })
  await settle()
  t.equal(h.actor.getSnapshot().status, 'done')
})

t.test('supervisor STOP during starting: the start completes, then the session is finalized', async (t) => {
  const h = harness()
  await settle()
  const s = h.start()
  h.actor.send({ type: 'STOP' })
  await settle()
  t.equal(h.actor.getSnapshot().status, 'done')
  const r = h.reply(s)
  t.ok(r, 'the start got an answer')
  t.equal(h.ffmpeg.live, 0)
})

t.test('not ready until the store is prepared; commands sent meanwhile are answered after', async (t) => {
  let release!: () => void
  const h = harness({ prepareGate: new Promise<void>((r) => (release = r)) })
  await settle()
  t.equal(h.state(), 'starting')
  t.notOk(h.actor.getSnapshot().hasTag('ready'), 'the supervisor keeps waiting')
  const s = h.start()
  await settle()
  t.notOk(h.reply(s))
  release()
  await settle()
  t.ok(h.reply(s)?.ok)
  t.equal(h.state(), 'recording')
})

t.test('a failing disk probe or session open answers the start with an error and stays idle', async (t) => {
  const probe = harness({ free: new Error('EIO') })
  await settle()
  const a = probe.start()
  await settle()
  const ra = probe.reply(a)
  t.equal(ra?.ok === false && ra.error.code, 'UNAVAILABLE')
  t.equal(probe.state(), 'idle')

  const open = harness({ openFails: true })
  await settle()
  const b = open.start()
  await settle()
  const rb = open.reply(b)
  t.equal(rb?.ok === false && rb.error.code, 'INTERNAL')
  t.match(rb?.ok === false && rb.error.message, /permission denied/)
  t.equal(open.state(), 'idle')
  t.equal(open.ffmpeg.started, 0)
})

t.test('segment.closed is published once per file', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.ffmpeg.sendBack?.({ type: 'SEGMENT.CLOSED', file: 'seg-00001.mp4', bytes: 10 })
  h.ffmpeg.sendBack?.({ type: 'SEGMENT.CLOSED', file: 'seg-00001.mp4', bytes: 10 })
  await settle()
  t.equal(h.published.filter((e) => e.kind === 'segment.closed').length, 1)
  h.bytes(10)
  h.stop()
  await settle()
  t.equal(h.published.filter((e) => e.kind === 'segment.closed').length, 1, 'finalize does not re-announce it')
})

t.test('rapid cycles where each ffmpeg does start: all stopped, all finalized', async (t) => {
  const h = harness()
  await settle()
  for (let i = 0; i < 100; i++) {
    const s = h.start()
    await settle()
    const p = h.stop() // sent while ffmpeg runs; the next start follows without waiting
    if (i % 2 === 0) await settle()
    t.ok(h.reply(s)?.ok, `start ${i}`)
    void p
  }
  for (let i = 0; i < 20 && h.state() !== 'idle'; i++) await settle()
  t.equal(h.ffmpeg.started, 100)
  t.equal(h.ffmpeg.live, 0)
  t.equal(h.finalized.length, 100)
  t.ok(h.replies.every((r) => r.ok))
})

t.test('state names for operators and the supervisor', async (t) => {
  t.equal(recorderStateNameOf('preparing'), 'starting')
  t.equal(recorderStateNameOf('idle'), 'idle')
  t.equal(recorderStateNameOf({ starting: 'opening' }), 'starting')
  t.equal(recorderStateNameOf({ recording: { capture: 'capturing', watchdog: 'flowing', disk: 'waiting' } }), 'recording')
  t.equal(recorderStateNameOf({ recording: { capture: 'reconnecting', watchdog: 'stalled', disk: 'probing' } }), 'stalled')
  t.equal(recorderStateNameOf({ stopping: 'finalizing' }), 'stopping')
  t.equal(recorderStateNameOf({ disk_full: 'waiting' }), 'disk_full')
  t.equal(recorderStateNameOf('stopped'), 'stopped')
})

t.test('pre-roll: measured from the first run\'s progress (largest reading), handed to finalize with the post-roll tail', async (t) => {
  const h = harness({ settings: { postRollMs: 500 } })
  await settle()
  h.start()
  await settle()
  t.equal(h.state(), 'recording')
  const progress = (outMs: number, mono: number, firstRun = true) => h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs, mono, firstRun })
  // The session started at mono 0. The GOP burst lands while ffmpeg is still behind the edge…
  progress(200, 700)
  // …then it writes at the edge: 1300 ms of timeline at 900 ms after the command = 400 ms before it.
  progress(1300, 900)
  progress(1500, 1150) // a busy moment: behind the edge, a smaller reading, ignored
  t.equal(h.actor.getSnapshot().context.session?.preRollMs, 400, 'largest reading kept')
  // A later run (after a gap) has its own timeline: it says nothing of the session's start.
  progress(9000, 1200, false)
  t.equal(h.actor.getSnapshot().context.session?.preRollMs, 400, 'a later run is ignored')
  h.bytes(1000, 1000)
  const runs = h.ffmpeg.started
  h.stop()
  await settle()
  t.equal(h.actor.getSnapshot().value && JSON.stringify(h.actor.getSnapshot().value).includes('"postRoll":"tail"'), true, 'in the post-roll tail')
  t.equal(h.ffmpeg.started, runs, 'the tail keeps the running ffmpeg: no new run (it would lose the very tail it waits for)')
  t.equal(h.ffmpeg.live, 1, 'the same ffmpeg still capturing during the tail')
  await h.advance(1000)
  await settle()
  t.equal(h.finalized.length, 1)
  t.equal(h.finalized[0]!.session.preRollMs, 400, 'finalize gets the pre-roll')
  t.equal(h.finalized[0]!.postRollMs, 500, 'a requested stop with bytes waited out the post-roll')

  // Footage that began after the command: a negative pre-roll. Stopped before any byte: no tail.
  h.start()
  await settle()
  progress(100, 1600)
  t.equal(h.actor.getSnapshot().context.session?.preRollMs, 100 - (1600 - h.actor.getSnapshot().context.session!.startedMono))
  h.stop()
  await settle()
  t.equal(h.finalized[1]!.postRollMs, 0, 'no bytes at the stop: stopped at once, no tail')
})

t.test('a late start is a leading gap or a pre-roll, never both', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  const session = () => h.actor.getSnapshot().context.session!
  // The first run reports progress, then dies before any byte reaches the disk.
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 500, mono: 700, firstRun: true })
  t.equal(session().preRollMs, -200, 'footage from 200 ms after the command')
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 1', at: '2025-01-01T00:00:01.000Z', mono: 1000 })
  await h.advance(1000)
  // The next run (still the first segment number) reports while the gap is open: not a pre-roll.
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 900, mono: 2100, firstRun: true })
  h.bytes(5000, 2500)
  t.equal(session().gaps.length, 1, 'the late start is a gap from the command')
  t.equal(session().gaps[0]!.ms, 1200, 'to where the next run\'s footage began (its first reading: 2100 − 900), not to its first bytes')
  t.equal(session().preRollMs, null, 'and not also a pre-roll')
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 1500, mono: 2700, firstRun: true })
  t.equal(session().preRollMs, null, 'progress after the gap says nothing of the start')
})

t.test('a first run with no timeline yet (out_time 0) that wrote only the header and died: a gap, no pre-roll', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  const session = () => h.actor.getSnapshot().context.session!
  // ffmpeg's first progress report comes before its first packet: 0 ms of output.
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 0, mono: 590, firstRun: true })
  t.equal(session().preRollMs, null, 'out_time 0 says nothing of when footage began')
  // The segment file's header reaches the disk, then the run dies (CI saw "Connection refused").
  h.bytes(800, 700)
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 1', at: '2025-01-01T00:00:01.000Z', mono: 1000 })
  await h.advance(1000)
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 900, mono: 2100, firstRun: true })
  h.bytes(5000, 2500)
  t.equal(session().gaps.length, 1, 'the dead run is a gap')
  t.equal(session().preRollMs, null, 'and no pre-roll counts the late start a second time')
})

t.test('recording modes: a start carries its trigger into the session; SESSION.EVENT marks are kept for session.json', async (t) => {
  const h = harness()
  await settle()
  h.actor.send({ type: 'START', requestId: 'm1', name: 'motion', trigger: { kind: 'motion', at: '2025-01-01T00:00:00.000Z', mono: 0 } })
  await settle()
  t.equal(h.state(), 'recording')
  t.same(h.published.find((p) => p.kind === 'recording.started')?.payload.trigger, { kind: 'motion', at: '2025-01-01T00:00:00.000Z' }, 'recording.started says what opened it')
  h.actor.send({ type: 'SESSION.EVENT', kind: 'motion', at: 'a' })
  h.actor.send({ type: 'SESSION.EVENT', kind: 'sound', at: 'b' })
  h.stop()
  await settle()
  t.same(h.finalized[0]?.session.events, [{ kind: 'motion', at: 'a' }, { kind: 'sound', at: 'b' }], 'finalize gets the events')
  t.same(h.finalized[0]?.session.trigger, { kind: 'motion', at: '2025-01-01T00:00:00.000Z' })
  h.actor.send({ type: 'SESSION.EVENT', kind: 'motion', at: 'c' })
  t.equal(h.state(), 'idle', 'an event with no session is ignored')
})

t.test('deadline: a queued START whose deadline passed is answered TIMEOUT and never runs; a begun one runs to its end', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const h = harness({ probeGate: () => gate })
  await settle()
  const begun = h.start({ name: 'first' })
  await settle()
  t.equal(h.state(), 'starting', 'the first start is in flight (its disk probe)')
  const queued = h.start({ name: 'ghost' })
  const queuedStop = h.stop()
  await settle()
  h.actor.send({ type: 'COMMAND.EXPIRED', requestId: begun })
  h.actor.send({ type: 'COMMAND.EXPIRED', requestId: queued })
  await settle()
  t.match(h.reply(queued), { ok: false, error: { code: 'TIMEOUT' } }, 'the queued start is answered TIMEOUT at once')
  t.notOk(h.reply(begun), 'the begun start is not cut short')
  release()
  await settle()
  t.match(h.reply(begun), { ok: true, result: { name: 'first' } }, 'the begun start completes')
  t.match(h.reply(queuedStop), { ok: true }, 'the stop queued behind it still runs, in order')
  await h.advance(5000)
  t.equal(h.published.filter((p) => p.kind === 'recording.started').length, 1, 'no ghost start: one session only')
  t.equal(h.replies.filter((r) => r.requestId === queued).length, 1, 'answered once')
  h.actor.send({ type: 'COMMAND.EXPIRED', requestId: 'r-unknown' })
  await settle()
  t.equal(h.replies.length, 2 + 1, 'an expiry for a command that is no longer queued answers nothing')
})

t.test('a disk probe that never answers fails the start (UNAVAILABLE) after diskProbeTimeoutMs and frees the queue', async (t) => {
  const h = harness({ probeGate: () => new Promise<void>(() => {}), settings: { diskProbeTimeoutMs: 3000 } })
  await settle()
  const start = h.start()
  const stop = h.stop()
  await h.advance(2000)
  t.notOk(h.reply(start), 'still waiting within the bound')
  await h.advance(1000)
  t.match(h.reply(start), { ok: false, error: { code: 'UNAVAILABLE', message: /did not answer within 3000 ms/ } })
  t.match(h.reply(stop), { ok: false, error: { code: 'NOT_RECORDING' } }, 'the command queued behind it is answered too')
  t.equal(h.state(), 'idle')
})

t.test('a camera restart under a running ffmpeg (SOURCE.PAUSED): same run, gap from progress', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  const progress = (outMs: number, mono: number) => h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs, mono, firstRun: true })
  h.bytes(1000, 1000)
  progress(1500, 1500)
  progress(2000, 2000)
  const at = new Date(2100).toISOString()
  h.actor.send({ type: 'SOURCE.PAUSED', reason: 'camera reconnecting', at, mono: 2100 })
  await settle()
  t.equal(h.ffmpeg.started, 1, 'no new ffmpeg run')
  t.equal(h.ffmpeg.live, 1, 'the running ffmpeg is kept: it reads on through the restart')
  t.equal(h.state(), 'recording')
  t.ok(h.actor.getSnapshot().context.openGap?.media, 'a gap is open, measured by progress')
  // The fragment written before the kill is flushed at the new keyframe: growth, but not footage after the gap.
  h.bytes(2000, 3200)
  t.ok(h.actor.getSnapshot().context.openGap, 'growth of the files does not close it')
  progress(2000, 3000) // no timeline gained
  t.ok(h.actor.getSnapshot().context.openGap, 'a reading without new timeline does not close it')
  // 1300 ms of wall time since the reading at 2000 brought 200 ms of timeline: 1100 ms missing.
  progress(2200, 3300)
  const s = h.actor.getSnapshot().context.session!
  t.equal(h.actor.getSnapshot().context.openGap, null, 'closed by the first reading that gained timeline')
  t.same(s.gaps, [{ at, reason: 'source lost: camera reconnecting', ms: 1100 }], 'gap = elapsed − timeline gained')
  t.equal(s.bytes, 2000, 'the bytes were still counted')
})

t.test('SOURCE.PAUSED, then the ffmpeg ends (a long outage): the next run closes the gap by growth', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000, 1000)
  h.ffmpeg.sendBack?.({ type: 'PROGRESS', outMs: 1000, mono: 1000, firstRun: true })
  h.actor.send({ type: 'SOURCE.PAUSED', reason: 'camera reconnecting', at: new Date(1100).toISOString(), mono: 1100 })
  await settle()
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 1', at: new Date(5000).toISOString(), mono: 5000 })
  await settle()
  const gap = h.actor.getSnapshot().context.openGap
  t.ok(gap && !gap.media, 'still open, now closed by bytes (its ffmpeg is gone)')
  await h.advance(1000) // the reconnect delay
  await settle()
  t.equal(h.ffmpeg.started, 2, 'a new run')
  h.bytes(2000, 6500) // the new run's header
  h.bytes(3000, 6500)
  const s = h.actor.getSnapshot().context.session!
  t.equal(s.gaps.length, 1)
  t.equal(s.gaps[0]!.ms, 5400, 'from the camera\'s loss (1100) to the new run\'s first growth (6500)')
})

t.test('SOURCE.PAUSED while no ffmpeg runs (reconnecting): waits for the source like SOURCE.LOST', async (t) => {
  const h = harness()
  await settle()
  h.start()
  await settle()
  h.bytes(1000, 1000)
  h.ffmpeg.sendBack?.({ type: 'FFMPEG.EXITED', reason: 'exited with code 1', at: new Date(2000).toISOString(), mono: 2000 })
  await settle()
  h.actor.send({ type: 'SOURCE.PAUSED', reason: 'camera reconnecting', at: new Date(2100).toISOString(), mono: 2100 })
  await settle()
  t.match(JSON.stringify(h.actor.getSnapshot().value), /waitingSource/)
  h.actor.send({ type: 'SOURCE.RESUMED' })
  await settle()
  t.equal(h.ffmpeg.started, 2, 'started again when the camera is back')
})
