import t from 'tap'
import { createActor, SimulatedClock } from 'xstate'
import { backoffMs, supervisorMachine, type ChildSpec, type Strategy, type AlertEffect } from '../../../machines/supervisor.machine.js'

type Behaviour = 'ready' | 'silent'
type StopBehaviour = 'exit' | 'hang'

const backoff = { initialMs: 250, factor: 2, maxMs: 30000, jitter: 0.2, resetAfterMs: 60000 }

function spec(id: string, over: Partial<ChildSpec> = {}): ChildSpec {
  return {
    id,
    restart: 'permanent',
    shutdownMs: 1000,
    startTimeoutMs: 5000,
    backoff,
    intensity: { maxRestarts: 100, periodMs: 60000 },
    parkMs: 300000,
    ...over,
  }
}

/** A supervisor on a simulated clock whose children are scripted: they answer start and stop as told. */
function harness(specs: ChildSpec[], opts: { strategy?: Strategy; random?: number; shutdownOrder?: string[] } = {}) {
  const clock = new SimulatedClock()
  const log: string[] = []
  const alerts: AlertEffect[] = []
  const onStart: Record<string, Behaviour> = {}
  const onStop: Record<string, StopBehaviour> = {}
  const gens: Record<string, number> = {}
  const machine = supervisorMachine.provide({
    actions: {
      startChild: ({ self }, { id, gen }) => {
        log.push(`start ${id}`)
        gens[id] = gen
        if ((onStart[id] ?? 'ready') === 'ready') self.send({ type: 'CHILD.READY', id, gen })
      },
      stopChild: ({ self }, { id, gen }) => {
        log.push(`stop ${id}`)
        if ((onStop[id] ?? 'exit') === 'exit') self.send({ type: 'CHILD.EXIT', id, gen, normal: true, reason: 'stopped' })
      },
      killChild: ({ self }, { id, gen }) => {
        log.push(`kill ${id}`)
        self.send({ type: 'CHILD.EXIT', id, gen, normal: false, reason: 'killed' })
      },
      raiseAlert: (_, alert) => {
        alerts.push(alert)
      },
    },
  })
  const actor = createActor(machine, {
    clock,
    input: { specs, strategy: opts.strategy, shutdownOrder: opts.shutdownOrder, now: () => clock.now(), random: () => opts.random ?? 0.5 },
  })
  actor.start()
  return {
    actor,
    clock,
    log,
    alerts,
    onStart,
    onStop,
    crash(id: string, normal = false) {
      actor.send({ type: 'CHILD.EXIT', id, gen: gens[id] ?? 0, normal, reason: normal ? 'exited with code 0' : 'killed by SIGKILL' })
    },
    ready(id: string) {
      actor.send({ type: 'CHILD.READY', id, gen: gens[id] ?? 0 })
    },
    status(id: string) {
      return actor.getSnapshot().context.children[id]!.status
    },
    state() {
      return actor.getSnapshot().value
    },
    advance(ms: number) {
      clock.increment(ms)
    },
  }
}

t.test('backoff: the first restart immediate, then exponential, capped, jitter within bounds', async (t) => {
  const seq = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((a) => backoffMs(backoff, a, () => 0.5))
  t.same(seq, [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000])
  t.equal(backoffMs(backoff, 1, () => 1), 0, 'no jitter on the immediate first restart')
  t.equal(backoffMs(backoff, 2, () => 0), 200, 'jitter -20%')
  t.equal(backoffMs(backoff, 2, () => 1), 300, 'jitter +20%')
  t.equal(backoffMs(backoff, 20, () => 1), 36000, 'cap applies before jitter')
})

t.test('starts children in order, each after the previous is ready', async (t) => {
  const h = harness([spec('a'), spec('b'), spec('c')])
  h.onStart.b = 'silent'
  h.actor.send({ type: 'START' })
  t.same(h.log, ['start a', 'start b'], 'c waits for b')
  t.equal(h.state(), 'starting')
  h.ready('b')
  t.same(h.log, ['start a', 'start b', 'start c'])
  t.equal(h.state(), 'running')
})

