/**
 * The bus with an outbox, on a server without JetStream (the fake's INFO has none): alerts
 * and events wait on disk, go out with their `Nats-Msg-Id`, leave the outbox only once the
 * server confirmed them, and a bus made again on the same dir (a rig restart) sends what the
 * last one left. The JetStream path runs against real servers: test/integration/nats/outbox.test.ts.
 */
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Clock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { MessageOutbox } from '../../../infra/nats/outbox.js'

interface Sent {
  subject: string
  msgId: string | undefined
  body: Record<string, unknown>
}

/** publish, status, flush (PONGs held while `frozen`), close. */
function fakeConnection() {
  const sent: Sent[] = []
  const waiting: Array<(r: IteratorResult<{ type: string }>) => void> = []
  let frozen = false
  let pongs: Array<{ res: () => void; rej: (e: Error) => void }> = []
  const nc = {
    info: { jetstream: false },
    publish(subject: string, data: Uint8Array, opts: { headers: { get(k: string): string } }) {
      sent.push({ subject, msgId: opts.headers.get('Nats-Msg-Id') || undefined, body: JSON.parse(new TextDecoder().decode(data)) })
    },
    status: () => ({ [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<{ type: string }>>((res) => waiting.push(res)) }) }),
    closed: () => new Promise<void>(() => {}),
    isClosed: () => false,
    isDraining: () => false,
    getServer: () => '127.0.0.1:4222',
    flush: () => (frozen ? new Promise<void>((res, rej) => pongs.push({ res, rej })) : Promise.resolve()),
  }
  return {
    nc: nc as unknown as NatsConnection,
    sent,
    freeze: () => void (frozen = true),
    /** The client saw the socket die: PINGs refused, then `disconnect`. */
    async disconnect() {
      frozen = false
      for (const p of pongs.splice(0)) p.rej(new Error('disconnected'))
      waiting.shift()?.({ value: { type: 'disconnect' }, done: false })
      await new Promise((r) => setImmediate(r))
    },
    async reconnect() {
      waiting.shift()?.({ value: { type: 'reconnect' }, done: false })
      await new Promise((r) => setImmediate(r))
    },
  }
}

const clock: Clock = { now: () => Date.parse('2026-01-02T03:04:05.000Z'), monotonic: () => 0 }
const tick = () => new Promise((r) => setImmediate(r))

async function outboxDir(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'vigil-busoutbox-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return join(d, 'outbox')
}

const openBox = (dir: string) => MessageOutbox.open({ dir, maxMessages: 100, maxBytes: 1 << 20, log: silentLogger(), now: clock.now })

t.test('no JetStream: alerts and events carry their Nats-Msg-Id and leave the outbox once the server confirmed them', async (t) => {
  const box = await openBox(await outboxDir(t))
  const bus = createBus({ node: 'rig', log: silentLogger(), clock, outbox: box })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishAlert({ source: 'test', severity: 'warning', code: 'test.a', message: 'a', id: 'a1', count: 2 })
  bus.publishEvent('motion', { id: 'e1', score: 3 })
  bus.publishState('camera', 'streaming')
  await tick()
  t.same(c.sent.map((s) => [s.subject, s.msgId]).sort(), [
    ['vigil.rig.alert.warning.test', 'a1:2'],
    ['vigil.rig.event.motion', 'e1'],
    ['vigil.rig.state.camera', undefined],
  ].sort(), 'each with its id (state has none: last value)')
  await box.synced()
  t.equal(box.size, 0, 'the outbox is empty once the PONG came')
  t.match(bus.stats(), { published: 3, buffered: 0, outbox: { pending: 0, confirmed: 2 } })
})

t.test('an outage and a restart in between: what was raised meanwhile is sent by the next bus on the same dir, once', async (t) => {
  const dir = await outboxDir(t)
  const first = await openBox(dir)
  const bus1 = createBus({ node: 'rig', log: silentLogger(), clock, outbox: first })
  const c1 = fakeConnection()
  bus1.attach(c1.nc)
  await c1.disconnect()
  for (let i = 0; i < 5; i++) bus1.publishAlert({ source: 'test', severity: 'info', code: `test.down_${i}`, message: 'down', id: `d${i}` })
  t.equal(c1.sent.length, 0, 'nothing sent while disconnected')
  t.equal(bus1.stats().buffered, 5, 'five waiting')
  // Back to a server that freezes: sent, never confirmed; then the rig stops.
  c1.freeze()
  await c1.reconnect()
  bus1.publishAlert({ source: 'test', severity: 'info', code: 'test.frozen', message: 'frozen', id: 'f' })
  await tick()
  t.equal(c1.sent.length, 6, 'all six handed to the client')
  t.equal(first.size, 6, 'and all six still in the outbox: no PONG')
  bus1.detach()
  await first.close()

  const second = await openBox(dir)
  t.equal(second.size, 6, 'all six on disk for the next run (the unconfirmed one too)')
  const bus2 = createBus({ node: 'rig', log: silentLogger(), clock, outbox: second })
  const c2 = fakeConnection()
  bus2.attach(c2.nc)
  await tick()
  t.same(c2.sent.map((s) => s.msgId), ['d0:1', 'd1:1', 'd2:1', 'd3:1', 'd4:1', 'f:1'], 'sent oldest first with the same ids')
  await second.synced()
  t.equal(second.size, 0, 'confirmed: the outbox is empty')
  await second.close()
  const third = await openBox(dir)
  t.equal(third.size, 0, 'and stays empty after another restart')
  await third.close()
})
