import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import {
  describeServerExit,
  mediaMachine,
  mediaStateName,
  type MediaInput,
  type MediaServerCommand,
  type MediaServerEvent,
  type MediaServerInput,
} from '../../../machines/media.machine.js'

/** Lets fromPromise settlements (microtasks) reach the machine. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Harness {
  actor: ReturnType<typeof createActor<typeof mediaMachine>>
  clock: SimulatedClock
  commands: MediaServerCommand[]
  probes: { count: number }
  /** What each runServer was given. */
  inputs: MediaServerInput[]
  state(): string
  emit(event: MediaServerEvent): void
}

/** `probeResults`: true = hit, false = miss, consumed in order; then hits. */
function start(probeResults: boolean[] = [], opts: { exitOnStop?: boolean; input?: Partial<MediaInput> } = {}): Harness {
  const clock = new SimulatedClock()
  const commands: MediaServerCommand[] = []
  const probes = { count: 0 }
  const inputs: MediaServerInput[] = []
  let sendBack: ((e: MediaServerEvent) => void) | undefined
  const machine = mediaMachine.provide({
    actors: {
      runServer: fromCallback<MediaServerCommand, MediaServerInput>(({ sendBack: sb, receive, input }) => {
        inputs.push(input)
        sendBack = sb as (e: MediaServerEvent) => void
        receive((cmd) => {
          commands.push(cmd)
          if (cmd.type === 'STOP' && opts.exitOnStop !== false) sendBack?.({ type: 'MEDIA.EXITED', reason: 'exited with code 0', normal: true, stderr: '' })
        })
      }),
      probe: fromPromise(async () => {
        const ok = probeResults[probes.count] ?? true
        probes.count += 1
        if (!ok) throw new Error('connect ECONNREFUSED 127.0.0.1:8000')
      }),
    },
  })
  const actor = createActor(machine, { input: { probeIntervalMs: 2000, probeMisses: 3, ...opts.input }, clock })
  actor.start()
  return {
    actor,
    clock,
    commands,
    probes,
    inputs,
    state: () => mediaStateName(actor.getSnapshot().value),
    emit: (e) => sendBack?.(e),
  }
}

async function readyHarness(probeResults: boolean[] = [], opts: { exitOnStop?: boolean; input?: Partial<MediaInput> } = {}): Promise<Harness> {
  const h = start(probeResults, opts)
  h.emit({ type: 'MEDIA.STARTED', pid: 4242 })
  h.emit({ type: 'MEDIA.READY' })
  await settle()
  return h
}

/** One probe period: the wait, then the probe's settlement. */
async function probeOnce(h: Harness): Promise<void> {
  h.clock.increment(2000)
  await settle()
}

t.test('starts, records the pid and becomes ready on the child report', async (t) => {
  const h = start()
  t.equal(h.state(), 'starting')
  t.notOk(h.actor.getSnapshot().hasTag('ready'))
  h.emit({ type: 'MEDIA.STARTED', pid: 4242 })
  t.same(h.actor.getSnapshot().context.pids, [4242])
  h.emit({ type: 'MEDIA.READY' })
  t.equal(h.state(), 'running')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.actor.stop()
})

t.test('probes every probeIntervalMs while running', async (t) => {
  const h = await readyHarness()
  h.clock.increment(1999)
  await settle()
  t.equal(h.probes.count, 0, 'no probe before the interval')
  h.clock.increment(1)
  await settle()
  t.equal(h.probes.count, 1)
  await probeOnce(h)
  await probeOnce(h)
  t.equal(h.probes.count, 3)
  t.equal(h.state(), 'running')
  h.actor.stop()
})

t.test('3 consecutive probe misses end in failed (the supervisor restarts it)', async (t) => {
  const h = await readyHarness([false, false, false])
  await probeOnce(h)
  await probeOnce(h)
  t.equal(h.state(), 'running', 'two misses are tolerated')
  t.equal(h.actor.getSnapshot().context.misses, 2)
  await probeOnce(h)
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.equal(mediaStateName(snap.value), 'failed')
  t.same(snap.output, { normal: false, reason: 'health probe failed 3 times' })
})

t.test('2 misses then a hit keep it running and reset the count', async (t) => {
  const h = await readyHarness([false, false, true, false, false, true])
  for (let i = 0; i < 6; i++) await probeOnce(h)
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'active')
  t.equal(h.state(), 'running')
  t.equal(snap.context.misses, 0)
  t.equal(h.probes.count, 6)
  h.actor.stop()
})

