import t from 'tap'
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { connectNats } from '../../../infra/nats/connect.js'
import { ensureStreams } from '../../../infra/nats/streams.js'
import { TRACE_HEADER, subjects } from '../../../infra/subjects.js'
import { startNatsServer } from '../../helpers/natsServer.js'
import { procState } from '../../helpers/procs.js'
import { waitFor } from '../../helpers/wait.js'

const NODE = 'itest'

function collect(nc: NatsConnection, subject: string): Msg[] {
  const got: Msg[] = []
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      got.push(msg)
    },
  })
  return got
}

t.test('buffers before a connection exists and flushes in order on attach', async (t) => {
  const nats = await startNatsServer()
  t.teardown(nats.stop)
  const bus = createBus({ node: NODE, log: silentLogger(), clock: systemClock })
  bus.publishState('camera', 'starting', {}, { traceId: 'boot-1' })
  bus.publishAlert({ source: 'camera', severity: 'warning', code: 'camera.stalled', message: 'no frames' })
  bus.publishEvent('motion', { score: 0.5 })
  t.match(bus.stats(), { attached: false, buffered: 3, published: 0 })

  const nc = await connectNats({ servers: [nats.url], name: 'itest-bus', log: silentLogger() })
  t.teardown(() => nc.close())
  const got = collect(nc, `vigil.${NODE}.>`)
  await nc.flush()
  bus.attach(nc)
  await waitFor(() => got.length === 3, 20_000, 'the buffered messages', 20)
  t.same(
    got.map((m) => m.subject),
    [subjects.state(NODE, 'camera'), subjects.alert(NODE, 'warning', 'camera'), subjects.event(NODE, 'motion')],
  )
  t.equal(got[0]!.headers?.get(TRACE_HEADER), 'boot-1')
  t.match(got[1]!.headers?.get(TRACE_HEADER), /^[0-9a-f]{32}$/, 'every message carries a trace id')
  t.match(got[1]!.json(), { node: NODE, source: 'camera', severity: 'warning', code: 'camera.stalled', count: 1 })
  t.match(bus.stats(), { attached: true, connected: true, buffered: 0, published: 3 })
})

t.test('keeps publishing across a nats-server kill and restart on the same port', async (t) => {
  let nats = await startNatsServer()
  const port = nats.port
  t.teardown(() => nats.stop())
  const nc = await connectNats({ servers: [nats.url], name: 'itest-bus', log: silentLogger() })
  t.teardown(() => nc.close())
  // Same connection for publisher and subscriber: the client re-subscribes before it
  // flushes, so nothing the bus kept can race past a not-yet-resubscribed listener.
  const got = collect(nc, subjects.eventsOf(NODE))
  await nc.flush()
  const bus = createBus({ node: NODE, log: silentLogger(), clock: systemClock })
  bus.attach(nc)
  bus.publishEvent('motion', { i: 1 })
  await waitFor(() => got.length === 1, 20_000, 'the first event', 20)

  await nats.kill()
  await waitFor(() => !bus.stats().connected, 20_000, 'the bus to notice the disconnect', 20)
  for (let i = 2; i <= 6; i++) bus.publishEvent('motion', { i })
  t.match(bus.stats(), { buffered: 5 }, 'kept while the server is down')

  nats = await startNatsServer({ port })
  await waitFor(() => bus.stats().connected && bus.stats().buffered === 0, 20_000, 'the reconnect flush', 20)
  bus.publishEvent('motion', { i: 7 })
  await waitFor(() => got.length === 7, 20_000, 'every event, old and new', 20)
  t.same(
    got.map((m) => (m.json() as { i: number }).i),
    [1, 2, 3, 4, 5, 6, 7],
    'in order',
  )
  t.equal(bus.stats().dropped, 0)
})

