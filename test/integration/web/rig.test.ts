import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../../infra/config/load.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { startRig } from '../../../actors/rig/index.js'
import { createWebMetrics, webChild } from '../../../actors/web/index.js'
import { webDepsFromRig } from '../../../actors/rig/webDeps.js'
import { startNatsServer } from '../../helpers/natsServer.js'
import { openWs, rawRequest } from '../../helpers/webRig.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The wiring the composition root uses (webDepsFromRig + webChild) inside a real
 * rig with a real nats-server: readiness sees NATS, the state and the
 * WebSocket see the tree, the port resolved at start is the one served.
 */
t.test('the web child in a real rig', async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-webrig-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: nats.url, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: 'webrig', VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  // Plenty of free space in any CI temp dir is not guaranteed; readiness compares with this.
  config.recorder.stopBelowBytes = 1
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const metrics = createWebMetrics({ node: 'webrig' })
  const rig = await startRig({
    config,
    log: silentLogger(),
    processes,
    children: (ctx, spec) => [spec('web', { factory: webChild(webDepsFromRig(ctx, { metrics })) })],
  })
  t.teardown(async () => {
    rig.requestShutdown('test over')
    await rig.exited
  })
  const base = `http://127.0.0.1:${rig.ports.web}`
  await waitFor(async () => (await rawRequest(base, '/health').catch(() => null))?.status === 200, 10000, 'web listening on the resolved port')

  await waitFor(async () => (await rawRequest(base, '/health/ready')).status === 200, 10000, 'ready once NATS is connected')
  const ready = JSON.parse((await rawRequest(base, '/health/ready')).body) as { nats: { connected: boolean }; media: { reachable: boolean } }
  t.equal(ready.nats.connected, true)
  t.equal(ready.media.reachable, false, 'no media server in this rig: reported, not gating')

  const state = JSON.parse((await rawRequest(base, '/api/v1/state')).body) as { node: string; ports: { web: number; flv: number }; children: Array<{ id: string; state: string }> }
  t.equal(state.node, 'webrig')
  t.equal(state.ports.web, rig.ports.web)
  t.equal(state.ports.flv, rig.ports.flv)
  t.same(state.children.map((c) => [c.id, c.state]), [['web', 'listening']])

  const ws = await openWs(`ws://127.0.0.1:${rig.ports.web}/api/v1/ws`)
  t.teardown(() => ws.close())
  await ws.next((m) => m['type'] === 'sync_response')
  rig.supervisor.restart('web')
  await ws.closed
  await waitFor(async () => (await rawRequest(base, '/health').catch(() => null))?.status === 200, 10000, 'web back on the same port')

  const unknown = await rawRequest(base, '/api/v1/recorder/start', { method: 'POST', headers: { 'content-type': 'application/json', 'X-Trace-ID': 'rig-trace-1' }, body: '{}' })
  t.equal(unknown.status, 400, 'no recorder in this rig: the router says so')
  t.match(JSON.parse(unknown.body), { ok: false, error: { code: 'BAD_REQUEST' } })
  t.equal(unknown.headers['x-trace-id'], 'rig-trace-1')
})
