import t from 'tap'
import type { NatsConnection } from '@nats-io/transport-node'
import { systemClock, type Clock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createBus } from '../../../infra/nats/bus.js'
import { TRACE_HEADER } from '../../../infra/subjects.js'

interface Sent {
  subject: string
  body: Record<string, unknown>
  traceId: string
}

/** Just enough of a NatsConnection: publish, status stream, close. */
function fakeConnection() {
  const sent: Sent[] = []
  const waiting: Array<(r: IteratorResult<{ type: string }>) => void> = []
  const pending: Array<{ type: string }> = []
  let closed = false
  let failNext = false
  // A frozen server: flushes (PINGs) wait until `answer()`, or are refused by `disconnect()`.
  let frozen = false
  let pongs: Array<{ res: () => void; rej: (e: Error) => void }> = []
  let resolveClosed!: () => void
  const closedP = new Promise<void>((r) => (resolveClosed = r))
  const nc = {
    publish(subject: string, data: Uint8Array, opts: { headers: { get(k: string): string } }) {
      if (closed) throw new Error('closed')
      if (failNext) {
        failNext = false
        throw new Error('max_payload size exceeded')
      }
      sent.push({ subject, body: JSON.parse(new TextDecoder().decode(data)), traceId: opts.headers.get(TRACE_HEADER) })
    },
    status() {
      return {
        [Symbol.asyncIterator]() {
          return {
            next: () =>
              new Promise<IteratorResult<{ type: string }>>((res) => {
                const s = pending.shift()
                if (s) res({ value: s, done: false })
                else waiting.push(res)
              }),
          }
        },
      }
    },
    closed: () => closedP,
    isClosed: () => closed,
    isDraining: () => false,
    getServer: () => '127.0.0.1:4222',
    flush: () => (frozen ? new Promise<void>((res, rej) => pongs.push({ res, rej })) : Promise.resolve()),
  }
  const settle = (how: 'res' | 'rej') => {
    const was = pongs
    pongs = []
    for (const p of was) if (how === 'res') p.res()
    else p.rej(new Error('connection disconnected'))
  }
  const emit = async (type: string) => {
    const w = waiting.shift()
    if (w) w({ value: { type }, done: false })
    else pending.push({ type })
    await new Promise((r) => setImmediate(r))
  }
  return {
    nc: nc as unknown as NatsConnection,
    sent,
    emit,
    failNext: () => (failNext = true),
    freeze: () => void (frozen = true),
    answer: () => {
      frozen = false
      settle('res')
    },
    /** The client's view of a dead socket: pending PINGs refused, then `disconnect`. */
    disconnect: async () => {
      frozen = false
      settle('rej')
      await emit('disconnect')
    },
    close: () => {
      closed = true
      resolveClosed()
    },
  }
}

const fixedClock: Clock = { now: () => Date.parse('2026-01-02T03:04:05.000Z'), monotonic: () => 0 }

t.test('payload shapes of DESIGN.md §4', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: fixedClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishState('camera', 'streaming', { fps: 15 }, { traceId: 'tr-1' })
  bus.publishAlert({ source: 'recorder', severity: 'critical', code: 'recorder.disk_full', message: 'disk full', id: 'a1' })
  bus.publishEvent('recording.started', { session: 's1' })
  t.same(c.sent[0], {
    subject: 'vigil.rig.state.camera',
    body: { node: 'rig', actor: 'camera', state: 'streaming', since: '2026-01-02T03:04:05.000Z', details: { fps: 15 } },
    traceId: 'tr-1',
  })
  t.same(c.sent[1]!.body, {
    id: 'a1',
    node: 'rig',
    source: 'recorder',
    severity: 'critical',
    code: 'recorder.disk_full',
    message: 'disk full',
    at: '2026-01-02T03:04:05.000Z',
    count: 1,
    details: {},
  })
  t.equal(c.sent[1]!.subject, 'vigil.rig.alert.critical.recorder')
  t.same(c.sent[2], {
    subject: 'vigil.rig.event.recording.started',
    body: { node: 'rig', kind: 'recording.started', at: '2026-01-02T03:04:05.000Z', session: 's1', id: c.sent[2]!.body['id'] },
    traceId: c.sent[2]!.traceId,
  })
  t.match(c.sent[2]!.body['id'], /^[0-9a-f-]{36}$/, 'an event without an id gets one')
  t.match(c.sent[2]!.traceId, /^[0-9a-f]{32}$/, 'a trace id is made when none is given')
  t.match(bus.stats(), { unconfirmed: 3 }, 'sent, the PONG not in yet')
  await new Promise((r) => setImmediate(r))
  t.same(bus.stats(), { attached: true, connected: true, server: '127.0.0.1:4222', buffered: 0, unconfirmed: 0, published: 3, resent: 0, unguarded: 0, dropped: 0, failed: 0 })
})

