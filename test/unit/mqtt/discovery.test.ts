import t from 'tap'
import { discoveryMessages, recordingPayload } from '../../../actors/mqtt/discovery.js'
import { mqttEndpoint } from '../../../actors/mqtt/endpoint.js'
import { embeddedServerConf } from '../../../actors/nats/serverConf.js'
import { natsServerArgs } from '../../../actors/nats/serverArgs.js'
import { loadConfig } from '../../../infra/config/load.js'
import { mqttTopics, topicOf } from '../../../infra/mqtt/topics.js'
import { parseMqttUrl } from '../../../infra/mqtt/client.js'
import { subjects } from '../../../infra/subjects.js'

const input = { node: 'nursery', prefix: 'homeassistant', swVersion: '0.1.0', offDelayS: { motion: 10, sound: 5 } }

t.test('discovery: one retained config per sensor, with the keys Home Assistant needs', async (t) => {
  const messages = discoveryMessages(input)
  t.same(
    messages.map((m) => m.topic),
    ['motion', 'sound', 'recording', 'online'].map((o) => `homeassistant/binary_sensor/vigil_nursery/${o}/config`),
  )
  const ids = new Set<string>()
  for (const { topic, config } of messages) {
    t.doesNotThrow(() => JSON.parse(JSON.stringify(config)), `${topic}: plain JSON`)
    t.match(config, { unique_id: /^vigil_nursery_[a-z]+$/, name: String, state_topic: String, device: { identifiers: ['vigil_nursery'], name: 'vigil nursery', model: String, manufacturer: 'vigil', sw_version: '0.1.0' } })
    ids.add(config['unique_id'] as string)
  }
  t.equal(ids.size, 4, 'unique ids differ')
  const [motion, sound, recording, online] = messages.map((m) => m.config)
  // Momentary sensors: any event is ON, HA's off_delay ends it; the event JSON becomes attributes.
  t.match(motion, { state_topic: 'vigil/nursery/event/motion', value_template: "{{ 'ON' }}", payload_on: 'ON', off_delay: 10, device_class: 'motion', json_attributes_topic: 'vigil/nursery/event/motion' })
  t.match(sound, { state_topic: 'vigil/nursery/event/sound', payload_on: 'ON', off_delay: 5, device_class: 'sound' })
  t.match(recording, { state_topic: 'vigil/nursery/recording', payload_on: 'ON', payload_off: 'OFF' })
  t.notOk('off_delay' in recording!, 'recording is a real state, not momentary')
  for (const c of [motion, sound, recording]) t.match(c, { availability_topic: 'vigil/nursery/availability', payload_available: 'online', payload_not_available: 'offline' })
  t.match(online, { state_topic: 'vigil/nursery/availability', payload_on: 'online', payload_off: 'offline', device_class: 'connectivity' })
  t.notOk('availability_topic' in online!, 'the online sensor is itself the availability: never "unavailable"')
})

t.test('discovery: another prefix; the recording payload', async (t) => {
  t.equal(discoveryMessages({ ...input, prefix: 'ha/test' })[0]!.topic, 'ha/test/binary_sensor/vigil_nursery/motion/config')
  t.equal(recordingPayload('recording'), 'ON')
  for (const s of ['idle', 'stopping', 'disk_full', 'down']) t.equal(recordingPayload(s), 'OFF', s)
})

t.test('topics: the NATS subjects with / for . (what nats-server MQTT clients see)', async (t) => {
  t.equal(topicOf(subjects.alert('n1', 'critical', 'camera')), 'vigil/n1/alert/critical/camera')
  t.equal(mqttTopics.event('n1', 'recording.started'), 'vigil/n1/event/recording/started')
  t.equal(mqttTopics.state('n1', 'recorder'), 'vigil/n1/state/recorder')
  t.equal(mqttTopics.allOf('n1'), 'vigil/n1/#')
  t.equal(mqttTopics.availability('n1'), 'vigil/n1/availability')
  t.throws(() => mqttTopics.availability('a/b'), 'a node that is not a subject token is refused')
})

