import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import { keepFreeBytesFor, recordingModeMachine, type ModeEvent, type ModeSettings, type ModeTrigger } from '../../../machines/recordingMode.machine.js'

/** Lets promise actors settle (no timers: the SimulatedClock owns time). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
}

const base: ModeSettings = {
  mode: 'manual',
  preRollMs: 5000,
  warmStartMs: 0,
  postRollMs: 30000,
  continuousSessionMs: 3600_000,
  retryMs: 1000,
  freeSpaceRetention: false,
  keepFreeBytes: null,
  minFreeBytes: 1000,
  diskProbeMs: 1000,
  bufferRestartMs: 1000,
}

/**
 * The mode machine against a fake recorder: `open` and `close` behave like the recorder's
 * start and stop (each publishes RECORDER.STARTED / STOPPED back, as the real wiring does).
 */
function harness(settings: Partial<ModeSettings>, opts: { free?: () => number; deletable?: string[] } = {}) {
  const clock = new SimulatedClock()
  const opened: ModeTrigger[] = []
  const closed: string[] = []
  const events: Array<{ kind: string; at: string }> = []
  const buffers = { started: 0, stopped: 0, windows: [] as number[], at: [] as number[] }
  const room: number[] = []
  const deletable = [...(opts.deletable ?? [])]
  let n = 0
  let recording: string | null = null
  let send: (e: ModeEvent) => void = () => undefined
  const machine = recordingModeMachine.provide({
    actors: {
      openRecording: fromPromise<{ id: string }, { trigger: ModeTrigger }>(async ({ input }) => {
        if (recording) throw new Error('ALREADY_RECORDING')
        opened.push(input.trigger)
        recording = `s${++n}`
        send({ type: 'RECORDER.STARTED', id: recording, kind: input.trigger.kind })
        return { id: recording }
      }),
      closeRecording: fromPromise<void, { id: string }>(async ({ input }) => {
        closed.push(input.id)
        recording = null
        send({ type: 'RECORDER.STOPPED', id: input.id })
      }),
      probeDisk: fromPromise<{ freeBytes: number; totalBytes: number }, void>(async () => ({ freeBytes: opts.free?.() ?? 1e12, totalBytes: 1e12 })),
      makeRoom: fromPromise<{ deleted: string[]; freeBytes: number }, { keepFreeBytes: number }>(async ({ input }) => {
        room.push(input.keepFreeBytes)
        const d = deletable.shift()
        return { deleted: d ? [d] : [], freeBytes: opts.free?.() ?? 0 }
      }),
      preRollBuffer: fromCallback<ModeEvent, { preRollMs: number }>(({ input }) => {
        buffers.started++
        buffers.windows.push(input.preRollMs)
        buffers.at.push(clock.now())
        return () => {
          buffers.stopped++
        }
      }),
    },
    actions: { recordEvent: (_, e) => void events.push(e) },
  })
  const actor = createActor(machine, { clock, input: { settings: { ...base, ...settings } } })
  send = (e) => actor.send(e)
  actor.start()
  /** A manual start or stop seen from here: only the recorder's publications. */
  const byHand = {
    start() {
      recording = `m${++n}`
      actor.send({ type: 'RECORDER.STARTED', id: recording, kind: 'manual' })
      return recording
    },
    stop() {
      const id = recording!
      recording = null
      actor.send({ type: 'RECORDER.STOPPED', id })
    },
  }
  const trigger = (kind: 'motion' | 'sound', mono: number) => actor.send({ type: 'TRIGGER', kind, at: new Date(1_700_000_000_000 + mono).toISOString(), mono })
  const advance = async (ms: number) => {
    clock.increment(ms)
    await settle()
  }
  const state = () => JSON.stringify(actor.getSnapshot().value)
  return { actor, clock, opened, closed, events, buffers, room, trigger, advance, state, byHand, recording: () => recording }
}

t.test('manual: nothing opens on its own, events are ignored, no buffer', async (t) => {
  const h = harness({ mode: 'manual' })
  h.trigger('motion', 1)
  await h.advance(60_000)
  t.same(h.opened, [])
  t.equal(h.buffers.started, 0)
  h.actor.stop()
})

