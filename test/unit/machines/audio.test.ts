import t from 'tap'
import { createActor, fromCallback, SimulatedClock } from 'xstate'
import {
  audioMachine,
  describeMeterExit,
  detectorStateOf,
  loudMs,
  type AudioAlert,
  type AudioInput,
  type MeterCommand,
  type MeterEvent,
  type RunMeterInput,
  type SoundPayload,
} from '../../../machines/audio.machine.js'

interface Harness {
  actor: ReturnType<typeof createActor<typeof audioMachine>>
  clock: SimulatedClock
  runs: Array<{ pid: number; input: RunMeterInput; commands: MeterCommand[]; disposed: boolean }>
  alerts: AudioAlert[]
  sounds: SoundPayload[]
  emit(e: MeterEvent): void
  /** `count` windows of `db`, 100 ms apart in stream time and on the clock. */
  levels(db: number, count: number): void
  top(): string
}

const BASE: AudioInput = { thresholdDb: -30, minMs: 300, cooldownMs: 5000, windowMs: 100, startTimeoutMs: 10000, levelTimeoutMs: 5000, stopGraceMs: 3000 }

function start(input: Partial<AudioInput> = {}, opts: { respond?: boolean } = {}): Harness {
  const clock = new SimulatedClock()
  const runs: Harness['runs'] = []
  const alerts: AudioAlert[] = []
  const sounds: SoundPayload[] = []
  let current: ((e: MeterEvent) => void) | undefined
  let streamT = 0
  const machine = audioMachine.provide({
    actors: {
      runMeter: fromCallback<MeterCommand, RunMeterInput>(({ sendBack, receive, input: runInput }) => {
        const run = { pid: 4000 + runs.length, input: runInput, commands: [] as MeterCommand[], disposed: false }
        runs.push(run)
        current = (e) => sendBack(e)
        receive((cmd) => {
          run.commands.push(cmd)
          if (opts.respond !== false && cmd.type === 'STOP') sendBack({ type: 'METER.EXITED', reason: 'exited with code 255', stderr: '' })
        })
        return () => {
          run.disposed = true
        }
      }),
    },
    actions: {
      raiseAlert: (_, a) => alerts.push(a),
      publishSound: (_, s) => sounds.push(s),
    },
  })
  const actor = createActor(machine, { clock, input: { ...BASE, ...input } })
  actor.start()
  const h: Harness = {
    actor,
    clock,
    runs,
    alerts,
    sounds,
    emit: (e) => current?.(e),
    levels(db, count) {
      for (let i = 0; i < count; i++) {
        h.emit({ type: 'LEVEL', db, t: streamT, at: 1_700_000_000_000 + Math.round(streamT * 1000) })
        streamT = Math.round((streamT + 0.1) * 10) / 10
        clock.increment(100)
      }
    },
    top: () => {
      const v = actor.getSnapshot().value
      return typeof v === 'string' ? v : Object.keys(v)[0]!
    },
  }
  return h
}

t.test('starts the meter, becomes ready on the first level', async (t) => {
  const h = start()
  t.equal(h.top(), 'starting')
  t.equal(h.runs.length, 1)
  t.same(h.runs[0]!.input, { windowMs: 100 })
  h.emit({ type: 'METER.STARTED', pid: 4000 })
  t.same(h.actor.getSnapshot().context.pids, [4000])
  t.notOk(h.actor.getSnapshot().hasTag('ready'))
  h.levels(-43, 1)
  t.equal(h.top(), 'listening')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.equal(h.actor.getSnapshot().context.levelDb, -43)
  t.same(h.alerts, [], 'a first start is not news: no audio.up')
})

t.test('a sound: above the threshold for minMs, once, then cooldown', async (t) => {
  const h = start()
  h.levels(-43, 3)
  h.levels(-11, 2)
  t.equal(h.sounds.length, 0, '200 ms of loud is not yet a sound')
  t.equal(detectorStateOf(h.actor.getSnapshot().value), 'loud')
  h.levels(-9, 1)
  t.equal(h.sounds.length, 1, '300 ms is')
  t.equal(h.sounds[0]!.db, -9, 'the loudest window')
  t.equal(h.sounds[0]!.durationMs, 300)
  t.match(h.sounds[0]!.at, /^\d{4}-\d\d-\d\dT/)
  t.equal(detectorStateOf(h.actor.getSnapshot().value), 'cooldown')
  h.levels(-11, 20)
  t.equal(h.sounds.length, 1, 'no second event during the cooldown')
  h.levels(-11, 40)
  t.equal(h.sounds.length, 2, 'after the cooldown a sound that goes on is heard again')
  const ctx = h.actor.getSnapshot().context
  t.equal(ctx.sounds, 2)
  t.equal(ctx.lastSoundAt, h.sounds[1]!.at)
})

t.test('short blips and dips do not make a sound', async (t) => {
  const h = start()
  h.levels(-43, 1)
  for (let i = 0; i < 10; i++) {
    h.levels(-5, 2)
    h.levels(-60, 1)
  }
  t.equal(h.sounds.length, 0)
  t.equal(detectorStateOf(h.actor.getSnapshot().value), 'quiet')
})

t.test('exactly at the threshold counts as loud; minMs of one window fires at once', async (t) => {
  const h = start({ minMs: 100 })
  h.levels(-43, 1)
  h.levels(-30, 1)
  t.equal(h.sounds.length, 1)
})

