import t from 'tap'
import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { NotifyStatus } from '../../../actors/notify/index.js'
import type { Alert } from '../../../infra/alerts.js'
import { collect, startTestRig } from '../../helpers/rig.js'
import { freePort } from '../../helpers/natsServer.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * A receiver that accepts TCP and never answers (webhook-1) and one that refuses
 * (webhook-2, short retry window), on one real rig: alerts reach NATS and the feed as
 * fast as without webhooks; webhook-2's deliveries end in notify.failed, aggregated.
 */
t.test('a dead receiver never delays alerts; notify.failed after the retry window, once per batch', async (t) => {
  const sockets = new Set<Socket>()
  let accepted = 0
  // At most one open at a time is the bound; a request that hits notify.timeoutMs on a
  // slow run is followed by a retry on a new connection, which is fine.
  let maxOpen = 0
  const dead = createServer((s) => {
    accepted += 1
    sockets.add(s)
    maxOpen = Math.max(maxOpen, sockets.size)
    s.on('error', () => {}).on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((r) => dead.close(() => r()))
  })
  const deadPort = (dead.address() as AddressInfo).port
  const refusedPort = await freePort()
  const SECRET = 'dead-receiver-secret-123456789'
  const WINDOW_MS = 4000
  const tr = await startTestRig(t, {
    node: 'deadhook',
    configure: (c) => {
      c.notify.webhooks = [
        { url: `http://127.0.0.1:${deadPort}/never/answers-token`, events: ['alert.*', 'event.*'], secret: SECRET, format: 'json' },
        { url: `http://127.0.0.1:${refusedPort}/refused`, events: ['alert.critical'], format: 'json' },
      ]
      c.notify.retry = { initialMs: 200, factor: 2, maxMs: 1000, windowMs: WINDOW_MS }
      c.notify.timeoutMs = 5000
    },
  })
  const alerts = collect(tr.client, 'vigil.deadhook.alert.>')
  t.teardown(() => alerts.unsubscribe())
  await tr.ready(['notify'])

  // The feed is synchronous: time each raise; NATS: time raise → message at a subscriber.
  const fed = new Map<string, number>()
  const sub = tr.rig.feed.subscribe((item) => {
    if (item.type === 'alert') fed.set(item.alert.id, performance.now())
  })
  t.teardown(() => sub.unsubscribe())
  const raised: Array<{ id: string; at: number; callMs: number }> = []
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now()
    const a = tr.rig.alert({ source: 'test', severity: 'critical', code: `test.dead_${i}`, message: `alert ${i} while a receiver hangs` })
    raised.push({ id: a.id, at: t0, callMs: performance.now() - t0 })
    if (i === 0) await waitFor(() => accepted >= 1, 10000, 'the dead receiver holds a request')
  }
  await waitFor(() => raised.every((r) => alerts.seen.some((s) => s.data['id'] === r.id)), 10000, 'all 20 alerts on NATS')
  t.pass('all 20 published on NATS while webhook-1 hangs')
  const maxCall = Math.max(...raised.map((r) => r.callMs))
  const maxFeed = Math.max(...raised.map((r) => (fed.get(r.id) ?? Infinity) - r.at))
  // "At once" against the receiver's 5 s timeout: 90 ms was seen with CI and three test
  // runs sharing two cores, so 300 ms (3x) only catches a raise that waits on the receiver.
  t.ok(maxCall < 300, `raise() returns at once while a receiver hangs (max ${maxCall.toFixed(2)} ms)`)
  t.ok(maxFeed < 300, `every alert on the feed at once (max ${maxFeed.toFixed(2)} ms)`)
  const probe = await timedNats(tr, 5)
  t.ok(probe.max < 1000, `alerts reach a NATS subscriber promptly while the receiver hangs: max ${probe.max.toFixed(1)} ms over ${probe.n}`)

  const st = await tr.cmd<NotifyStatus>('notify', 'status', {}, { timeoutMs: 2000 })
  t.ok(st.ok, 'notify.status answers while a delivery hangs')
  if (st.ok) {
    const w1 = st.result.receivers[0]!
    t.equal(w1.state, 'sending', 'webhook-1: one request in flight')
    t.ok(w1.pending >= 20, `webhook-1 pending ${w1.pending}`)
    t.equal(maxOpen, 1, `one connection at a time to the dead receiver: bounded concurrency (${accepted} accepted in all)`)
    const text = JSON.stringify(st.result)
    t.notOk(text.includes(SECRET) || text.includes('answers-token'), 'no secret or path in notify.status')
    t.equal(w1.signed, true)
  }

  // webhook-2 refuses: after the window every delivery is dropped, told in notify.failed (not once per delivery).
  const failedFor = (receiver: string) =>
    alerts.seen.map((s) => s.data as unknown as Alert).filter((a) => a.code === 'notify.failed' && a.details['receiver'] === receiver)
  await waitFor(() => failedFor('webhook-2').reduce((n, a) => n + Number(a.details['dropped']), 0) >= 20, WINDOW_MS * 3 + 15000, 'notify.failed for webhook-2 covering all 20')
  const failed = failedFor('webhook-2')
  t.ok(failed.length <= 3, `aggregated: ${failed.length} notify.failed for 20 dropped deliveries`)
  const first = failed[0]!
  t.equal(first.severity, 'warning')
  t.equal(first.source, 'notify')
  t.equal(first.details['reason'], 'ECONNREFUSED')
  t.equal(first.details['origin'], `http://127.0.0.1:${refusedPort}`)
  t.notMatch(first.message, /refused$|\/refused/, 'no path in the message')
  const st2 = await tr.cmd<NotifyStatus>('notify', 'status')
  if (st2.ok) {
    const w2 = st2.result.receivers[1]!
    t.equal(w2.pending, 0, 'webhook-2: nothing left to retry')
    t.ok(w2.dropped >= 20)
    t.equal(w2.lastFailure, 'ECONNREFUSED')
  }
})

/** n alerts, each timed from raise to arrival at a NATS subscriber. */
async function timedNats(tr: Awaited<ReturnType<typeof startTestRig>>, n: number): Promise<{ n: number; max: number }> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    let arrived = 0
    const code = `test.timed_${i}`
    const sub = tr.client.subscribe('vigil.deadhook.alert.>', {
      callback: (_e, msg) => {
        if (!arrived && new TextDecoder().decode(msg.data).includes(code)) arrived = performance.now()
      },
    })
    await tr.client.flush()
    const start = performance.now()
    tr.rig.alert({ source: 'test', severity: 'warning', code, message: 'timed' })
    await waitFor(() => arrived > 0, 5000, `${code} on NATS`, 2)
    times.push(arrived - start)
    sub.unsubscribe()
  }
  return { n, max: Math.max(...times) }
}
