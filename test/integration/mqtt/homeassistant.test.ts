import t from 'tap'
import { startTestRig } from '../../helpers/rig.js'
import { waitFor, isAlive } from '../../helpers/wait.js'
import { hasMosquittoSub, mosquittoSub, type MqttSeen } from '../../helpers/mosquitto.js'

/**
 * MQTT for home automation (DESIGN.md §9.2) on a real rig: its embedded nats-server's MQTT
 * listener, seen by Debian's mosquitto_sub. One rig for the whole file (CI time).
 */
const node = 'hass'

t.test('alerts, events and states reach MQTT; Home Assistant discovery is retained; offline on a clean stop', { skip: hasMosquittoSub() ? false : 'mosquitto_sub missing (apt-get install mosquitto-clients)' }, async (t) => {
  const tr = await startTestRig(t, {
    node,
    embedded: true,
    configure: (c) => {
      // Synthetic bursts every 4 s: sound events without a microphone.
      c.audio.source = 'testsrc'
      c.audio.cooldownMs = 1000
    },
  })
  const port = tr.rig.ports.mqtt
  if (port === null) throw new Error('no MQTT port on an embedded rig')
  await tr.ready(['nats', 'mqtt'], 60_000)
  const status = await tr.cmd<{ ports: Record<string, unknown> }>('supervisor', 'status')
  t.ok(status.ok && status.result.ports['mqtt'] === port, `supervisor.status reports the MQTT port ${port}`)

  const live = mosquittoSub(t, { port, topic: `vigil/${node}/#` })
  const find = (pred: (m: MqttSeen) => boolean) => live.seen.find(pred)
  // The rig's publisher starts with the tree and announces itself: retained for late comers, live for this one.
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/availability` && m.payload === 'online'), 15_000, 'availability online')
  await waitFor(async () => (await tr.child('mqtt')).state === 'online', 5_000, 'the mqtt child reads online')
  t.pass('supervisor.status: the mqtt child is online')

  // An alert, a state change and events, published by the rig on NATS only.
  tr.rig.alert({ source: 'camera', severity: 'warning', code: 'camera.test_mqtt', message: 'seen over MQTT' })
  const started = await tr.cmd('recorder', 'start', { name: 'mqtt' }, { timeoutMs: 20_000 })
  t.ok(started.ok, 'recorder.start')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/alert/warning/camera`), 10_000, 'the alert over MQTT')
  const alert = JSON.parse(find((m) => m.topic === `vigil/${node}/alert/warning/camera`)!.payload) as Record<string, unknown>
  t.match(alert, { node, code: 'camera.test_mqtt', severity: 'warning', id: String }, 'vigil/<node>/alert/<severity>/<source>: the alert as JSON')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/state/recorder` && m.payload.includes('"recording"')), 20_000, 'recorder state over MQTT')
  t.match(JSON.parse(find((m) => m.topic === `vigil/${node}/state/recorder` && m.payload.includes('"recording"'))!.payload), { node, actor: 'recorder', state: 'recording' }, 'vigil/<node>/state/<actor>')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/event/recording/started`), 10_000, 'recording.started over MQTT')
  t.pass('vigil/<node>/event/recording/started (a dotted kind is a deeper topic)')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/recording` && m.payload === 'ON'), 10_000, 'the recording sensor ON')
  t.pass('vigil/<node>/recording: ON while recording')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/event/sound`), 30_000, 'a sound event over MQTT')
  t.match(JSON.parse(find((m) => m.topic === `vigil/${node}/event/sound`)!.payload), { id: String, db: Number }, 'vigil/<node>/event/sound with its level')

  // Started after everything was published: only retained messages can reach it.
  const late = mosquittoSub(t, { port, topic: 'homeassistant/#', count: 4, waitS: 15 })
  t.equal(await late.exited, 0, `mosquitto_sub -C 4 got four retained configs (${late.stderr()})`)
  t.equal(late.seen.length, 4)
  const byObject = new Map<string, Record<string, unknown>>()
  for (const m of late.seen) {
    t.ok(m.retained, `${m.topic}: retained flag set`)
    const match = new RegExp(`^homeassistant/binary_sensor/vigil_${node}/([a-z]+)/config$`).exec(m.topic)
    t.ok(match, `${m.topic}: <prefix>/binary_sensor/<node_id>/<object_id>/config`)
    let config: Record<string, unknown> = {}
    t.doesNotThrow(() => (config = JSON.parse(m.payload) as Record<string, unknown>), `${m.topic}: valid JSON`)
    byObject.set(match?.[1] ?? m.topic, config)
  }
  t.same([...byObject.keys()].sort(), ['motion', 'online', 'recording', 'sound'])
  const device = { identifiers: [`vigil_${node}`], name: `vigil ${node}`, manufacturer: 'vigil', model: String, sw_version: String }
  for (const object of ['motion', 'sound', 'recording']) {
    t.match(
      byObject.get(object),
      { unique_id: `vigil_${node}_${object}`, name: String, state_topic: String, availability_topic: `vigil/${node}/availability`, device },
      `${object}: the keys Home Assistant needs`,
    )
  }
  t.match(byObject.get('motion'), { state_topic: `vigil/${node}/event/motion`, value_template: String, payload_on: 'ON', off_delay: Number, device_class: 'motion' })
  t.match(byObject.get('sound'), { state_topic: `vigil/${node}/event/sound`, payload_on: 'ON', off_delay: Number, device_class: 'sound' })
  t.match(byObject.get('recording'), { state_topic: `vigil/${node}/recording`, payload_on: 'ON', payload_off: 'OFF' })
  t.match(byObject.get('online'), { unique_id: `vigil_${node}_online`, state_topic: `vigil/${node}/availability`, payload_on: 'online', payload_off: 'offline', device })

  const recording = mosquittoSub(t, { port, topic: `vigil/${node}/recording`, count: 1, waitS: 10 })
  await recording.exited
  const availability = mosquittoSub(t, { port, topic: `vigil/${node}/availability`, count: 1, waitS: 10 })
  await availability.exited
  t.same(recording.seen.map((m) => [m.retained, m.payload]), [[true, 'ON']], 'the recording sensor is retained')
  t.same(availability.seen.map((m) => [m.retained, m.payload]), [[true, 'online']], 'vigil/<node>/availability: online, retained')
  if (availability.seen.length === 0) t.comment(`live: ${JSON.stringify(live.seen.filter((m) => m.topic.endsWith('availability')))}; mosquitto_sub: ${availability.stderr()}`)

  // A clean stop: the rig says offline itself before its server goes.
  const subPid = live.pid
  tr.rig.requestShutdown('test: clean stop')
  t.equal(await tr.rig.exited, 0, 'clean exit')
  await waitFor(() => !!find((m) => m.topic === `vigil/${node}/availability` && m.payload === 'offline'), 5_000, 'offline over MQTT')
  const offlineAt = live.seen.findIndex((m) => m.topic === `vigil/${node}/availability` && m.payload === 'offline')
  const offAt = live.seen.findIndex((m) => m.topic === `vigil/${node}/recording` && m.payload === 'OFF')
  t.ok(offAt >= 0 && offAt < offlineAt, 'recording OFF, then availability offline')
  await live.stop()
  t.notOk(isAlive(subPid), 'mosquitto_sub reaped')
})
