import t from 'tap'
import { openWs, startWebRig, CAMERA_PASSWORD } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'

// The rig's own feed listeners (the events ring follows it for the rig's life) are not the sockets'.
t.test('WebSocket sync and live feed', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  const own = rig.feed.observers.length
  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`)
  t.teardown(() => ws.close())

  const first = await ws.next(() => true)
  t.equal(first['type'], 'sync_response', 'the first message is the full state')
  const state = first['state'] as Record<string, any>
  t.equal(state['node'], 'webtest')
  t.equal(state['supervisor'], 'running')
  t.same(
    state['children'].map((c: { id: string }) => c.id),
    ['camera', 'web'],
  )
  t.equal(state['actors'].camera.context.password, '[redacted]')
  t.equal(state['ports'].flv, 18000)
  t.notMatch(JSON.stringify(first), CAMERA_PASSWORD)

  ws.send({ type: 'sync_request' })
  const again = await ws.next((m) => m['type'] === 'sync_response')
  t.equal((again['state'] as { node: string }).node, 'webtest', 'sync_request answers another full state')

  rig.feed.next({ type: 'state', actor: 'camera', state: 'stalled', at: new Date().toISOString(), details: { url: `rtsp://u:${CAMERA_PASSWORD}@cam/x` } })
  const live = await ws.next((m) => m['type'] === 'state')
  t.match(live, { type: 'state', actor: 'camera', state: 'stalled' })
  t.notMatch(JSON.stringify(live), CAMERA_PASSWORD, 'live items are redacted too')

  rig.alerts.add({ severity: 'info', source: 'x', code: 'x.noise', message: 'not fed' })
  rig.feed.next({ type: 'alert', alert: rig.alerts.add({ severity: 'critical', source: 'recorder', code: 'recorder.disk_full', message: 'disk full' }) })
  const alert = await ws.next((m) => m['type'] === 'alert')
  t.match(alert, { type: 'alert', alert: { code: 'recorder.disk_full', severity: 'critical' } })

  rig.feed.next({ type: 'event', kind: 'motion', payload: { score: 0.4 }, at: new Date().toISOString() })
  t.match(await ws.next((m) => m['type'] === 'event'), { type: 'event', kind: 'motion', payload: { score: 0.4 } })

  for (const bad of ['not json', '[1,2]', '{"type":"launch_missiles"}', '{}', '"sync_request"']) {
    ws.send(bad)
    const err = await ws.next((m) => m['type'] === 'error')
    t.match(err, { type: 'error', code: 'BAD_REQUEST' }, `${bad} → error`)
  }
  ws.send(Buffer.from([1, 2, 3]))
  t.match(await ws.next((m) => m['type'] === 'error'), { type: 'error', code: 'BAD_REQUEST' }, 'binary → error')
  ws.send({ type: 'sync_request' })
  t.equal((await ws.next((m) => m['type'] === 'sync_response'))['type'], 'sync_response', 'still open and answering after bad messages')
  ws.send({ type: 'ping' })
  t.equal((await ws.next((m) => m['type'] === 'pong'))['type'], 'pong')

  const second = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`)
  await second.next((m) => m['type'] === 'sync_response')
  rig.feed.next({ type: 'state', actor: 'camera', state: 'streaming', at: new Date().toISOString(), details: {} })
  t.match(await second.next((m) => m['type'] === 'state'), { actor: 'camera', state: 'streaming' }, 'every client gets the feed')
  t.match(await ws.next((m) => m['type'] === 'state'), { actor: 'camera', state: 'streaming' })
  second.close()
  await second.closed
  await waitFor(() => rig.feed.observers.length === own + 1, 2000, 'a closed client leaves the feed')
})

t.test('the server going away closes the sockets; a new server syncs again', async (t) => {
  const rig = await startWebRig()
  t.teardown(() => rig.stop())
  const own = rig.feed.observers.length
  const ws = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`)
  await ws.next((m) => m['type'] === 'sync_response')
  rig.supervisor.restart('web')
  await ws.closed
  t.pass('the client saw the close')
  await waitFor(() => rig.feed.observers.length === own, 2000, 'no subscription outlives its server')
  await waitFor(() => rig.listens >= 2, 10000, 'the web child restarted')
  const back = await openWs(`ws://127.0.0.1:${rig.port}/api/v1/ws`)
  t.teardown(() => back.close())
  const sync = await back.next((m) => m['type'] === 'sync_response')
  t.equal((sync['state'] as { supervisor: string }).supervisor, 'running')
})
