import t from 'tap'
import type { Msg, NatsConnection } from '@nats-io/transport-node'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { connectNats } from '../../../infra/nats/connect.js'
import { TRACE_HEADER, subjects } from '../../../infra/subjects.js'
import { startNatsServer } from '../../helpers/natsServer.js'

const NODE = 'itest'

/** Polls until `check` holds; the bound is a hang guard, not a timing assertion. */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

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
  await until(() => got.length === 3, 'the buffered messages')
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
  await until(() => got.length === 1, 'the first event')

  await nats.kill()
  await until(() => !bus.stats().connected, 'the bus to notice the disconnect')
  for (let i = 2; i <= 6; i++) bus.publishEvent('motion', { i })
  t.match(bus.stats(), { buffered: 5 }, 'kept while the server is down')

  nats = await startNatsServer({ port })
  await until(() => bus.stats().connected && bus.stats().buffered === 0, 'the reconnect flush')
  bus.publishEvent('motion', { i: 7 })
  await until(() => got.length === 7, 'every event, old and new')
  t.same(
    got.map((m) => (m.json() as { i: number }).i),
    [1, 2, 3, 4, 5, 6, 7],
    'in order',
  )
  t.equal(bus.stats().dropped, 0)
})
