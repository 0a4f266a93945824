import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createActor } from 'xstate'
import { loadConfig } from '../../../infra/config/load.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { startRig } from '../../../actors/rig/index.js'
import { machineChild } from '../../../actors/supervisor/machineChild.js'
import { createWebMetrics, webChild } from '../../../actors/web/index.js'
import { webDepsFromRig } from '../../../actors/web/rig.js'
import { inspectPlugin } from '../../../actors/inspect/routes.js'
import type { InspectEventEntry } from '../../../actors/inspect/events.js'
import { startNatsServer } from '../../helpers/natsServer.js'
import { rawRequest } from '../../helpers/webRig.js'
import { greeterMachine as greeter } from '../../helpers/greeter.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The rig's own event log (ctx.inspectEvents, as actors/rig/children.ts passes it to
 * the plugin) follows the tree from before it starts: children started before the web
 * server have their whole timeline, and so does the supervisor.
 */
t.test('the rig follows every actor from its first event, before the web server is up', async (t) => {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-inspect-rig-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: nats.url, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: 'inspectrig', VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const metrics = createWebMetrics({ node: 'inspectrig' })
  const rig = await startRig({
    config,
    log: silentLogger(),
    processes,
    children: (ctx, spec) => [
      spec('greeter', { factory: () => machineChild(() => createActor(greeter)) }),
      spec('web', { factory: webChild(webDepsFromRig(ctx, { metrics, plugins: [inspectPlugin({ supervisor: ctx.supervisor, events: ctx.inspectEvents })] })) }),
    ],
  })
  t.teardown(async () => {
    rig.requestShutdown('test over')
    await rig.exited
  })
  const base = `http://127.0.0.1:${rig.ports.web}`
  await waitFor(async () => (await rawRequest(base, '/health').catch(() => null))?.status === 200, 10000, 'web listening')

  const events = async (child: string) => (JSON.parse((await rawRequest(base, `/api/v1/inspect/events?child=${child}`)).body) as { events: InspectEventEntry[] }).events
  const greeterEvents = await events('greeter')
  t.same(
    greeterEvents.map((e) => e.type),
    ['HELLO'],
    'the greeter, started before the web server, has its first event in the timeline',
  )
  t.equal(greeterEvents[0]?.instance, rig.supervisor.childActor('greeter')?.sessionId)
  const supervisorEvents = await events('supervisor')
  t.equal(supervisorEvents[0]?.type, 'START', `the supervisor's timeline begins with its START (${supervisorEvents.map((e) => e.type).join(', ')})`)
})
