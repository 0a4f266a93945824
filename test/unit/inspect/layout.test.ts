import t from 'tap'
import { setup } from 'xstate'
import { machineGraph } from '../../../actors/inspect/graph.js'
import { layoutGraph, type Box } from '../../../actors/inspect/layout.js'
import { cameraMachine } from '../../../machines/camera.machine.js'

const make = (extra: boolean) =>
  setup({ delays: { warmup: 250 } }).createMachine({
    id: 't',
    initial: 'idle',
    states: {
      idle: { on: { GO: 'working' } },
      working: {
        initial: 'warming',
        states: { warming: { after: { warmup: 'running' } }, running: { on: { ...(extra ? { OVERHEAT: '#t.cooling' } : {}) } } },
        on: { STOP: 'done' },
      },
      ...(extra ? { cooling: { on: { COOLED: 'idle' } } } : {}),
      both: { type: 'parallel', states: { left: { initial: 'a', states: { a: {} } }, right: { initial: 'x', states: { x: {} } } } },
      done: { type: 'final' },
    },
  })

const inside = (inner: Box, outer: Box) =>
  inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width + 0.5 && inner.y + inner.height <= outer.y + outer.height + 0.5

t.test('every node gets a box; nested boxes sit inside their parent', async (t) => {
  const layout = await layoutGraph(machineGraph(make(false)))
  t.ok(layout.width > 0 && layout.height > 0)
  for (const n of layout.nodes) {
    t.ok(n.width > 0 && n.height > 0 && Number.isFinite(n.x) && Number.isFinite(n.y), `${n.id} has a box`)
    const parent = layout.nodes.find((p) => p.id === n.parent)
    if (parent) t.ok(inside(n, parent), `${n.id} is inside ${parent.id}`)
  }
  for (const e of layout.edges) t.ok(e.points.length > 0 && e.points[0]!.length >= 2, `${e.id} has a route`)
  const after = layout.edges.find((e) => e.kind === 'after')
  t.equal(after?.label, 'after warmup (250ms)')
  t.ok(after?.labelBox, 'the delay label is placed')
})

t.test('a state added to the machine appears in the layout', async (t) => {
  const before = await layoutGraph(machineGraph(make(false)))
  const after = await layoutGraph(machineGraph(make(true)))
  t.notOk(before.nodes.some((n) => n.id === 't.cooling'))
  const cooling = after.nodes.find((n) => n.id === 't.cooling')
  t.ok(cooling && cooling.width > 0, 'cooling is laid out')
  const root = after.nodes.find((n) => n.id === 't')!
  t.ok(cooling && inside(cooling, root))
  const edge = after.edges.find((e) => e.source === 't.working.running' && e.target === 't.cooling')
  t.ok(edge && edge.points.length > 0, 'its incoming transition is routed')
})

t.test('a real machine lays out', async (t) => {
  const layout = await layoutGraph(machineGraph(cameraMachine))
  t.ok(layout.nodes.every((n) => n.width > 0))
  t.ok(layout.edges.every((e) => e.points.length > 0))
})