t.test('process exit → failed with the reason and the last stderr line', async (t) => {
  const h = await readyHarness()
  h.emit({ type: 'MEDIA.EXITED', reason: 'killed by SIGKILL', normal: false, stderr: '[info] RTMP session 1 close' })
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.same(snap.output, { normal: false, reason: 'media server killed by SIGKILL: [info] RTMP session 1 close' })
  t.same(snap.context.pids, [])
})

t.test('exit while starting is a failure too', async (t) => {
  const h = start()
  h.emit({ type: 'MEDIA.EXITED', reason: 'exited with code 1', normal: false, stderr: '[error] HTTP server failed to start: port 127.0.0.1:8000 is already in use.' })
  t.same(h.actor.getSnapshot().output, {
    normal: false,
    reason: 'media server exited with code 1: [error] HTTP server failed to start: port 127.0.0.1:8000 is already in use.',
  })
})

t.test('no ready report within startTimeoutMs → failed', async (t) => {
  const h = start()
  h.clock.increment(14999)
  t.equal(h.state(), 'starting')
  h.clock.increment(1)
  t.same(h.actor.getSnapshot().output, { normal: false, reason: 'media server not ready within 15000 ms' })
})

t.test('STOP asks the child to stop and ends normally on its exit', async (t) => {
  const h = await readyHarness()
  h.actor.send({ type: 'STOP' })
  t.same(h.commands, [{ type: 'STOP' }])
  const snap = h.actor.getSnapshot()
  t.equal(mediaStateName(snap.value), 'stopped')
  t.same(snap.output, { normal: true, reason: 'stopped' })
})

t.test('STOP with a child that does not exit: stopped after the grace (leaving kills it)', async (t) => {
  const h = await readyHarness([], { exitOnStop: false })
  h.actor.send({ type: 'STOP' })
  t.equal(h.state(), 'stopping')
  t.notOk(h.actor.getSnapshot().hasTag('ready'))
  h.clock.increment(3000)
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('an actor that throws on start is a failure, not a crash', async (t) => {
  const machine = mediaMachine.provide({
    actors: {
      runServer: fromCallback(() => {
        throw new Error('spawn EACCES')
      }),
    },
  })
  const actor = createActor(machine, { input: { probeIntervalMs: 2000, probeMisses: 3 }, clock: new SimulatedClock() })
  actor.start()
  t.same(actor.getSnapshot().output, { normal: false, reason: 'media server could not start: spawn EACCES' })
})

t.test('the server actor is given the heartbeat timeout (default 1500 ms, or the configured one)', async (t) => {
  const h = start()
  t.same(h.inputs, [{ heartbeatTimeoutMs: 1500 }])
  h.actor.stop()
  const custom = start([], { input: { heartbeatTimeoutMs: 4000 } })
  t.same(custom.inputs, [{ heartbeatTimeoutMs: 4000 }])
  custom.actor.stop()
})

t.test('a silent server (MEDIA.UNRESPONSIVE) → failed at once, with the silence in the reason', async (t) => {
  const h = await readyHarness()
  h.clock.increment(1600)
  await settle()
  t.equal(h.state(), 'running', 'no probe has missed yet')
  h.emit({ type: 'MEDIA.UNRESPONSIVE', silentMs: 1620 })
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.equal(mediaStateName(snap.value), 'failed')
  t.same(snap.output, { normal: false, reason: 'media server silent for 1.6 s (frozen?)' })
  t.equal(snap.context.lastError, 'media server silent for 1.6 s (frozen?)')
  t.same(snap.context.pids, [], 'the frozen process is no longer reported as ours (leaving `serving` kills it)')
  t.equal(h.probes.count, 0, 'the heartbeat, not the probe, noticed it')
})

t.test('a silence reported while stopping is not a failure: the stop ends normally', async (t) => {
  const h = await readyHarness([], { exitOnStop: false })
  h.actor.send({ type: 'STOP' })
  h.emit({ type: 'MEDIA.UNRESPONSIVE', silentMs: 1600 })
  t.equal(h.state(), 'stopping')
  h.clock.increment(3000)
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('describeServerExit without stderr', async (t) => {
  t.equal(describeServerExit({ reason: 'exited with code 0', stderr: '' }), 'media server exited with code 0')
})
