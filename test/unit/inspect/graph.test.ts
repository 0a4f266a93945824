import t from 'tap'
import { setup, type MachineConfig } from 'xstate'
import { activeNodeIds, machineGraph } from '../../../actors/inspect/graph.js'
import { cameraMachine } from '../../../machines/camera.machine.js'

/** A small machine: nested, parallel, after (named and numeric), final, guard, internal. */
function testConfig(extraState = false) {
  const states: Record<string, unknown> = {
    idle: { on: { GO: 'working', PING: { actions: 'noop' } } },
    working: {
      initial: 'warming',
      states: {
        warming: { after: { warmup: 'running' } },
        running: { on: { TICK: { target: 'running', reenter: true } }, after: { 1000: { target: '#t.idle', guard: 'tired' } } },
      },
      on: { STOP: 'done' },
    },
    both: {
      type: 'parallel',
      states: {
        left: { initial: 'a', states: { a: { on: { FLIP: 'b' } }, b: {} } },
        right: { initial: 'x', states: { x: {} } },
      },
    },
    done: { type: 'final' },
  }
  if (extraState) {
    states.cooling = { on: { COOLED: 'idle' } }
    ;(states.working as { on: Record<string, string> }).on.OVERHEAT = 'cooling'
  }
  return { id: 't', initial: 'idle', states } as MachineConfig<any, any>
}
const make = (extra = false) =>
  setup({ delays: { warmup: 250 }, guards: { tired: () => true }, actions: { noop: () => {} } }).createMachine(testConfig(extra) as never)

t.test('states, types, parents, initial', async (t) => {
  const g = machineGraph(make())
  const node = (id: string) => g.nodes.find((n) => n.id === id)
  t.equal(g.root, 't')
  t.equal(node('t')?.type, 'compound')
  t.equal(node('t')?.parent, null)
  t.equal(node('t.idle')?.initial, true)
  t.equal(node('t.working')?.initial, false)
  t.equal(node('t.working.warming')?.parent, 't.working', 'a nested state has its parent')
  t.equal(node('t.working.warming')?.initial, true)
  t.equal(node('t.working.running')?.path, 'working.running')
  t.equal(node('t.both')?.type, 'parallel')
  t.equal(node('t.both.left')?.type, 'compound')
  t.equal(node('t.both.left')?.initial, false, 'regions of a parallel state are not "initial"')
  t.equal(node('t.done')?.type, 'final')
  t.same(node('t.idle')?.internal, ['PING'], 'a targetless transition is listed on its state')
})

t.test('edges: events, delays, guards, reenter', async (t) => {
  const g = machineGraph(make())
  const edge = (s: string, tg: string) => g.edges.filter((e) => e.source === s && e.target === tg)
  t.equal(edge('t.idle', 't.working')[0]?.label, 'GO')
  const warm = edge('t.working.warming', 't.working.running')[0]
  t.equal(warm?.kind, 'after')
  t.equal(warm?.delay, 'warmup')
  t.equal(warm?.delayMs, 250)
  t.equal(warm?.label, 'after warmup (250ms)', 'a delayed transition shows its delay')
  const back = edge('t.working.running', 't.idle')[0]
  t.equal(back?.label, 'after 1000ms [tired]')
  t.equal(back?.delayMs, 1000)
  t.equal(edge('t.working.running', 't.working.running')[0]?.reenter, true)
  t.equal(edge('t.working', 't.done')[0]?.label, 'STOP')
  t.equal(new Set(g.edges.map((e) => e.id)).size, g.edges.length, 'edge ids are unique')
})

t.test('a state added to the machine is in the graph', async (t) => {
  const before = machineGraph(make())
  const after = machineGraph(make(true))
  t.notOk(before.nodes.some((n) => n.id === 't.cooling'))
  t.ok(after.nodes.some((n) => n.id === 't.cooling' && n.parent === 't'))
  t.ok(after.edges.some((e) => e.source === 't.working' && e.target === 't.cooling' && e.label === 'OVERHEAT'))
  t.ok(after.edges.some((e) => e.source === 't.cooling' && e.target === 't.idle'))
})

t.test('active node ids from a snapshot value', async (t) => {
  const g = machineGraph(make())
  t.same(activeNodeIds(g, { working: 'running' }), ['t', 't.working', 't.working.running'])
  t.same(activeNodeIds(g, { both: { left: 'a', right: 'x' } }), ['t', 't.both', 't.both.left', 't.both.left.a', 't.both.right', 't.both.right.x'])
  t.same(activeNodeIds(g, 'idle'), ['t', 't.idle'])
})

t.test('a real machine: camera', async (t) => {
  const g = machineGraph(cameraMachine)
  t.ok(g.nodes.some((n) => n.id === 'camera.reconnecting'))
  t.ok(g.edges.some((e) => e.kind === 'after' && e.delay === 'reconnectBackoff' && e.target === 'camera.capturing'))
  t.ok(g.edges.some((e) => e.label.startsWith('error: ffmpeg')))
  t.equal(g.nodes.find((n) => n.id === 'camera.capturing.streaming.receiving')?.parent, 'camera.capturing.streaming')
})
