/**
 * Fault: NATS unreachable for longer than the state buffer holds.
 * The rig must: keep at most `nats.publishBuffer` STATE messages in memory, drop the
 * OLDEST beyond it (counted, logged once), publish what it kept in order after the
 * reconnect; keep every ALERT (and event) raised meanwhile in its on-disk outbox, which
 * that bound does not touch, and deliver each after the reconnect; and still answer for
 * every alert through `alerts.list` (the alert log).
 */
import t from 'tap'
import { connect } from '@nats-io/transport-node'
import { waitFor } from '../helpers/wait.js'
import { freezeCamera, takeNatsAway } from './outage.js'
import { collect, startTestRig } from '../helpers/rig.js'

const BOUND = 6

t.test(`state buffer bounded at nats.publishBuffer (${BOUND}): oldest dropped, newest delivered in order; alerts kept in the outbox, all delivered`, async (t) => {
  const r = await startTestRig(t, {
    gate: true,
    node: 'alertbuf',
    configure: (c) => {
      c.nats.publishBuffer = BOUND
    },
  })
  await r.ready(undefined, 90_000)
  // The start-up messages confirmed by the server: none is sent again after the outage.
  await waitFor(() => r.rig.bus.stats().unconfirmed === 0, 10_000, 'everything sent so far confirmed')
  const before = r.rig.bus.stats()
  t.equal(before.buffered, 0, 'nothing waiting before the outage')

  await takeNatsAway(r)
  // What went out between the snapshot above and the kill (a motion or audio state change)
  // was published before the outage: count from the moment the bus saw it.
  const publishedAtOutage = r.rig.bus.stats().published
  // First alert raised while down: camera.stalled (the camera ffmpeg frozen, then replaced).
  const { stalled } = await freezeCamera(t, r)

  // Then more state messages than the buffer holds: restart the audio child a few times.
  for (let i = 0; i < 3; i++) {
    r.rig.supervisor.restart('audio')
    await waitFor(() => r.rig.supervisor.children().find((c) => c.id === 'audio')?.status === 'running', 30_000, `audio running after restart ${i + 1}`)
  }
  // The frozen camera's recovery goes on publishing for a while: wait until the rig is quiet.
  const raised = () => {
    const s = r.rig.bus.stats()
    return s.buffered + s.dropped
  }
  let last = raised()
  let quietSince = Date.now()
  await waitFor(() => {
    const now = raised()
    if (now !== last) {
      last = now
      quietSince = Date.now()
    }
    return Date.now() - quietSince >= 2000
  }, 60_000, 'nothing more raised for 2 s', 100)
  // The last alert raised before the reconnect, through the rig's alert path.
  const marker = r.rig.alert({ source: 'supervisor', severity: 'info', code: 'test.marker', message: 'last before reconnect' })
  const down = r.rig.bus.stats()
  const box = down.outbox!
  const statesKept = down.buffered - box.pending
  t.equal(statesKept, BOUND, `the state buffer holds exactly the bound (${statesKept})`)
  t.ok(down.dropped - before.dropped > 0, `${down.dropped - before.dropped} older state messages dropped, counted`)
  t.equal(box.dropped, 0, 'no alert dropped: the outbox is not bounded by publishBuffer')
  t.ok(box.pending >= 2, `${box.pending} alerts and events wait in the outbox (camera.stalled and the marker among them)`)
  t.equal(down.published, publishedAtOutage, 'nothing published while down')

  await r.restartNats()
  const sub = await connect({ servers: r.natsUrl })
  t.teardown(() => sub.close())
  const seen = collect(sub, `vigil.${r.node}.>`)
  await sub.flush()
  await r.openGate()
  await waitFor(() => r.rig.bus.stats().connected && r.rig.bus.stats().buffered === 0, 30_000, 'bus reconnected and flushed')
  await waitFor(() => [stalled.id, marker.id].every((id) => seen.seen.some((m) => m.data['id'] === id)), 15_000, 'camera.stalled and the marker delivered')
  t.pass('the oldest alert of the outage (camera.stalled) and the newest (the marker) both delivered')

  const states = seen.seen.filter((m) => m.subject.startsWith(`vigil.${r.node}.state.`)).slice(0, BOUND)
  t.equal(states.length, BOUND, `the ${BOUND} kept state messages delivered`)
  const times = states.map((m) => Date.parse(m.data['since'] as string))
  t.comment(`states delivered first after reconnect: ${states.map((m) => `${m.subject.split('.').slice(3).join('.')}:${m.data['state'] as string}`).join(', ')}`)
  t.ok(times.every((x, i) => i === 0 || x >= times[i - 1]! - 1), 'kept state messages delivered in the order they were raised')

  // The alert log has every alert, over NATS.
  let ids: string[] = []
  await waitFor(async () => {
    const list = await r.cmd<{ alerts: Array<{ id: string; code: string }> }>('alerts', 'list', {}, { timeoutMs: 2000 })
    if (list.ok) ids = list.result.alerts.map((a) => a.id)
    return list.ok
  }, 30_000, 'alerts.list answers after the reconnect', 200)
  t.ok(ids.includes(stalled.id), 'alerts.list returns camera.stalled')

  // An operator asks after the outage: supervisor.status tells what was dropped, and that the outbox emptied.
  type NatsView = { connected: boolean; dropped: number; outbox?: { pending: number; dropped: number; sent: number } }
  const status = await r.cmd<{ nats?: NatsView }>('supervisor', 'status', {}, { timeoutMs: 5000 })
  t.ok(status.ok, 'supervisor.status answers')
  const nats = status.ok ? status.result.nats : undefined
  t.ok(nats?.connected, 'status: the NATS link is connected')
  t.ok((nats?.dropped ?? 0) >= down.dropped, `status: the ${nats?.dropped} state messages dropped during the outage are counted there`)
  t.ok(nats?.outbox && nats.outbox.pending === 0 && nats.outbox.dropped === 0 && nats.outbox.sent >= box.pending, `status: the outbox emptied, nothing of it dropped (${JSON.stringify(nats?.outbox)})`)
})