t.test('a start that times out counts as a failure; the next child still starts', async (t) => {
  const h = harness([spec('a', { startTimeoutMs: 2000 }), spec('b')])
  h.onStart.a = 'silent'
  h.actor.send({ type: 'START' })
  h.advance(1999)
  t.same(h.log, ['start a'])
  h.advance(1)
  t.same(h.log, ['start a', 'kill a', 'start b'])
  t.equal(h.status('a'), 'restarting')
  t.match(h.alerts[0], { code: 'supervisor.child_restarting', message: /did not become ready within 2000 ms/ })
})

t.test('one_for_one: the configured backoff sequence between restarts', async (t) => {
  const h = harness([spec('a'), spec('b')])
  h.actor.send({ type: 'START' })
  const delays: number[] = []
  for (const expected of [0, 250, 500, 1000, 2000, 4000]) {
    h.log.length = 0
    h.crash('a')
    if (expected > 0) {
      t.equal(h.status('a'), 'restarting')
      h.advance(expected - 1)
      t.same(h.log, [], `no restart before ${expected} ms`)
      h.advance(1)
    } else h.advance(0)
    t.same(h.log, ['start a'], `restarted after ${expected} ms`)
    delays.push(h.alerts.at(-1)!.details.delayMs as number)
  }
  t.same(delays, [0, 250, 500, 1000, 2000, 4000], 'the first at once, backoff from the second')
  t.equal(h.status('b'), 'running', 'b never touched')
  t.equal(h.actor.getSnapshot().context.children.a!.gen, 7)
})

t.test('backoff resets after a stable period', async (t) => {
  const h = harness([spec('a')])
  h.actor.send({ type: 'START' })
  h.crash('a')
  h.advance(0)
  h.crash('a')
  h.advance(250)
  t.equal(h.actor.getSnapshot().context.children.a!.attempt, 2)
  h.advance(60000)
  t.equal(h.actor.getSnapshot().context.children.a!.attempt, 0, 'stable for resetAfterMs')
  h.crash('a')
  t.equal(h.alerts.at(-1)!.details.delayMs, 0, 'back to an immediate first restart')
})

t.test('restart intensity: parked as failed with a critical alert, retried after parkMs, others keep running', async (t) => {
  const h = harness([spec('a', { intensity: { maxRestarts: 3, periodMs: 60000 }, parkMs: 300000 }), spec('b')])
  h.actor.send({ type: 'START' })
  for (let i = 0; i < 3; i++) {
    h.crash('a')
    h.advance(5000)
  }
  t.equal(h.status('a'), 'running', 'three restarts allowed')
  h.crash('a')
  t.equal(h.status('a'), 'failed')
  const critical = h.alerts.filter((a) => a.severity === 'critical')
  t.equal(critical.length, 1)
  t.match(critical[0], { code: 'supervisor.child_failed', source: 'a' })
  t.equal(h.status('b'), 'running')
  t.equal(h.state(), 'running', 'the supervisor keeps running')
  h.log.length = 0
  h.advance(299999)
  t.same(h.log, [])
  h.advance(1)
  t.same(h.log, ['start a'])
  t.equal(h.status('a'), 'running')
})

t.test('failures outside the intensity period do not count', async (t) => {
  const h = harness([spec('a', { intensity: { maxRestarts: 2, periodMs: 10000 } })])
  h.actor.send({ type: 'START' })
  for (let i = 0; i < 6; i++) {
    h.crash('a')
    h.advance(11000)
  }
  t.equal(h.status('a'), 'running')
  t.equal(h.alerts.filter((a) => a.severity === 'critical').length, 0)
})

t.test('one_for_all: siblings stopped in reverse order, all restarted in start order', async (t) => {
  const h = harness([spec('a'), spec('b'), spec('c')], { strategy: 'one_for_all' })
  h.actor.send({ type: 'START' })
  h.log.length = 0
  h.crash('b')
  t.same(h.log, ['stop c', 'stop a'])
  t.equal(h.status('a'), 'held')
  t.equal(h.status('c'), 'held')
  h.advance(250)
  t.same(h.log, ['stop c', 'stop a', 'start a', 'start b', 'start c'])
  t.same(['a', 'b', 'c'].map((id) => h.status(id)), ['running', 'running', 'running'])
})