t.test('config: nats.mqttPort (VIGIL_MQTT_PORT) and mqtt.* (VIGIL_MQTT_URL)', async (t) => {
  const cwd = t.testdir()
  const d = loadConfig({ env: {}, cwd })
  t.equal(d.nats.mqttPort, 1883, 'default 1883')
  t.match(d.mqtt, { enabled: true, discoveryPrefix: 'homeassistant', offDelayS: 10 })
  t.equal(d.mqtt.url, undefined)
  t.equal(loadConfig({ env: { VIGIL_MQTT_PORT: '0' }, cwd }).nats.mqttPort, 0, '0 = a free port')
  t.equal(loadConfig({ env: { VIGIL_MQTT_URL: 'mqtt://broker.lan:1884' }, cwd }).mqtt.url, 'mqtt://broker.lan:1884')
  t.throws(() => loadConfig({ env: { VIGIL_MQTT_PORT: 'x' }, cwd }), /VIGIL_MQTT_PORT: must be a whole number/)
  const bad = (() => {
    try {
      loadConfig({ env: { VIGIL_MQTT_URL: 'mqtts://u:secretpw@h' }, cwd })
      return ''
    } catch (err) {
      return (err as Error).message
    }
  })()
  t.match(bad, /mqtt\.url/, 'mqtts:// refused (the publisher speaks plain MQTT)')
  t.notMatch(bad, /secretpw/, 'without the password in the message')
  t.throws(() => loadConfig({ env: {}, overrides: { nats: { mqttPort: 70000 } }, cwd }), /nats\.mqttPort/)
})

t.test('endpoint: embedded listener with nats.auth, mqtt.url, or none on a cluster', async (t) => {
  const cwd = t.testdir()
  const base = loadConfig({ env: {}, cwd })
  t.same(mqttEndpoint(base, 1883), { endpoint: { host: '127.0.0.1', port: 1883 } }, 'embedded, anonymous on loopback')
  t.same(mqttEndpoint({ ...base, nats: { ...base.nats, host: '0.0.0.0', auth: { user: 'rig', password: 'pw' } } }, 1883), { endpoint: { host: '127.0.0.1', port: 1883, username: 'rig', password: 'pw' } })
  t.same(mqttEndpoint({ ...base, nats: { ...base.nats, auth: { token: 'tok' } } }, 1883), { endpoint: { host: '127.0.0.1', port: 1883, username: 'vigil', password: 'tok' } }, 'a token is the MQTT password')
  t.match(mqttEndpoint({ ...base, nats: { ...base.nats, servers: ['nats://a:4222'] } }, null), { off: /mqtt\.url/ })
  t.same(mqttEndpoint({ ...base, nats: { ...base.nats, servers: ['nats://a:4222'] }, mqtt: { ...base.mqtt, url: 'mqtt://u:p%40ss@a:1884', username: 'other' } }, null), {
    endpoint: { host: 'a', port: 1884, username: 'other', password: 'p@ss' },
  })
  t.match(mqttEndpoint({ ...base, mqtt: { ...base.mqtt, enabled: false } }, 1883), { off: /enabled/ })
  t.same(parseMqttUrl('mqtt://[::1]'), { host: '::1', port: 1883 })
})

t.test('embedded server conf: server_name and an mqtt block on nats.host, auth after it', async (t) => {
  const policy = 'max_payload: 1MB\n'
  const conf = embeddedServerConf(policy, null, { mqtt: { host: '127.0.0.1', port: 18830, serverName: 'vigil-n1' } })
  t.match(conf, /^max_payload: 1MB\n/)
  t.match(conf, /server_name: "vigil-n1"\nmqtt \{\n {2}host: "127\.0\.0\.1"\n {2}port: 18830\n\}/)
  t.notMatch(conf, /authorization/, 'the loopback demo stays anonymous')
  const withAuth = embeddedServerConf(policy, { token: 'tk' }, { mqtt: { host: '0.0.0.0', port: 1883, serverName: 's' } })
  t.match(withAuth, /mqtt \{[\s\S]*\}\n\n# Added by vigil \(nats\.auth is set\)[\s\S]*authorization \{\n {2}token: "tk"\n\}\n$/, 'one authorization block for NATS and MQTT clients')
  const args = natsServerArgs({ port: 0, host: '127.0.0.1', storeDir: '/d/js', confFile: '/repo/nats.conf', binary: 'nats-server', mqtt: { port: 1883, serverName: 's' }, runConfFile: '/d/nats-server.conf' })
  t.equal(args[1], '/d/nats-server.conf', 'the server runs from the written conf')
  t.ok(args.includes('-js'), 'JetStream on (MQTT needs it)')
})