t.test('since stays while the state stays', async (t) => {
  let now = 1000
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: { now: () => now, monotonic: () => 0 } })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishState('camera', 'streaming', {})
  now = 5000
  bus.publishState('camera', 'streaming', { fps: 10 })
  bus.publishState('camera', 'stalled', {})
  const since = c.sent.map((s) => s.body['since'])
  t.same(since, [new Date(1000).toISOString(), new Date(1000).toISOString(), new Date(5000).toISOString()])
})

t.test('buffers before attach, drops oldest past the bound, flushes in order', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock, maxBuffered: 3 })
  for (let i = 1; i <= 5; i++) bus.publishEvent('motion', { i })
  t.match(bus.stats(), { attached: false, buffered: 3, dropped: 2, published: 0 })
  const c = fakeConnection()
  bus.attach(c.nc)
  t.same(c.sent.map((s) => s.body['i']), [3, 4, 5])
  t.match(bus.stats(), { buffered: 0, published: 3, dropped: 2 })
})

t.test('buffers while disconnected and flushes on reconnect', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishEvent('motion', { i: 1 })
  await c.emit('disconnect')
  bus.publishEvent('motion', { i: 2 })
  bus.publishEvent('motion', { i: 3 })
  t.same(c.sent.map((s) => s.body['i']), [1])
  t.match(bus.stats(), { connected: false, buffered: 2 })
  await c.emit('reconnect')
  t.same(c.sent.map((s) => s.body['i']), [1, 2, 3])
  t.match(bus.stats(), { connected: true, buffered: 0 })
})

t.test('hold(): the server is known gone, so publishes wait for the reconnect even before the client saw the disconnect', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: fixedClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishState('nats', 'running', {})
  t.equal(c.sent.length, 1)
  bus.hold()
  bus.publishAlert({ source: 'nats', severity: 'warning', code: 'supervisor.child_restarting', message: 'nats-server killed' })
  t.equal(c.sent.length, 1, 'not written into the dead connection')
  t.same(bus.stats().buffered, 1)
  await c.emit('disconnect')
  await c.emit('reconnect')
  t.same(c.sent.map((m) => m.body['code'] ?? m.body['state']), ['running', 'supervisor.child_restarting'], 'sent after the reconnect')
  t.same(bus.stats().buffered, 0)
})

t.test('release(): a server that answers again gets what hold() kept, in order', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: fixedClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.hold()
  bus.publishEvent('motion', { i: 1 })
  bus.publishEvent('motion', { i: 2 })
  t.equal(c.sent.length, 0)
  t.match(bus.stats(), { connected: false, buffered: 2 })
  bus.release()
  bus.publishEvent('motion', { i: 3 })
  t.same(c.sent.map((m) => m.body['i']), [1, 2, 3])
  await new Promise((r) => setImmediate(r)) // confirmed (PONG) before the disconnect: not sent again
  t.match(bus.stats(), { connected: true, buffered: 0, unconfirmed: 0 })
  bus.hold()
  await c.emit('disconnect')
  bus.release()
  bus.publishEvent('motion', { i: 4 })
  t.equal(c.sent.length, 3, 'release does not resurrect a disconnected client')
  await c.emit('reconnect')
  t.same(c.sent.map((m) => m.body['i']), [1, 2, 3, 4])
})

t.test('a closed connection buffers until a new one is attached', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  const a = fakeConnection()
  bus.attach(a.nc)
  a.close()
  bus.publishEvent('sound', { i: 1 })
  t.match(bus.stats(), { buffered: 1 })
  const b = fakeConnection()
  bus.attach(b.nc)
  t.same(b.sent.map((s) => s.body['i']), [1])
})

t.test('never throws: bad tokens, publish errors, unserialisable details', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishState('Bad Actor', 'x')
  bus.publishEvent('no spaces allowed', {})
  const circular: Record<string, unknown> = {}
  circular['self'] = circular
  bus.publishState('camera', 'x', circular)
  c.failNext()
  bus.publishEvent('motion', { i: 1 })
  bus.publishEvent('motion', { i: 2 })
  t.same(c.sent.map((s) => s.body['i']), [2], 'a rejected message is not retried; the next one goes')
  t.match(bus.stats(), { failed: 4, buffered: 0, published: 1 })
})

