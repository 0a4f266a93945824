import t from 'tap'
import { createActor, fromCallback, SimulatedClock } from 'xstate'
import { mqttMachine, mqttRetryDelay, type MqttAlert, type MqttSessionCommand, type MqttSessionEvent } from '../../../machines/mqtt.machine.js'

interface Session {
  send(e: MqttSessionEvent): void
  commands: MqttSessionCommand[]
  disposed: boolean
}

function start() {
  const clock = new SimulatedClock()
  const sessions: Session[] = []
  const alerts: MqttAlert[] = []
  let lost = 0
  const machine = mqttMachine.provide({
    actors: {
      session: fromCallback<MqttSessionCommand>(({ sendBack, receive }) => {
        const s: Session = { send: (e) => sendBack(e), commands: [], disposed: false }
        sessions.push(s)
        receive((c) => s.commands.push(c))
        return () => {
          s.disposed = true
        }
      }),
    },
    actions: {
      raiseAlert: (_, params) => void alerts.push(params),
      logLost: () => void (lost += 1),
    },
  })
  const actor = createActor(machine, { clock, input: { retryInitialMs: 1000, retryMaxMs: 8000, goodbyeMs: 2000 } })
  actor.start()
  return { actor, clock, sessions, alerts, lost: () => lost, last: () => sessions.at(-1)! }
}

t.test('every state is ready: a broker that is down never holds the rig', async (t) => {
  const h = start()
  t.same(h.actor.getSnapshot().value, { linked: 'connecting' })
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.last().send({ type: 'MQTT.LOST', reason: 'ECONNREFUSED 127.0.0.1:1883' })
  t.equal(h.actor.getSnapshot().value, 'waiting')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.ok(h.sessions[0]!.disposed, 'the failed session is cleaned up')
  t.equal(h.alerts.length, 0, 'a broker never reached is logged, not alerted')
  t.equal(h.lost(), 1)
})

t.test('retries with a doubling, capped delay; reset once online', async (t) => {
  const h = start()
  const delays: number[] = []
  for (let i = 0; i < 5; i++) {
    h.last().send({ type: 'MQTT.LOST', reason: 'refused' })
    const before = h.sessions.length
    let waited = 0
    while (h.sessions.length === before) {
      h.clock.increment(250)
      waited += 250
    }
    delays.push(waited)
  }
  t.same(delays, [1000, 2000, 4000, 8000, 8000])
  h.last().send({ type: 'MQTT.ONLINE' })
  t.same(h.actor.getSnapshot().value, { linked: 'online' })
  t.equal(h.actor.getSnapshot().context.attempt, 0)
  t.equal(mqttRetryDelay({ attempt: 1, retryInitialMs: 1000, retryMaxMs: 60000 }), 1000)
  t.equal(mqttRetryDelay({ attempt: 20, retryInitialMs: 1000, retryMaxMs: 60000 }), 60000)
})

t.test('a broker lost after online: one warning, then one info when back', async (t) => {
  const h = start()
  h.last().send({ type: 'MQTT.ONLINE' })
  t.equal(h.alerts.length, 0, 'the first connect is no news')
  h.last().send({ type: 'MQTT.LOST', reason: 'connection reset' })
  h.clock.increment(1000)
  h.last().send({ type: 'MQTT.LOST', reason: 'refused' })
  h.clock.increment(2000)
  t.equal(h.alerts.length, 1, 'not one per retry')
  t.match(h.alerts[0], { code: 'mqtt.unreachable', severity: 'warning', details: { reason: 'connection reset' } })
  h.last().send({ type: 'MQTT.ONLINE' })
  t.match(h.alerts[1], { code: 'mqtt.reachable', severity: 'info' })
})

t.test('STOP while online: the session says goodbye (offline), then stopped', async (t) => {
  const h = start()
  h.last().send({ type: 'MQTT.ONLINE' })
  h.actor.send({ type: 'STOP' })
  t.same(h.actor.getSnapshot().value, { linked: 'goingOffline' })
  t.same(h.last().commands, [{ type: 'GO_OFFLINE' }])
  h.last().send({ type: 'MQTT.CLOSED' })
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.ok(h.last().disposed)
})

t.test('a goodbye that hangs is cut at goodbyeMs; STOP while connecting or waiting stops at once', async (t) => {
  const h = start()
  h.last().send({ type: 'MQTT.ONLINE' })
  h.actor.send({ type: 'STOP' })
  h.clock.increment(1999)
  t.equal(h.actor.getSnapshot().status, 'active')
  h.clock.increment(1)
  t.equal(h.actor.getSnapshot().status, 'done')

  const c = start()
  c.actor.send({ type: 'STOP' })
  t.equal(c.actor.getSnapshot().status, 'done', 'connecting')
  const w = start()
  w.last().send({ type: 'MQTT.LOST', reason: 'refused' })
  w.actor.send({ type: 'STOP' })
  t.equal(w.actor.getSnapshot().status, 'done', 'waiting')
})
