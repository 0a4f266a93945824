import t from 'tap'
import Fastify from 'fastify'
import { createActor, fromCallback } from 'xstate'
import { inspectPlugin, type InspectState, type MachineEntry } from '../../../actors/inspect/routes.js'
import type { InspectEventEntry } from '../../../actors/inspect/events.js'
import { cameraMachine } from '../../../machines/camera.machine.js'
import { waitFor } from '../../helpers/wait.js'
import { TOKEN, startInspectRig } from './rig.js'

// The rig has a web token, so the inspector needs it like every other read (DESIGN.md §9.1).
const authed = { headers: { Authorization: `Bearer ${TOKEN}` } }

const getJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url, authed)
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

t.test('through the web server: machines with layouts, live state, restarts', async (t) => {
  const rig = await startInspectRig()
  t.teardown(() => rig.stop())

  const { machines } = await getJson<{ machines: MachineEntry[] }>(rig.url('/api/v1/inspect/machines'))
  const byChild = new Map(machines.map((m) => [m.child, m]))
  t.same([...byChild.keys()].sort(), ['camera', 'supervisor', 'web'], 'a diagram per child, and the supervisor')
  const camera = byChild.get('camera')!
  t.equal(camera.machine, 'camera')
  for (const id of ['camera.idle', 'camera.capturing', 'camera.capturing.streaming.receiving', 'camera.reconnecting']) {
    const n = camera.layout.nodes.find((x) => x.id === id)
    t.ok(n && n.width > 0 && n.height > 0, `${id} laid out`)
  }
  t.ok(camera.layout.edges.some((e) => e.kind === 'after' && e.delay === 'reconnectBackoff' && e.points.length > 0), 'delayed transitions routed')
  t.ok(byChild.get('web')!.layout.nodes.length > 2, 'the web machine too')

  // Camera: streaming since its first frame; its ffmpeg dies: reconnecting.
  let state = await getJson<InspectState>(rig.url('/api/v1/inspect/state'))
  let cam = state.children.find((c) => c.child === 'camera')!
  t.same(cam.active, ['camera', 'camera.capturing', 'camera.capturing.streaming', 'camera.capturing.streaming.receiving'], 'streaming is highlighted')
  t.same(cam.value, { capturing: { streaming: 'receiving' } })
  t.equal(cam.restarts, 0)
  t.equal(cam.gen, 1)
  t.match(cam.context, { framesSeen: 1 }, 'context is served')
  t.equal(state.supervisor.state, 'running')
  t.ok(state.supervisor.active.length > 1, 'the supervisor highlights too')
  const firstInstance = cam.instance
  t.ok(firstInstance)

  await rig.dieIntoBackoff()
  state = await getJson<InspectState>(rig.url('/api/v1/inspect/state'))
  cam = state.children.find((c) => c.child === 'camera')!
  t.same(cam.active, ['camera', 'camera.reconnecting'], 'the state change is seen')
  t.equal(cam.state, 'reconnecting')
  t.equal(cam.instance, firstInstance, 'the same instance: the machine itself reconnects')

  const { events } = await getJson<{ events: InspectEventEntry[] }>(rig.url('/api/v1/inspect/events?child=camera'))
  const exited = events.find((e) => e.type === 'FFMPEG.EXITED')
  t.ok(exited, `the timeline has the exit (${events.map((e) => e.type).join(', ')})`)
  t.equal(exited?.value, 'reconnecting', 'with the state it led to')
  t.match(exited?.payload, { reason: 'killed by SIGKILL', normal: false })
  t.equal(exited?.source, 'ffmpeg', 'sent by the invoked ffmpeg')

  // A restart: a new instance, counted.
  rig.supervisor.restart('camera')
  await waitFor(
    async () => (await getJson<InspectState>(rig.url('/api/v1/inspect/state'))).children.find((c) => c.child === 'camera')?.gen === 2,
    5000,
    'camera restarted',
  )
  state = await getJson<InspectState>(rig.url('/api/v1/inspect/state'))
  cam = state.children.find((c) => c.child === 'camera')!
  t.not(cam.instance, firstInstance, 'a new actor instance')
  t.equal(cam.restarts, 1, 'the restart is counted')
  await waitFor(
    async () => (await getJson<InspectState>(rig.url('/api/v1/inspect/state'))).children.find((c) => c.child === 'camera')?.active.includes('camera.capturing.streaming') === true,
    5000,
    'the new instance streams',
  )
  const { events: later } = await getJson<{ events: InspectEventEntry[] }>(rig.url('/api/v1/inspect/events?child=camera'))
  t.equal(
    later.find((e) => e.instance === cam.instance)?.type,
    'FRAME',
    'the new instance is in the timeline from its first event (its first frame, the moment it started)',
  )
  const again = await getJson<{ machines: MachineEntry[] }>(rig.url('/api/v1/inspect/machines'))
  t.same(again.machines.find((m) => m.child === 'camera')?.layout, camera.layout, 'the layout is the cached one')
})

t.test('secrets never leave; the page and its files are served, nothing else', async (t) => {
  const rig = await startInspectRig()
  t.teardown(() => rig.stop())
  const body = await (await fetch(rig.url('/api/v1/inspect/state'), authed)).text()
  t.notMatch(body, TOKEN, 'the web token is redacted from every context')
  const page = await fetch(rig.url('/inspect'), authed)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/)
  const html = await page.text()
  t.match(html, /inspect\/static\/inspect\.js/)
  t.notMatch(html, /https?:\/\//, 'no CDN')
  const js = await fetch(rig.url('/inspect/static/inspect.js'), authed)
  t.equal(js.status, 200)
  t.match(js.headers.get('content-type'), /javascript/)
  t.equal((await fetch(rig.url('/inspect/static/..%2F..%2Fpackage.json'), authed)).status, 404)
  t.equal((await fetch(rig.url('/inspect/static/index.html'), authed)).status, 404)
})

t.test('on a bare Fastify with a context holding a secret', async (t) => {
  const secretActor = createActor(cameraMachine.provide({ actors: { runFfmpeg: fromCallback(() => {}) } }), { input: { frameTimeoutMs: 60000 } })
  secretActor.start()
  t.teardown(() => secretActor.stop())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(
    inspectPlugin({
      supervisor: () => ({
        state: () => 'running',
        uptimeS: () => 1,
        childActor: (id) => (id === 'camera' ? (secretActor as never) : undefined),
        children: () => [
          { id: 'camera', state: 'starting', status: 'running', restarts: 3, pids: [], since: new Date().toISOString(), lastExit: { normal: false, reason: 'rtsp://admin:pw@cam/ gone', at: new Date().toISOString() }, nextRetryAt: null },
          { id: 'gone', state: 'restarting', status: 'restarting', restarts: 1, pids: [], since: new Date().toISOString(), lastExit: null, nextRetryAt: null },
        ],
      }),
    }),
  )
  const machines = (await app.inject('/api/v1/inspect/machines')).json() as { machines: MachineEntry[] }
  t.same(machines.machines.map((m) => m.child), ['camera'], 'a child with no actor has no diagram (yet)')
  const state = (await app.inject('/api/v1/inspect/state')).json() as InspectState
  const cam = state.children.find((c) => c.child === 'camera')!
  t.equal(cam.restarts, 3)
  t.equal(cam.gen, null, 'no supervisor actor: no gen')
  t.notMatch(JSON.stringify(cam.lastExit), /admin:pw/, 'URL credentials redacted')
  const gone = state.children.find((c) => c.child === 'gone')!
  t.same(gone.active, [])
  t.equal(gone.instance, null)
})
