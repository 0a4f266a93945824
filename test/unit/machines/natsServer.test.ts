/**
 * The embedded nats-server's liveness probe (machines/natsServer.machine.ts): a
 * frozen server never exits, so probeMisses missed probes in a row must end the
 * machine (the supervisor restarts it; leaving the machine kills the process).
 */
import t from 'tap'
import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyEventObject } from 'xstate'
import { topStateName } from '../../../machines/stateName.js'
import {
  natsServerMachine,
  type NatsServerEvent,
  type ProbeInput,
  type RunServerCommand,
  type RunServerInput,
} from '../../../machines/natsServer.machine.js'

/** Lets fromPromise settlements (microtasks) reach the machine. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** `probeResults`: true = the server answered, false = a miss; consumed in order, then answers. */
function harness(probeResults: boolean[] = [], input: { probeIntervalMs?: number; probeMisses?: number } = {}) {
  const fake = { sendBack: undefined as ((e: NatsServerEvent) => void) | undefined, cleanedUp: 0, probes: [] as ProbeInput[] }
  const runServer = fromCallback<RunServerCommand, RunServerInput>(({ sendBack }) => {
    fake.sendBack = sendBack as (e: AnyEventObject) => void
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
  actor.start()
  const server = (e: NatsServerEvent) => fake.sendBack!(e)
  const state = () => topStateName(actor.getSnapshot().value)
  const tick = async (ms: number) => {
    clock.increment(ms)
    await settle()
  }
  return { actor, clock, fake, server, state, tick }
}

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
