import t from 'tap'
import { createServer, type Server } from 'node:net'
import { freePort, rawRequest, startWebRig, webActorOutcome } from '../helpers/webRig.js'
import { waitFor } from '../helpers/wait.js'

t.test('closed under it: the probe misses 3 times, the web fails, the supervisor restarts it, web.down is raised', async (t) => {
  const rig = await startWebRig({ timing: { probeIntervalMs: 100, probeMisses: 3, probeTimeoutMs: 1000 }, backoffMs: 200 })
  t.teardown(() => rig.stop())
  const states: string[] = []
  const sub = rig.feed.subscribe((item) => {
    if (item.type === 'state' && item.actor === 'web') states.push(item.state)
  })
  t.teardown(() => sub.unsubscribe())
  t.equal((await rawRequest(rig.baseUrl, '/health')).status, 200)
  const firstApp = rig.app()

  // Stop accepting connections without telling the machine: only its probe can notice.
  firstApp.server.close()
  await waitFor(() => rig.raised.some((a) => a.code === 'web.down'), 5000, 'web.down alert')
  const alert = rig.raised.find((a) => a.code === 'web.down')!
  t.match(alert, { source: 'web', severity: 'warning', code: 'web.down' })
  t.match(alert.message, /missed 3 times in a row/)
  t.equal(alert.details?.['port'], rig.port)

  await waitFor(() => rig.listens >= 2, 10000, 'the supervisor restarted the web child')
  t.not(rig.app(), firstApp, 'a fresh server')
  const web = rig.supervisor.children().find((c) => c.id === 'web')!
  t.equal(web.restarts, 1)
  t.equal(web.lastExit?.normal, false)
  t.match(web.lastExit?.reason, /health probe missed 3 times/)
  t.ok(rig.raised.some((a) => a.source === 'supervisor'), 'the supervisor reported the restart too')
  t.ok(states.includes('failed') || states.includes('restarting'), `the web's state went through failed/restarting (${states.join(' → ')})`)
  await waitFor(() => rig.supervisor.children().find((c) => c.id === 'web')?.state === 'listening', 5000, 'web listening again')

  const back = await rawRequest(rig.baseUrl, '/health')
  t.equal(back.status, 200, 'serving again on the same port')
  const ready = await rawRequest(rig.baseUrl, '/health/ready')
  t.equal(ready.status, 200)
  const metrics = await rawRequest(rig.baseUrl, '/metrics')
  t.match(metrics.body, /vigil_child_restarts_total\{[^}]*actor="web"[^}]*\} 1/)
})

t.test('an orderly stop is normal, frees the port and raises nothing', async (t) => {
  const rig = await startWebRig()
  const port = rig.port
  await rig.stop()
  const web = rig.supervisor.children().find((c) => c.id === 'web')!
  t.equal(web.lastExit?.normal, true)
  t.notOk(rig.raised.some((a) => a.code === 'web.down'))
  const refused = await rawRequest(`http://127.0.0.1:${port}`, '/health').then(
    () => false,
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  )
  t.ok(refused, 'nothing listens any more')
})

t.test('port in use: failed with a clear reason, web.down raised', async (t) => {
  const port = await freePort()
  const blocker: Server = createServer()
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  const { state, output, raised } = await webActorOutcome({ host: '127.0.0.1', port })
  t.equal(state, 'failed')
  t.match(output, { normal: false, reason: new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use.*VIGIL_WEB_PORT`) })
  t.match(raised, [{ source: 'web', code: 'web.down' }])
})