t.test('what went into a frozen server is sent again on the next connection, in order', async (t) => {
  let nats = await startNatsServer()
  const port = nats.port
  t.teardown(() => nats.stop())
  const nc = await connectNats({ servers: [nats.url], name: 'itest-bus', log: silentLogger() })
  t.teardown(() => nc.close())
  const got = collect(nc, subjects.alertsOf(NODE))
  await nc.flush()
  const bus = createBus({ node: NODE, log: silentLogger(), clock: systemClock })
  bus.attach(nc)
  bus.publishAlert({ source: 'camera', severity: 'info', code: 'test.before', message: 'before the freeze' })
  await waitFor(() => got.length === 1 && bus.stats().unconfirmed === 0, 20_000, 'the first alert, confirmed', 20)

  // Frozen: the port stays open, the client still thinks it is connected and writes
  // into the socket; the server never reads it.
  process.kill(nats.pid, 'SIGSTOP')
  // Stopped for real before anything is written (a thread on the other core may still run briefly).
  await waitFor(async () => (await procState(nats.pid)) === 'T', 10_000, 'the server stopped', 20)
  for (let i = 1; i <= 3; i++) bus.publishAlert({ source: 'camera', severity: 'warning', code: `test.frozen${i}`, message: 'into the frozen socket' })
  await new Promise((r) => setImmediate(r))
  t.match(bus.stats(), { connected: true, published: 4, unconfirmed: 3 }, 'sent, not confirmed')

  // Killed while frozen, back on the same port with nothing of what was written.
  await nats.kill()
  nats = await startNatsServer({ port })
  await waitFor(() => got.length >= 4, 20_000, 'the alerts the frozen server swallowed', 20)
  t.same(
    got.map((m) => (m.json() as { code: string }).code),
    ['test.before', 'test.frozen1', 'test.frozen2', 'test.frozen3'],
    'each once, in order; the confirmed one not again',
  )
  t.match(bus.stats(), { resent: 3, unconfirmed: 0, dropped: 0 })
})

/** A relay to `port` that can stop passing what the server says (its PONGs) while still passing what the client sends. */
async function muteableRelay(port: number) {
  const sockets = new Set<Socket>()
  let mute = false
  const server = createServer((inbound) => {
    const upstream = tcpConnect(port, '127.0.0.1')
    sockets.add(inbound).add(upstream)
    const end = () => {
      inbound.destroy()
      upstream.destroy()
    }
    inbound.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    inbound.pipe(upstream)
    upstream.on('data', (chunk: Buffer) => {
      if (!mute) inbound.write(chunk)
    })
  })
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const addr = server.address() as { port: number }
  return {
    url: `nats://127.0.0.1:${addr.port}`,
    mute: () => void (mute = true),
    /** Drops every connection (the client reconnects through it, unmuted). */
    cut: () => {
      mute = false
      for (const s of sockets) s.destroy()
      sockets.clear()
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  }
}

t.test('an alert the server read but never confirmed is sent again; JetStream keeps it once', async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const relay = await muteableRelay(nats.port)
  t.teardown(() => {
    relay.cut()
    return relay.close()
  })
  const watcher = await connect({ servers: nats.url })
  t.teardown(() => watcher.close())
  t.same((await ensureStreams(watcher, { log: silentLogger() })).failed, [])
  const live = collect(watcher, subjects.alertsOf(NODE))
  await watcher.flush()

  const nc = await connectNats({ servers: [relay.url], name: 'itest-bus', log: silentLogger(), reconnectTimeWaitMs: 50 })
  t.teardown(() => nc.close())
  const bus = createBus({ node: NODE, log: silentLogger(), clock: systemClock })
  bus.attach(nc)
  relay.mute() // the server reads, its PONG never comes back
  bus.publishAlert({ source: 'camera', severity: 'critical', code: 'test.unconfirmed', message: 'read, never confirmed' })
  await waitFor(() => live.length === 1, 20_000, 'the server has it (the watcher saw it)', 20)
  t.equal(bus.stats().unconfirmed, 1, 'the bus does not know that')

  relay.cut()
  await waitFor(() => live.length === 2 && bus.stats().unconfirmed === 0, 20_000, 'the resend, confirmed', 20)
  const [first, second] = live.map((m) => m.json() as { id: string; count: number })
  t.equal(second!.id, first!.id, 'a live subscriber sees it twice, same id (at least once)')
  const jsm = await jetstreamManager(watcher)
  t.equal((await jsm.streams.info('VIGIL_ALERTS')).state.messages, 1, 'JetStream stored it once (Nats-Msg-Id)')
  t.equal(bus.stats().resent, 1)
})