t.test('ffmpeg dies while listening: failed with audio.down, abnormal output', async (t) => {
  const h = start()
  h.emit({ type: 'METER.STARTED', pid: 4000 })
  h.levels(-43, 2)
  h.emit({ type: 'METER.EXITED', reason: 'killed by SIGKILL', stderr: '' })
  const s = h.actor.getSnapshot()
  t.equal(s.status, 'done')
  t.same(s.output, { normal: false, reason: 'ffmpeg killed by SIGKILL' })
  t.equal(h.alerts.length, 1)
  t.equal(h.alerts[0]!.code, 'audio.down')
  t.equal(h.alerts[0]!.severity, 'warning')
  t.equal(h.alerts[0]!.details['pid'], 4000)
  t.same(s.context.pids, [])
  t.ok(h.runs[0]!.disposed, 'the meter actor is stopped (its cleanup kills ffmpeg)')
})

t.test('a meter that never reports a level fails after startTimeout', async (t) => {
  const h = start({ startTimeoutMs: 2000 })
  h.clock.increment(1999)
  t.equal(h.top(), 'starting')
  h.clock.increment(1)
  t.equal(h.actor.getSnapshot().status, 'done')
  t.match(h.actor.getSnapshot().output, { normal: false, reason: /no audio level within 2000 ms/ })
  t.equal(h.alerts[0]!.code, 'audio.down')
})

t.test('a stalled source (no levels while listening) fails after levelTimeout', async (t) => {
  const h = start({ levelTimeoutMs: 1000 })
  h.levels(-43, 5)
  // levels() advanced 100 ms after the last level: 100 + 800 < 1000.
  h.clock.increment(800)
  t.equal(h.top(), 'listening', 'levels re-arm the watchdog')
  h.clock.increment(200)
  t.match(h.actor.getSnapshot().output, { normal: false, reason: /source stalled/ })
})

t.test('an exit before the first level says why (stderr tail)', async (t) => {
  const h = start()
  h.emit({ type: 'METER.EXITED', reason: 'exited with code 1', stderr: "Stream map '0:a:0' matches no streams.\n" })
  t.match(h.actor.getSnapshot().output, { normal: false, reason: "ffmpeg exited with code 1: Stream map '0:a:0' matches no streams." })
})

t.test('STOP: SIGTERM to the meter, then stopped (normal) when it exits', async (t) => {
  const h = start()
  h.levels(-43, 2)
  h.actor.send({ type: 'STOP' })
  t.same(h.runs[0]!.commands, [{ type: 'STOP' }])
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.same(h.alerts, [], 'an orderly stop is not audio.down')
})

t.test('STOP with a meter that does not exit: stopped after stopGrace', async (t) => {
  const h = start({}, { respond: false })
  h.levels(-43, 2)
  h.actor.send({ type: 'STOP' })
  t.equal(h.top(), 'stopping')
  h.clock.increment(3000)
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.ok(h.runs[0]!.disposed)
})

t.test('after a failure the new instance announces audio.up once listening', async (t) => {
  const h = start({ afterFailure: true })
  t.same(h.alerts, [])
  h.levels(-43, 1)
  t.equal(h.alerts.length, 1)
  t.match(h.alerts[0], { code: 'audio.up', severity: 'info' })
  h.levels(-43, 10)
  t.equal(h.alerts.length, 1)
})

t.test('helpers', async (t) => {
  t.equal(loudMs({ since: 1, last: 1.2, maxDb: -3 }, 100), 300)
  t.equal(describeMeterExit('exited with code 1', ''), 'ffmpeg exited with code 1')
  t.equal(describeMeterExit('exited with code 1', 'a\nlast line\n\n'), 'ffmpeg exited with code 1: last line')
  t.equal(detectorStateOf('starting'), null)
})

t.test('PAUSE (CPU CRITICAL): the meter goes, no alert, still ready; RESUME starts a new meter', async (t) => {
  const h = start()
  h.levels(-43, 3)
  t.equal(h.top(), 'listening')
  h.actor.send({ type: 'PAUSE' })
  t.equal(h.top(), 'paused')
  t.ok(h.runs[0]!.disposed, 'the meter actor was stopped (its cleanup kills ffmpeg)')
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'paused on purpose is not failing')
  t.same(h.actor.getSnapshot().context.pids, [])
  t.equal(h.actor.getSnapshot().context.levelDb, null, 'no stale level shown')
  h.clock.increment(60_000)
  t.equal(h.top(), 'paused', 'no level timeout while paused')
  t.same(h.alerts, [], 'no audio.down')
  h.actor.send({ type: 'RESUME' })
  t.equal(h.top(), 'starting')
  t.equal(h.runs.length, 2, 'a fresh meter')
  h.levels(-40, 1)
  t.equal(h.top(), 'listening')
  t.same(h.alerts, [], 'no audio.up either: it never failed')
  h.actor.send({ type: 'RESUME' })
  t.equal(h.top(), 'listening', 'RESUME while listening changes nothing')
  t.equal(h.runs.length, 2)
})

t.test('an instance started while paused begins paused, with no meter; STOP from paused is a normal stop', async (t) => {
  const h = start({ paused: true })
  t.equal(h.top(), 'paused')
  t.equal(h.runs.length, 0, 'no ffmpeg while paused')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.actor.send({ type: 'STOP' })
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('PAUSE while starting', async (t) => {
  const h = start()
  h.actor.send({ type: 'PAUSE' })
  t.equal(h.top(), 'paused')
  t.ok(h.runs[0]!.disposed)
  h.clock.increment(20_000)
  t.equal(h.top(), 'paused', 'no start timeout')
})
