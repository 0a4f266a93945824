/**
 * The embedded nats-server's machine (machines/natsServer.machine.ts): its process
 * lifecycle (start, ready, stop, stopGrace, exits) and its liveness probe (a frozen
 * server never exits, so probeMisses missed probes in a row must end the machine:
 * the supervisor restarts it; leaving the machine kills the process).
 */
import t from 'tap'
import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyEventObject } from 'xstate'
import { topStateName } from '../../../machines/stateName.js'
import {
  describeServerExit,
  natsServerMachine,
  type NatsServerEmitted,
  type NatsServerEvent,
  type ProbeInput,
  type RunServerCommand,
  type RunServerInput,
} from '../../../machines/natsServer.machine.js'

/** Lets fromPromise settlements (microtasks) reach the machine. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The test plays nats-server by sending its events. `probeResults`: true = the server
 * answered, false = a miss; consumed in order, then answers.
 */
function harness(probeResults: boolean[] = [], input: { stopGraceMs?: number; probeIntervalMs?: number; probeMisses?: number } = {}) {
  const fake = {
    sendBack: undefined as ((e: NatsServerEvent) => void) | undefined,
    received: [] as RunServerCommand[],
    started: 0,
    cleanedUp: 0,
    probes: [] as ProbeInput[],
    emitted: [] as NatsServerEmitted[],
  }
  const runServer = fromCallback<RunServerCommand, RunServerInput>(({ sendBack, receive }) => {
    fake.started++
    fake.sendBack = sendBack as (e: AnyEventObject) => void
    receive((e) => fake.received.push(e))
    return () => {
      fake.cleanedUp++
    }
  })
  const probe = fromPromise<void, ProbeInput>(async ({ input: probeInput }) => {
    const ok = probeResults[fake.probes.length] ?? true
    fake.probes.push(probeInput)
    if (!ok) throw new Error('no INFO from 127.0.0.1:4222 within 1000 ms')
  })
  const clock = new SimulatedClock()
  const actor = createActor(natsServerMachine.provide({ actors: { runServer, probe } }), { clock, input })
  actor.on('*', (e) => fake.emitted.push(e))
  actor.start()
  const server = (e: NatsServerEvent) => fake.sendBack!(e)
  const state = () => topStateName(actor.getSnapshot().value)
  const tick = async (ms: number) => {
    clock.increment(ms)
    await settle()
  }
  return { actor, clock, fake, server, state, tick }
}

t.test('starts the server on start and is ready once it reports READY', async (t) => {
  const { actor, fake, server } = harness()
  t.equal(actor.getSnapshot().value, 'starting')
  t.equal(fake.started, 1)
  t.notOk(actor.getSnapshot().hasTag('ready'))
  server({ type: 'SERVER.SPAWNED', pid: 4242 })
  t.same(actor.getSnapshot().context.pids, [4242], 'pid known while still starting')
  server({ type: 'SERVER.READY', pid: 4242, port: 4333 })
  const s = actor.getSnapshot()
  t.ok(s.matches('running'))
  t.ok(s.hasTag('ready'))
  t.same(s.context.pids, [4242])
  t.equal(s.context.port, 4333)
  actor.stop()
  t.equal(fake.cleanedUp, 1, 'stopping the actor cleans the process up')
})

t.test('STOP asks the server to stop and ends normal when it exits', async (t) => {
  const { actor, fake, server } = harness()
  server({ type: 'SERVER.READY', pid: 7 })
  actor.send({ type: 'STOP' })
  t.equal(actor.getSnapshot().value, 'stopping')
  t.same(fake.received, [{ type: 'STOP' }], 'the process actor got STOP')
  t.equal(fake.cleanedUp, 0, 'the process is not killed while it stops')
  server({ type: 'SERVER.EXITED', reason: 'exited with code 1', stderr: '' })
  const s = actor.getSnapshot()
  t.equal(s.status, 'done')
  t.equal(s.value, 'stopped')
  t.same(s.output, { normal: true, reason: 'stopped' })
  t.same(s.context.pids, [])
  t.equal(fake.cleanedUp, 1)
})

