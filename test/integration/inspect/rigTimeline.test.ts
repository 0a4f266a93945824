import t from 'tap'
import { createActor } from 'xstate'
import { machineChild } from '../../../actors/supervisor/machineChild.js'
import { createWebMetrics, webChild } from '../../../actors/web/index.js'
import { webDepsFromRig } from '../../../actors/rig/webDeps.js'
import { inspectPlugin } from '../../../actors/inspect/routes.js'
import type { InspectEventEntry } from '../../../actors/inspect/events.js'
import { startTestRig } from '../../helpers/rig.js'
import { rawRequest } from '../../helpers/webRig.js'
import { greeterMachine as greeter } from '../../helpers/greeter.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The rig's own event log (ctx.inspectEvents, as actors/rig/children.ts passes it to
 * the plugin) follows the tree from before it starts: children started before the web
 * server have their whole timeline, and so does the supervisor.
 */
t.test('the rig follows every actor from its first event, before the web server is up', async (t) => {
  const { rig } = await startTestRig(t, {
    node: 'inspectrig',
    children: (ctx, spec) => [
      spec('greeter', { factory: () => machineChild(() => createActor(greeter)) }),
      spec('web', { factory: webChild(webDepsFromRig(ctx, { metrics: createWebMetrics({ node: 'inspectrig' }), plugins: [inspectPlugin({ supervisor: ctx.supervisor, events: ctx.inspectEvents })] })) }),
    ],
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
