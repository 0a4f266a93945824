/**
 * Fault: the (only) nats-server is SIGKILLed while the rig runs; alerts are raised
 * while it is down; it is started again on the same port.
 * The rig must: keep supervising (the stalled camera is still detected and replaced
 * without NATS), buffer what it publishes (bounded by the bus), and publish it after
 * reconnecting; commands must be served again.
 */
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { waitFor } from '../helpers/wait.js'
import { freezeCamera, takeNatsAway } from './outage.js'
import { collect, startTestRig } from '../helpers/rig.js'

t.test('nats-server SIGKILL + restart on the same port: alerts raised while down are published after reconnect', async (t) => {
  const r = await startTestRig(t, { gate: true })
  await r.ready(undefined, 90_000)
  const before = r.rig.bus.stats()

  await takeNatsAway(r)
  t.pass('nats-server SIGKILLed')

  // A command in flight while the server is down: it must not hang the caller.
  const inFlight = r.cmd('supervisor', 'status', {}, { timeoutMs: 15_000 })

  // Raise alerts while down: SIGSTOP the camera ffmpeg (→ camera.stalled, then
  // the supervisor replaces it) and restart the audio child by hand.
  await freezeCamera(t, r)
  r.rig.supervisor.restart('audio')
  t.pass('the supervisor replaced the stalled camera while NATS was down')
  const down = r.rig.bus.stats()
  t.ok(down.buffered > 0, `bus buffered ${down.buffered} messages while down`)
  const raisedWhileDown = r.rig.alerts.list().filter((a) => Date.parse(a.at) >= 0).map((a) => a.id)

  // The nats-server comes back on the same port. The rig reaches it through the
  // test's relay, opened only once a fresh subscriber (first connected after the
  // restart) has its subscription on the server: what it receives was buffered.
  await r.restartNats()
  const sub = await connect({ servers: r.natsUrl })
  t.teardown(() => sub.close())
  const alerts = collect(sub, `vigil.${r.node}.alert.>`)
  await sub.flush()
  t.notOk(r.rig.bus.stats().connected, 'rig not reconnected yet (gate closed)')
  await r.openGate()

  await waitFor(() => r.rig.bus.stats().connected && r.rig.bus.stats().buffered === 0, 30_000, 'bus reconnected and flushed')
  const after = r.rig.bus.stats()
  t.equal(after.dropped, before.dropped, 'nothing dropped (outage well under the buffer bound)')
  t.ok(after.published >= before.published + down.buffered, `published ${after.published - before.published} since the kill`)

  await waitFor(() => alerts.seen.some((a) => a.data['code'] === 'camera.stalled'), 15_000, 'camera.stalled delivered after restart')
  const stalled = alerts.seen.find((a) => a.data['code'] === 'camera.stalled')!
  t.equal(stalled.subject, `vigil.${r.node}.alert.warning.camera`)
  t.ok(raisedWhileDown.includes(stalled.data['id'] as never), 'the delivered alert is the one raised while NATS was down')
  t.comment(`delivered after restart: ${alerts.seen.map((a) => a.data['code']).join(', ')}`)

  const flight = await inFlight
  t.comment(`command in flight during the outage answered: ${flight.ok ? 'ok' : flight.error.code}`)
  t.ok(flight.ok || ['UNAVAILABLE', 'TIMEOUT'].includes(flight.error.code), 'in-flight command resolved (ok, or UNAVAILABLE/TIMEOUT), never hung')

  // Commands work again (the rig's service re-subscribes on reconnect).
  await waitFor(async () => (await r.cmd('supervisor', 'status', {}, { timeoutMs: 2000 })).ok, 30_000, 'supervisor.status answers again')
  await r.ready(undefined, 60_000)
  t.pass('every child running again, commands served')
})

t.test('nats-server back with an empty JetStream store: the rig creates its streams again on reconnect', async (t) => {
  // Only the supervisor's own children: this is about the connection, not the camera.
  // Through the gate: the rig reconnects only once the test has seen the empty store.
  const r = await startTestRig(t, { node: 'jsagain', children: () => [], gate: true })
  await r.ready([], 30_000)
  const jsm1 = await jetstreamManager(r.client)
  await waitFor(async () => (await jsm1.streams.names().next()).includes('VIGIL_ALERTS'), 15_000, 'VIGIL_ALERTS created on the first connect')

  // The restarted server has a fresh store dir: every stream is gone. An alert raised
  // while it is down waits in the bus and must land in the new store, not just go by.
  await takeNatsAway(r)
  r.rig.alert({ source: 'supervisor', severity: 'warning', code: 'test.while_down', message: 'raised while NATS was down' })
  await r.restartNats()
  const fresh = await connect({ servers: r.natsUrl })
  t.teardown(() => fresh.close())
  const jsm = await jetstreamManager(fresh)
  t.notOk((await jsm.streams.names().next()).includes('VIGIL_ALERTS'), 'the new server starts without the streams')
  await r.openGate()
  await waitFor(async () => {
    const names = await jsm.streams.names().next()
    return names.includes('VIGIL_ALERTS') && names.includes('VIGIL_STATE')
  }, 30_000, 'VIGIL_ALERTS and VIGIL_STATE created again after the reconnect', 200)
  t.pass('streams re-created by the rig')
  await waitFor(async () => (await jsm.streams.info('VIGIL_ALERTS')).state.messages >= 1, 10_000, 'the alert raised while down stored')
  const stored = await jsm.streams.getMessage('VIGIL_ALERTS', { last_by_subj: `vigil.${r.node}.alert.warning.supervisor` })
  t.match(stored?.json(), { code: 'test.while_down' }, 'the backlog went out after the streams were made again: stored')
  // And they work: an alert raised now is stored.
  r.rig.alert({ source: 'supervisor', severity: 'info', code: 'test.after_reconnect', message: 'stored?' })
  await r.rig.bus.flush()
  await waitFor(async () => (await jsm.streams.info('VIGIL_ALERTS')).state.messages >= 2, 10_000, 'the alert stored in VIGIL_ALERTS')
  t.pass('an alert raised after the reconnect is in VIGIL_ALERTS')
})
