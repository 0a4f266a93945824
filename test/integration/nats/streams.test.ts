import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { ensureStreams, keepStreams, vigilStreams } from '../../../infra/nats/streams.js'
import { startNatsServer, type TestNatsServer } from '../../helpers/natsServer.js'
import { waitFor } from '../../helpers/wait.js'
import { waitProcState } from '../../helpers/procs.js'

t.test('alerts and the last state of each actor are kept in JetStream', async (t) => {
  const nats = await startNatsServer()
  t.teardown(nats.stop)
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  t.same(await ensureStreams(nc, { log: silentLogger() }), { ready: ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'], failed: [] })
  t.same(await ensureStreams(nc, { log: silentLogger() }), { ready: ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'], failed: [] }, 'idempotent')

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
  t.same(r.failed.map((f) => f.name), ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'])
  t.same(r.failed.map((f) => f.transient), [false, false, false], 'not worth retrying')
})

const streamNames = async (nc: NatsConnection) => (await jetstreamManager(nc)).streams.names().next()

t.test('keepStreams: a server restarted (empty store) during the first pass gets the streams too', async (t) => {
  let nats: TestNatsServer = await startNatsServer()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 })
  t.teardown(() => nc.close())
  let passes = 0
  const keeper = keepStreams(nc, {
    log: silentLogger(),
    ensure: async (conn, o) => {
      const r = await ensureStreams(conn, o)
      if (++passes === 1) {
        // The first pass is done on the old server; the new one comes up before it returns.
        const reconnected = (async () => {
          for await (const s of conn.status()) if (s.type === 'reconnect') return
        })()
        await nats.kill()
        nats = await startNatsServer({ port: nats.port })
        await reconnected
      }
      return r
    },
  })
  t.teardown(() => keeper.stop())
  await keeper.idle()
  t.equal(passes, 2, 'a second pass, for the reconnect that came during the first')
  t.same((await streamNames(nc)).sort(), ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'], 'every stream on the new server')
})

t.test('keepStreams: a pass that timed out is tried again once the server answers', async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  // A frozen server: the pass's requests time out (transient), then it thaws.
  process.kill(nats.pid, 'SIGSTOP')
  t.teardown(() => process.kill(nats.pid, 'SIGCONT'))
  // Delivered asynchronously: a pass sent before it lands could still be answered.
  t.equal(await waitProcState(nats.pid, 'T'), 'T', `nats-server ${nats.pid} is stopped (state T)`)
  const results: Array<{ ready: string[]; transient: boolean[] }> = []
  const keeper = keepStreams(nc, {
    log: silentLogger(),
    retryMs: 50,
    ensure: async (conn, o) => {
      const r = await ensureStreams(conn, o)
      results.push({ ready: r.ready, transient: r.failed.map((f) => f.transient) })
      if (results.length === 1) process.kill(nats.pid, 'SIGCONT')
      return r
    },
  })
  t.teardown(() => keeper.stop())
  await waitFor(() => results.some((r) => r.ready.length === vigilStreams.length), 60_000, 'a pass that made every stream')
  t.same(results[0]?.transient, [true, true, true], 'the frozen server: every one failed, transient')
  t.same((await streamNames(nc)).sort(), ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'])
})

t.test('keepStreams: a server without JetStream is asked once, not again and again', async (t) => {
  const nats = await startNatsServer({ jetstream: false, confFile: null })
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  let passes = 0
  const keeper = keepStreams(nc, {
    log: silentLogger(),
    retryMs: 10,
    ensure: async (conn, o) => {
      passes++
      return ensureStreams(conn, o)
    },
  })
  t.teardown(() => keeper.stop())
  await keeper.idle()
  // Ten retry periods and more: a transient failure would have been tried again by now.
  await new Promise((r) => setTimeout(r, 300))
  t.equal(passes, 1)
})

t.test('keepStreams driven by the bus, as the rig wires it: one pass per connection, a restart mid-pass covered', async (t) => {
  let nats: TestNatsServer = await startNatsServer()
  t.teardown(() => nats.stop())
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 })
  t.teardown(() => nc.close())
  const restart = async () => {
    const reconnected = (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') return
    })()
    await nats.kill()
    nats = await startNatsServer({ port: nats.port })
    await reconnected
  }
  let passes = 0
  let restartInFirstPass = true
  const keeper = keepStreams(nc, {
    log: silentLogger(),
    driven: true,
    ensure: async (conn, o) => {
      const r = await ensureStreams(conn, o)
      passes++
      if (restartInFirstPass) {
        restartInFirstPass = false
        await restart()
      }
      return r
    },
  })
  t.teardown(() => keeper.stop())
  await new Promise((r) => setTimeout(r, 100))
  t.equal(passes, 0, 'no pass of its own')
  const bus = createBus({ node: 'driven', log: silentLogger(), clock: systemClock })
  t.teardown(() => bus.detach())
  bus.attach(nc, { beforeResume: () => keeper.refresh() })
  await waitFor(() => passes === 2 && bus.stats().connected, 30_000, 'the first pass, then one for the restart during it')
  await keeper.idle()
  t.same((await streamNames(nc)).sort(), ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'], 'every stream on the server restarted mid-pass')

  // A later restart: exactly one more pass (the bus asks; the keeper does not also watch).
  await restart()
  await waitFor(() => passes >= 3 && bus.stats().connected, 30_000, 'a pass for the reconnect')
  await keeper.idle()
  await new Promise((r) => setTimeout(r, 300))
  t.equal(passes, 3, 'one pass for that reconnect, not two')
  t.same((await streamNames(nc)).sort(), ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE'])
})
