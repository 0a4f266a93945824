import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { ensureStreams } from '../../../infra/nats/streams.js'
import { startNatsServer } from '../../helpers/natsServer.js'

t.test('alerts and the last state of each actor are kept in JetStream', async (t) => {
  const nats = await startNatsServer()
  t.teardown(nats.stop)
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  t.same(await ensureStreams(nc, { log: silentLogger() }), { ready: ['VIGIL_ALERTS', 'VIGIL_STATE'], failed: [] })
  t.same(await ensureStreams(nc, { log: silentLogger() }), { ready: ['VIGIL_ALERTS', 'VIGIL_STATE'], failed: [] }, 'idempotent')

  const bus = createBus({ node: 'rig-a', log: silentLogger(), clock: systemClock })
  bus.attach(nc)
  bus.publishState('camera', 'starting')
  bus.publishState('camera', 'streaming')
  bus.publishState('recorder', 'idle')
  bus.publishAlert({ source: 'camera', severity: 'warning', code: 'camera.stalled', message: 'no frames' })
  bus.publishAlert({ source: 'recorder', severity: 'critical', code: 'recorder.disk_full', message: 'disk full' })
  await bus.flush()

  const jsm = await jetstreamManager(nc)
  const alerts = await jsm.streams.info('VIGIL_ALERTS')
  t.equal(alerts.state.messages, 2)
  const state = await jsm.streams.info('VIGIL_STATE')
  t.equal(state.state.messages, 2, 'one message per actor: the latest')
  const last = await jsm.streams.getMessage('VIGIL_STATE', { last_by_subj: 'vigil.rig-a.state.camera' })
  t.match(last?.json(), { node: 'rig-a', actor: 'camera', state: 'streaming' })
})

t.test('a server without JetStream is reported, not thrown', async (t) => {
  const nats = await startNatsServer({ jetstream: false, confFile: null })
  t.teardown(nats.stop)
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  const r = await ensureStreams(nc, { log: silentLogger() })
  t.same(r.ready, [])
  t.same(r.failed.map((f) => f.name), ['VIGIL_ALERTS', 'VIGIL_STATE'])
})