t.test('events: a trigger opens a session with its trigger; events extend it; postRoll after the last closes it', async (t) => {
  const h = harness({ mode: 'events', postRollMs: 30_000 })
  await h.advance(0)
  t.equal(h.buffers.started, 1, 'the pre-roll buffer runs in events mode')
  h.trigger('motion', 1000)
  await h.advance(0)
  t.equal(h.opened.length, 1, 'the trigger opened a session')
  t.match(h.opened[0], { kind: 'motion', mono: 1000 }, 'with the trigger (kind, time) for pre-roll and session.json')
  t.same(h.events.map((e) => e.kind), ['motion'], 'the trigger is the first event of the session')
  await h.advance(20_000)
  h.trigger('sound', 21_000)
  await h.advance(0)
  t.same(h.events.map((e) => e.kind), ['motion', 'sound'], 'a later event is listed')
  await h.advance(29_000)
  t.same(h.closed, [], '29 s after the last event: still open (the event extended it)')
  await h.advance(1000)
  t.same(h.closed, ['s1'], 'postRoll after the last event: closed')
  t.equal(h.opened.length, 1, 'one session for both events')
  h.trigger('sound', 60_000)
  await h.advance(0)
  t.equal(h.opened.length, 2, 'the next event opens a new session')
  h.actor.stop()
  t.equal(h.buffers.stopped, 1, 'the buffer stops with the machine')
})

t.test('events: a trigger while the previous session is closing opens the next one', async (t) => {
  const h = harness({ mode: 'events', postRollMs: 1000 })
  h.trigger('motion', 0)
  await h.advance(0)
  await h.advance(1000)
  t.same(h.closed, ['s1'])
  h.trigger('motion', 5000)
  await h.advance(0)
  t.equal(h.opened.length, 2)
  h.actor.stop()
})

t.test('events: recorder.start by hand still works; the session collects events and is never closed by the mode', async (t) => {
  const h = harness({ mode: 'events', postRollMs: 1000 })
  await h.advance(0)
  const id = h.byHand.start()
  await h.advance(0)
  h.trigger('motion', 100)
  await h.advance(0)
  t.same(h.opened, [], 'no second session was tried')
  t.same(h.events.map((e) => e.kind), ['motion'], 'the event is listed in the manual session')
  await h.advance(60_000)
  t.same(h.closed, [], 'postRoll does not close a session started by hand')
  h.byHand.stop()
  await h.advance(0)
  t.equal(h.recording(), null, `${id} stopped by hand`)
  h.trigger('sound', 70_000)
  await h.advance(0)
  t.equal(h.opened.length, 1, 'after it, events open sessions again')
  h.actor.stop()
})

t.test('events: a session stopped by hand is not closed again', async (t) => {
  const h = harness({ mode: 'events', postRollMs: 10_000 })
  h.trigger('motion', 0)
  await h.advance(0)
  h.byHand.stop()
  await h.advance(20_000)
  t.same(h.closed, [], 'the mode does not stop what is already stopped')
  t.match(h.state(), /"session":"idle"/)
  h.actor.stop()
})

t.test('manual with a warm start: the buffer runs for it (window = the warm start)', async (t) => {
  const h = harness({ mode: 'manual', warmStartMs: 1000 })
  await h.advance(0)
  t.same(h.buffers.windows, [1000], 'one buffer, keeping the warm start')
  h.trigger('motion', 1)
  await h.advance(60_000)
  t.same(h.opened, [], 'events still open nothing in manual mode')
  h.actor.stop()
  t.equal(h.buffers.stopped, 1, 'the buffer stops with the machine')
})

t.test('events with a warm start: the buffer keeps the larger of pre-roll and warm start', async (t) => {
  const h = harness({ mode: 'events', preRollMs: 5000, warmStartMs: 1000 })
  await h.advance(0)
  t.same(h.buffers.windows, [5000])
  h.actor.stop()
  const h2 = harness({ mode: 'events', preRollMs: 0, warmStartMs: 2000 })
  await h2.advance(0)
  t.same(h2.buffers.windows, [2000], 'pre-roll 0: the warm start alone keeps a buffer')
  h2.actor.stop()
})

t.test('a buffer ffmpeg that keeps ending early is restarted with backoff; a long run resets it', async (t) => {
  const h = harness({ mode: 'manual', warmStartMs: 1000, bufferRestartMs: 1000 })
  await h.advance(0)
  const exit = (ranMs: number) => h.actor.send({ type: 'BUFFER.EXITED', reason: 'Input/output error', ranMs })
  const restartAfter = async (): Promise<number> => {
    const before = h.buffers.started
    const t0 = h.clock.now()
    for (let waited = 0; waited <= 40_000; waited += 250) {
      if (h.buffers.started > before) return h.buffers.at.at(-1)! - t0
      await h.advance(250)
    }
    return -1
  }
  const delays: number[] = []
  for (let i = 0; i < 7; i++) {
    exit(300)
    delays.push(await restartAfter())
  }
  t.same(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000], 'doubling from bufferRestartMs, capped at 30 s')
  exit(60_000)
  t.equal(await restartAfter(), 1000, 'after a run that worked, the first restart is quick again')
  h.actor.stop()
})

