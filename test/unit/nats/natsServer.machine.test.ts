import t from 'tap'
import { SimulatedClock, createActor, fromCallback, type AnyEventObject } from 'xstate'
import {
  describeServerExit,
  natsServerMachine,
  type NatsServerEvent,
  type RunServerCommand,
  type RunServerInput,
} from '../../../machines/natsServer.machine.js'

/** A stand-in for the process: the test plays nats-server by sending its events. */
function harness(input: { stopGraceMs?: number } = {}) {
  const fake = {
    sendBack: undefined as ((e: NatsServerEvent) => void) | undefined,
    received: [] as RunServerCommand[],
    started: 0,
    cleanedUp: 0,
  }
  const runServer = fromCallback<RunServerCommand, RunServerInput>(({ sendBack, receive }) => {
    fake.started++
    fake.sendBack = sendBack as (e: AnyEventObject) => void
    receive((e) => fake.received.push(e))
    return () => {
      fake.cleanedUp++
    }
  })
  const clock = new SimulatedClock()
  const actor = createActor(natsServerMachine.provide({ actors: { runServer } }), { clock, input })
  actor.start()
  const server = (e: NatsServerEvent) => fake.sendBack!(e)
  return { actor, clock, fake, server }
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
  const { actor, clock, fake, server } = harness({ stopGraceMs: 3000 })
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