t.test('rest_for_one: only the children started after the failed one', async (t) => {
  const h = harness([spec('a'), spec('b'), spec('c'), spec('d')], { strategy: 'rest_for_one' })
  h.actor.send({ type: 'START' })
  h.log.length = 0
  h.crash('b')
  t.same(h.log, ['stop d', 'stop c'])
  t.equal(h.status('a'), 'running')
  h.advance(250)
  t.same(h.log.slice(2), ['start b', 'start c', 'start d'])
})

t.test('restart types: transient restarts only abnormal exits, temporary never', async (t) => {
  const h = harness([spec('tr', { restart: 'transient' }), spec('tmp', { restart: 'temporary' })])
  h.actor.send({ type: 'START' })
  h.crash('tr', true)
  t.equal(h.status('tr'), 'done', 'normal exit of transient')
  h.actor.send({ type: 'RESTART_CHILD', id: 'tr' })
  h.crash('tr', false)
  t.equal(h.status('tr'), 'restarting', 'abnormal exit of transient')
  h.crash('tmp', false)
  t.equal(h.status('tmp'), 'stopped')
  h.advance(60000)
  t.equal(h.status('tmp'), 'stopped', 'temporary is never restarted')
})

t.test('operator restart of a running child: stop then start, no backoff', async (t) => {
  const h = harness([spec('a'), spec('b')])
  h.actor.send({ type: 'START' })
  h.log.length = 0
  h.actor.send({ type: 'RESTART_CHILD', id: 'a' })
  t.same(h.log, ['stop a', 'start a'])
  t.equal(h.actor.getSnapshot().context.children.a!.gen, 2)
})

t.test('shutdown: reverse order, a hanging child is killed after its shutdownMs', async (t) => {
  const h = harness([spec('a'), spec('b', { shutdownMs: 3000 }), spec('c')])
  h.onStop.b = 'hang'
  h.actor.send({ type: 'START' })
  h.log.length = 0
  h.actor.send({ type: 'SHUTDOWN' })
  t.same(h.log, ['stop c', 'stop b'])
  t.equal(h.state(), 'shutting_down')
  h.advance(2999)
  t.same(h.log, ['stop c', 'stop b'], 'a waits for b')
  h.advance(1)
  t.same(h.log, ['stop c', 'stop b', 'kill b', 'stop a'])
  t.equal(h.state(), 'shutdown_complete')
  t.equal(h.actor.getSnapshot().status, 'done')
  t.match(h.alerts.at(-1), { code: 'supervisor.stop_timeout', source: 'b' })
})

t.test('shutdown: explicit order first, the rest in reverse start order; pending restarts cancelled', async (t) => {
  const h = harness([spec('nats'), spec('logs'), spec('camera'), spec('recorder'), spec('web')], { shutdownOrder: ['recorder', 'camera'] })
  h.actor.send({ type: 'START' })
  h.crash('logs')
  h.log.length = 0
  h.actor.send({ type: 'SHUTDOWN' })
  t.same(h.log, ['stop recorder', 'stop camera', 'stop web', 'stop nats'])
  h.advance(60000)
  t.same(h.log, ['stop recorder', 'stop camera', 'stop web', 'stop nats'], 'the restart of logs never happens')
  t.equal(h.state(), 'shutdown_complete')
})

t.test('a crash during shutdown is not restarted', async (t) => {
  const h = harness([spec('a'), spec('b')])
  h.onStop.b = 'hang'
  h.actor.send({ type: 'START' })
  h.actor.send({ type: 'SHUTDOWN' })
  h.crash('a')
  t.equal(h.status('a'), 'stopped')
  h.crash('b')
  t.equal(h.state(), 'shutdown_complete')
})

t.test('events of an older instance are ignored', async (t) => {
  const h = harness([spec('a')])
  h.actor.send({ type: 'START' })
  h.crash('a')
  h.advance(250)
  h.actor.send({ type: 'CHILD.EXIT', id: 'a', gen: 1, normal: false, reason: 'late exit of the old instance' })
  t.equal(h.status('a'), 'running')
})