t.test('no buffer: continuous mode (warm start or not), events with pre-roll 0 and no warm start', async (t) => {
  const cases: Array<Partial<ModeSettings>> = [
    { mode: 'continuous', warmStartMs: 1000 },
    { mode: 'continuous', warmStartMs: 0 },
    { mode: 'events', preRollMs: 0 },
  ]
  for (const settings of cases) {
    const h = harness(settings)
    await h.advance(0)
    t.equal(h.buffers.started, 0, JSON.stringify(settings))
    h.actor.stop()
  }
})

t.test('continuous: records from the start and rolls over every continuousSessionMs', async (t) => {
  const h = harness({ mode: 'continuous', continuousSessionMs: 60_000 })
  await h.advance(0)
  t.equal(h.opened.length, 1, 'recording from the start')
  t.equal(h.opened[0]!.kind, 'continuous')
  await h.advance(59_999)
  t.same(h.closed, [])
  await h.advance(1)
  t.same(h.closed, ['s1'], 'rolled over')
  t.equal(h.opened.length, 2, 'and the next session opened at once')
  await h.advance(60_000)
  await h.advance(60_000)
  t.same(h.closed, ['s1', 's2', 's3'])
  t.equal(h.recording(), 's4')
  h.actor.stop()
})

t.test('continuous: a session ended from outside (stop, disk full) is followed by a new one after retryMs', async (t) => {
  const h = harness({ mode: 'continuous', retryMs: 2000 })
  await h.advance(0)
  h.byHand.stop()
  await h.advance(1999)
  t.equal(h.opened.length, 1)
  await h.advance(1)
  t.equal(h.opened.length, 2, 'started again')
  h.actor.stop()
})

t.test('disk low: the oldest finished sessions are deleted while free < keepFreeBytes; the recording goes on', async (t) => {
  let free = 10_000
  const h = harness({ mode: 'continuous', freeSpaceRetention: true, keepFreeBytes: 5000, diskProbeMs: 1000 }, { free: () => free, deletable: ['old1', 'old2'] })
  await h.advance(0)
  await h.advance(1000)
  t.same(h.room, [], 'plenty of space: nothing deleted')
  free = 4000
  await h.advance(1000)
  t.same(h.room, [5000], 'below keepFreeBytes: room is made')
  await h.advance(1000)
  t.equal(h.room.length, 2, 'and again on the next probe while still low')
  free = 6000
  await h.advance(5000)
  t.equal(h.room.length, 2, 'not once space is back')
  t.same(h.closed, [], 'the recording was never stopped for it')
  t.equal(h.recording(), 's1')
  h.actor.stop()
})

t.test('free-space retention off: nothing deleted however low', async (t) => {
  const h = harness({ mode: 'continuous', freeSpaceRetention: false }, { free: () => 0 })
  await h.advance(10_000)
  t.same(h.room, [])
  h.actor.stop()
})

t.test('keepFreeBytes default: minFreeBytes + max(256 MiB, 5 % of the disk)', async (t) => {
  const MiB = 1024 * 1024
  t.equal(keepFreeBytesFor({ keepFreeBytes: null, minFreeBytes: 2048 * MiB }, 1000 * MiB), 2048 * MiB + 256 * MiB, 'small disk: 256 MiB margin')
  t.equal(keepFreeBytesFor({ keepFreeBytes: null, minFreeBytes: 2048 * MiB }, 100_000 * MiB), 2048 * MiB + 5000 * MiB, 'large disk: 5 %')
  t.equal(keepFreeBytesFor({ keepFreeBytes: 123, minFreeBytes: 100 }, 1e12), 123, 'configured value wins')
})

t.test('manual mode (retention on by default): a recording by hand goes on while the oldest are deleted', async (t) => {
  // The harness's disk is 1e12 bytes: the default target is minFreeBytes + 5 % of it.
  const target = 1000 + 5e10
  let free = target
  // What actors/recorder/index.ts gives a default config: on, keepFreeBytes computed.
  const h = harness({ mode: 'manual', freeSpaceRetention: true, keepFreeBytes: null, minFreeBytes: 1000, diskProbeMs: 1000 }, { free: () => free, deletable: ['old1'] })
  const id = h.byHand.start()
  await h.advance(1000)
  t.same(h.room, [], 'free above the default target: nothing deleted')
  free = target - 1
  await h.advance(1000)
  t.same(h.room, [target], 'below minFreeBytes + 5 % of the disk (the default): room is made')
  t.same(h.opened, [], 'manual: nothing opened on its own')
  t.same(h.closed, [], 'the recording by hand was never stopped for it')
  t.equal(h.recording(), id)
  h.actor.stop()
})