t.test('a server that ignores STOP is given up on after stopGrace', async (t) => {
  const { actor, clock, fake, server } = harness([], { stopGraceMs: 3000 })
  server({ type: 'SERVER.READY', pid: 7 })
  actor.send({ type: 'STOP' })
  clock.increment(2999)
  t.equal(actor.getSnapshot().value, 'stopping')
  clock.increment(1)
  t.equal(actor.getSnapshot().value, 'stopped')
  t.same(actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.equal(fake.cleanedUp, 1, 'cleanup (SIGKILL) ran')
})

t.test('STOP while starting stops too', async (t) => {
  const { actor, fake, server } = harness()
  actor.send({ type: 'STOP' })
  t.equal(actor.getSnapshot().value, 'stopping')
  t.same(fake.received, [{ type: 'STOP' }])
  server({ type: 'SERVER.READY', pid: 1 })
  t.equal(actor.getSnapshot().value, 'stopping', 'a late READY does not resurrect it')
  server({ type: 'SERVER.EXITED', reason: 'killed by SIGTERM', stderr: '' })
  t.same(actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('the process dying while running is a failure with its reason', async (t) => {
  const { actor, server } = harness()
  server({ type: 'SERVER.READY', pid: 9 })
  server({ type: 'SERVER.EXITED', reason: 'killed by SIGKILL', stderr: '[9] 2024/01/01 00:00:00.000000 [INF] Server is ready' })
  const s = actor.getSnapshot()
  t.equal(s.value, 'failed')
  t.equal(s.status, 'done')
  t.same(s.output, { normal: false, reason: 'nats-server killed by SIGKILL' })
  t.same(s.context.pids, [])
})

t.test('failing to start (port in use) ends failed with the port in the reason', async (t) => {
  const { actor, server } = harness()
  server({ type: 'SERVER.SPAWNED', pid: 11 })
  server({
    type: 'SERVER.EXITED',
    reason: 'exited with code 1',
    stderr: [
      '[11] 2026/11/24 10:03:23.904245 [INF] Starting nats-server',
      '[11] 2026/11/24 10:03:23.904712 [FTL] Error listening on port: 127.0.0.1:44597, "listen tcp 127.0.0.1:44597: bind: address already in use"',
    ].join('\n'),
  })
  const s = actor.getSnapshot()
  t.equal(s.value, 'failed')
  const out = s.output as { normal: boolean; reason: string }
  t.equal(out.normal, false)
  t.match(out.reason, /port already in use/)
  t.match(out.reason, /127\.0\.0\.1:44597/)
  t.match(out.reason, /exited with code 1/)
})

t.test('describeServerExit', async (t) => {
  t.equal(describeServerExit('exited with code 1', ''), 'nats-server exited with code 1')
  t.equal(
    describeServerExit('exited with code 1', 'nats-server: nats.conf:25:3: Duplicate \'store_dir\' configuration'),
    "nats-server exited with code 1: nats-server: nats.conf:25:3: Duplicate 'store_dir' configuration",
    'a config error (not a log line) is reported as is',
  )
  t.equal(
    describeServerExit('exited with code 1', '[1] 2024/01/01 00:00:00.0 [ERR] first\n[1] 2024/01/01 00:00:00.1 [FTL] last'),
    'nats-server exited with code 1: last',
    'the last fatal line wins',
  )
  t.equal(describeServerExit('could not start /nope: spawn /nope ENOENT', 'spawn /nope ENOENT'), 'nats-server could not start /nope: spawn /nope ENOENT: spawn /nope ENOENT')
})

t.test('probes the reported port every probeIntervalMs while running, and only then', async (t) => {
  const h = harness([], { probeIntervalMs: 2000 })
  await h.tick(5000)
  t.equal(h.fake.probes.length, 0, 'no probe while starting')
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  t.equal(h.state(), 'running')
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'ready while waiting between probes')
  await h.tick(1999)
  t.equal(h.fake.probes.length, 0, 'no probe before the interval')
  await h.tick(1)
  t.equal(h.fake.probes.length, 1)
  t.same(h.fake.probes[0], { port: 4333 }, 'the probe is asked about the port the server reported')
  t.ok(h.actor.getSnapshot().hasTag('ready'), 'still ready while a probe is out')
  await h.tick(2000)
  await h.tick(2000)
  t.equal(h.fake.probes.length, 3)
  t.equal(h.state(), 'running')
  h.actor.stop()
})

t.test('probeMisses consecutive misses → failed, and the process is killed (cleanup)', async (t) => {
  const h = harness([false, false, false], { probeIntervalMs: 2000, probeMisses: 3 })
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  await h.tick(2000)
  await h.tick(2000)
  t.equal(h.state(), 'running', 'two misses are tolerated')
  t.equal(h.actor.getSnapshot().context.misses, 2)
  t.equal(h.fake.cleanedUp, 0, 'the process is left alone meanwhile')
  await h.tick(2000)
  const s = h.actor.getSnapshot()
  t.equal(s.status, 'done')
  t.equal(s.value, 'failed')
  const out = s.output as { normal: boolean; reason: string }
  t.equal(out.normal, false, 'not normal: the supervisor restarts it')
  t.match(out.reason, /did not answer 3 health probes/)
  t.match(out.reason, /no INFO from 127\.0\.0\.1:4222/, 'the last miss says why')
  t.same(s.context.pids, [], 'the frozen process is no longer reported as owned')
  t.equal(h.fake.cleanedUp, 1, 'leaving the machine ran the server cleanup (SIGKILL)')
})

t.test('an answer resets the count: misses must be consecutive', async (t) => {
  const h = harness([false, false, true, false, false, true, false], { probeIntervalMs: 1000, probeMisses: 3 })
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  for (let i = 0; i < 7; i++) await h.tick(1000)
  const s = h.actor.getSnapshot()
  t.equal(s.status, 'active')
  t.equal(h.state(), 'running')
  t.equal(s.context.misses, 1)
  t.equal(h.fake.probes.length, 7)
  h.actor.stop()
})

t.test('defaults: a probe every 2000 ms, 3 misses', async (t) => {
  const h = harness([false, false, false])
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  await h.tick(1999)
  t.equal(h.fake.probes.length, 0)
  await h.tick(1)
  await h.tick(2000)
  t.equal(h.state(), 'running')
  await h.tick(2000)
  t.equal(h.state(), 'failed', 'detected 6 s after the last answer')
})

t.test('STOP during a probe stops normally; no probe afterwards', async (t) => {
  const h = harness([false], { probeIntervalMs: 2000 })
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  await h.tick(2000)
  h.actor.send({ type: 'STOP' })
  t.equal(h.state(), 'stopping')
  await h.tick(2000)
  t.equal(h.fake.probes.length, 1, 'no probe while stopping')
  h.server({ type: 'SERVER.EXITED', reason: 'exited with code 0', stderr: '' })
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('the process exiting between probes is still a failure with its reason', async (t) => {
  const h = harness([], { probeIntervalMs: 2000 })
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  await h.tick(2000)
  h.server({ type: 'SERVER.EXITED', reason: 'killed by SIGKILL', stderr: '' })
  t.same(h.actor.getSnapshot().output, { normal: false, reason: 'nats-server killed by SIGKILL' })
})

t.test('emits notAnswering on each miss and answeringAgain on the answer after misses (the rig holds its publishing meanwhile)', async (t) => {
  const h = harness([true, false, false, true, true, false, false, false], { probeIntervalMs: 1000, probeMisses: 3 })
  h.server({ type: 'SERVER.READY', pid: 42, port: 4333 })
  await h.tick(1000)
  t.same(h.fake.emitted, [], 'an answer after answers: nothing')
  await h.tick(1000)
  await h.tick(1000)
  t.same(h.fake.emitted, [{ type: 'notAnswering', misses: 1 }, { type: 'notAnswering', misses: 2 }])
  await h.tick(1000)
  await h.tick(1000)
  t.same(h.fake.emitted.slice(2), [{ type: 'answeringAgain' }], 'once, on the first answer after the misses')
  for (let i = 0; i < 3; i++) await h.tick(1000)
  t.equal(h.state(), 'failed')
  t.same(h.fake.emitted.slice(3), [{ type: 'notAnswering', misses: 1 }, { type: 'notAnswering', misses: 2 }], 'the last miss ends the machine instead')
})