t.test('at least once: unconfirmed messages go out again, first, after a reconnect; the guard is bounded', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock, maxBuffered: 3 })
  const c = fakeConnection()
  bus.attach(c.nc)
  bus.publishEvent('motion', { i: 1 })
  await new Promise((r) => setImmediate(r))
  t.match(bus.stats(), { unconfirmed: 0 }, 'confirmed by the first PONG')

  c.freeze()
  for (let i = 2; i <= 6; i++) bus.publishEvent('motion', { i })
  await new Promise((r) => setImmediate(r))
  t.match(bus.stats(), { published: 6, unconfirmed: 3, unguarded: 2 }, 'only the newest 3 kept for a resend (the bound)')

  await c.disconnect()
  bus.publishEvent('motion', { i: 7 })
  t.match(bus.stats(), { connected: false, buffered: 1, unconfirmed: 3 })
  await c.emit('reconnect')
  await new Promise((r) => setImmediate(r))
  t.same(
    c.sent.map((m) => m.body['i']),
    [1, 2, 3, 4, 5, 6, 5, 6, 7],
    'the unconfirmed ones again, ahead of 7 that waited in the queue; 4 dropped: 4 kept would pass the bound of 3',
  )
  t.match(bus.stats(), { published: 7, resent: 2, unconfirmed: 0, buffered: 0, dropped: 1 })
})

t.test('a frozen server that answers again confirms what it was sent: nothing resent', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  const c = fakeConnection()
  bus.attach(c.nc)
  c.freeze()
  bus.publishEvent('motion', { i: 1 })
  bus.publishEvent('motion', { i: 2 })
  await new Promise((r) => setImmediate(r))
  t.match(bus.stats(), { unconfirmed: 2 })
  c.answer()
  await new Promise((r) => setImmediate(r))
  t.match(bus.stats(), { unconfirmed: 0, resent: 0 })
  await c.emit('reconnect')
  t.same(c.sent.map((m) => m.body['i']), [1, 2], 'nothing sent twice')
})

t.test('beforeResume: what waited goes out only after it, on the attach and on every reconnect', async (t) => {
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  const c = fakeConnection()
  let ready!: () => void
  let calls = 0
  const beforeResume = () => {
    calls++
    return new Promise<void>((r) => (ready = r))
  }
  bus.publishEvent('motion', { i: 1 })
  bus.attach(c.nc, { beforeResume })
  bus.publishEvent('motion', { i: 2 })
  t.equal(calls, 1, 'run on the attach')
  t.same(c.sent, [], 'nothing sent while it runs')
  t.match(bus.stats(), { connected: false, buffered: 2 })
  ready()
  await new Promise((r) => setImmediate(r))
  t.same(c.sent.map((m) => m.body['i']), [1, 2], 'then everything, in order')

  await c.emit('disconnect')
  bus.publishEvent('motion', { i: 3 })
  await c.emit('reconnect')
  t.equal(calls, 2, 'run again on the reconnect')
  t.same(c.sent.map((m) => m.body['i']), [1, 2])
  ready()
  await new Promise((r) => setImmediate(r))
  t.same(c.sent.map((m) => m.body['i']), [1, 2, 3])
})

t.test('beforeResume that hangs or fails: publishing resumes after resumeTimeoutMs, or at once', async (t) => {
  const c = fakeConnection()
  const bus = createBus({ node: 'rig', log: silentLogger(), clock: systemClock, resumeTimeoutMs: 30 })
  bus.publishEvent('motion', { i: 1 })
  bus.attach(c.nc, { beforeResume: () => new Promise<void>(() => {}) })
  t.same(c.sent, [])
  await new Promise((r) => setTimeout(r, 100))
  t.same(c.sent.map((m) => m.body['i']), [1], 'sent after the bound')

  const d = fakeConnection()
  const failing = createBus({ node: 'rig', log: silentLogger(), clock: systemClock })
  failing.publishEvent('motion', { i: 1 })
  failing.attach(d.nc, { beforeResume: () => Promise.reject(new Error('JetStream is not enabled')) })
  await new Promise((r) => setImmediate(r))
  t.same(d.sent.map((m) => m.body['i']), [1], 'a failed hook does not keep anything back')
})
