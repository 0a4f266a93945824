import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createActor } from 'xstate'
import { embeddedServerConf } from '../../../actors/nats/serverConf.js'
import { createMqttActor } from '../../../actors/mqtt/index.js'
import { connectMqtt } from '../../../infra/mqtt/client.js'
import { createFeed } from '../../../infra/feed.js'
import { silentLogger } from '../../../infra/logger.js'
import { freePort, repoRoot, startNatsServer } from '../../helpers/natsServer.js'
import { hasMosquittoSub, mosquittoSub } from '../../helpers/mosquitto.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The hand-written MQTT 3.1.1 publisher against nats-server 2.9's MQTT listener (the
 * server conf vigil writes): retained messages, the Last Will, credentials.
 */
const skip = hasMosquittoSub() ? false : 'mosquitto_sub missing (apt-get install mosquitto-clients)'

async function mqttServer(t: Test, auth: { token: string } | null) {
  const port = await freePort()
  const conf = join(t.testdir(), 'nats-server.conf')
  writeFileSync(conf, embeddedServerConf(readFileSync(join(repoRoot, 'nats.conf'), 'utf8'), auth, { mqtt: { host: '127.0.0.1', port, serverName: 'vigil-test' } }))
  const server = await startNatsServer({ confFile: conf })
  t.teardown(() => server.stop())
  return { port, server }
}

t.test('retained messages, and the Last Will when the connection dies', { skip }, async (t) => {
  const { port } = await mqttServer(t, null)
  const conn = await connectMqtt({ host: '127.0.0.1', port }, { clientId: 'vigil-will', keepaliveS: 30, will: { topic: 'vigil/w/availability', payload: 'offline', retain: true, qos: 1 } })
  await conn.publish('vigil/w/availability', 'online', { qos: 1, retain: true })
  await conn.publish('vigil/w/q0', 'x', { qos: 0, retain: true })
  const before = mosquittoSub(t, { port, topic: 'vigil/w/#', count: 2, waitS: 10 })
  t.equal(await before.exited, 0, before.stderr())
  t.same(before.seen.map((m) => [m.retained, m.topic, m.payload]).sort(), [[true, 'vigil/w/availability', 'online'], [true, 'vigil/w/q0', 'x']], 'QoS 1 and QoS 0 retained')
  // The rig dies (no DISCONNECT): the server publishes the Will, retained.
  conn.drop()
  await conn.closed
  await waitFor(async () => {
    const after = mosquittoSub(t, { port, topic: 'vigil/w/availability', count: 1, waitS: 5 })
    await after.exited
    return after.seen[0]?.payload === 'offline' && after.seen[0].retained
  }, 10_000, 'the Will: retained offline')
  t.pass('retained offline from the Last Will')

  // A clean DISCONNECT drops the Will: online stays.
  const clean = await connectMqtt({ host: '127.0.0.1', port }, { clientId: 'vigil-will', keepaliveS: 30, will: { topic: 'vigil/w/availability', payload: 'offline', retain: true, qos: 1 } })
  await clean.publish('vigil/w/availability', 'online', { qos: 1, retain: true })
  await clean.disconnect()
  const last = mosquittoSub(t, { port, topic: 'vigil/w/availability', count: 1, waitS: 5 })
  await last.exited
  t.same(last.seen.map((m) => m.payload), ['online'], 'no Will after DISCONNECT')
})

t.test('with nats.auth: anonymous MQTT refused, the token as the MQTT password admitted', { skip }, async (t) => {
  const { port } = await mqttServer(t, { token: 'a-long-random-token-abcdefgh' })
  await t.rejects(connectMqtt({ host: '127.0.0.1', port }, { clientId: 'anon', keepaliveS: 0 }), /refused|not authori[sz]ed|bad user/i, 'anonymous refused')
  await t.rejects(connectMqtt({ host: '127.0.0.1', port }, { clientId: 'guess', keepaliveS: 0, username: 'vigil', password: 'guess' }), /refused|not authori[sz]ed|bad user/i, 'a wrong token refused')
  const ok = await connectMqtt({ host: '127.0.0.1', port }, { clientId: 'rig', keepaliveS: 0, username: 'vigil', password: 'a-long-random-token-abcdefgh' })
  await ok.publish('vigil/a/x', 'y', { qos: 1 })
  await ok.disconnect()
  t.pass('the rig credential publishes (QoS 1 acknowledged)')
})

t.test('the mqtt actor with no broker: ready at once, waiting, retrying; no throw', async (t) => {
  const port = await freePort() // nobody listens
  const alerts: unknown[] = []
  const machine = createMqttActor({
    endpoint: { host: '127.0.0.1', port },
    discovery: { node: 'n', prefix: 'homeassistant', swVersion: 't', offDelayS: { motion: 1, sound: 1 } },
    feed: createFeed(),
    recorderState: () => 'idle',
    log: silentLogger(),
    alert: (a) => void alerts.push(a),
  })
  const actor = createActor(machine, { input: { retryInitialMs: 100, retryMaxMs: 200 } })
  actor.start()
  t.ok(actor.getSnapshot().hasTag('ready'))
  await waitFor(() => actor.getSnapshot().value === 'waiting', 5000, 'waiting')
  await waitFor(() => actor.getSnapshot().context.attempt >= 3, 5000, 'retries')
  actor.send({ type: 'STOP' })
  t.equal(actor.getSnapshot().status, 'done')
  t.same(alerts, [], 'never reached: no alert')
})
