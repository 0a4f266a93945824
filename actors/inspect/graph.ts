/**
 * A statechart as a plain graph, read from an XState v5 machine's own state
 * nodes (machine.root): nothing is drawn by hand, so a state added to a machine
 * shows up in /inspect by itself. Pure: no I/O, no layout (see layout.ts).
 */

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history'

export interface GraphNode {
  /** The state node's XState id (`camera.capturing.streaming`): unique within the machine. */
  id: string
  /** The state's key (`streaming`); the root's is the machine id. */
  label: string
  /** The keys from the root (`capturing.streaming`; '' for the root): what a snapshot value names. */
  path: string
  /** The containing state's id; null for the machine's root. */
  parent: string | null
  type: StateType
  /** The parent's initial state (never true for a parallel region or the root). */
  initial: boolean
  /** Transitions with no target (handled without leaving the state): their labels. */
  internal: string[]
  /** Tags (`ready`) from the definition. */
  tags: string[]
}

export type EdgeKind = 'event' | 'after' | 'always' | 'done' | 'error'

export interface GraphEdge {
  id: string
  source: string
  target: string
  /** `FRAME`, `after frameTimeout`, `after 1000ms`, `always`, `done: ffmpeg`, with ` [guard]`. */
  label: string
  kind: EdgeKind
  /** The event type as XState sees it (`xstate.after.frameTimeout.camera…`). */
  event: string
  /** For `after`: the delay as written (a name from setup({ delays }) or a number of ms). */
  delay?: string | number
  /** The delay's value when it is a constant (a number, or a named delay given as a number). */
  delayMs?: number
  guard?: string
  /** A self-transition that exits and re-enters its state. */
  reenter?: boolean
}

export interface MachineGraph {
  /** The machine's id (its root state's key). */
  id: string
  root: string
  nodes: GraphNode[]
  edges: GraphEdge[]
}

// The parts of XState's StateNode / TransitionDefinition this reads (public,
// but typed for the machine's own generics; read structurally here).
interface TransitionLike {
  eventType: string
  target?: ReadonlyArray<{ id: string }> | undefined
  guard?: unknown
  reenter?: boolean
  delay?: unknown
}
interface StateNodeLike {
  id: string
  key: string
  path?: readonly string[]
  type: string
  parent?: StateNodeLike | undefined
  initial?: { target?: ReadonlyArray<{ id: string }> } | undefined
  states: Record<string, StateNodeLike>
  tags?: readonly string[]
  transitions: Map<string, TransitionLike[]>
  always?: TransitionLike[] | undefined
  after?: TransitionLike[] | undefined
}
export interface MachineLike {
  id: string
  root: unknown
  implementations?: { delays?: Record<string, unknown> }
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined
  if (typeof guard === 'string') return guard
  if (typeof guard === 'function') return guard.name && guard.name !== 'guard' ? guard.name : 'guard'
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type
  return 'guard'
}

/** `xstate.done.actor.ffmpeg` → `done: ffmpeg`; plain events as they are. */
export function eventLabel(eventType: string): { label: string; kind: EdgeKind } {
  // An invoke without an id gets `0.web.listening.probing`: say just done/error.
  const actorName = (id: string) => (/^\d+\./.test(id) ? '' : `: ${id}`)
  if (eventType.startsWith('xstate.done.actor.')) return { label: `done${actorName(eventType.slice('xstate.done.actor.'.length))}`, kind: 'done' }
  if (eventType.startsWith('xstate.error.actor.')) return { label: `error${actorName(eventType.slice('xstate.error.actor.'.length))}`, kind: 'error' }
  if (eventType.startsWith('xstate.done.state.')) return { label: 'done', kind: 'done' }
  return { label: eventType, kind: 'event' }
}

function nodeType(type: string): StateType {
  return type === 'compound' || type === 'parallel' || type === 'final' || type === 'history' ? type : 'atomic'
}

/** The graph of a machine (anything with XState v5's `root` state node). */
export function machineGraph(machine: MachineLike): MachineGraph {
  const root = machine.root as StateNodeLike
  const delays = machine.implementations?.delays ?? {}
  const nodes: GraphNode[] = []
  const edges: GraphEdge[] = []
  const edgeIds = new Map<string, number>()
  const edgeId = (base: string) => {
    const n = edgeIds.get(base) ?? 0
    edgeIds.set(base, n + 1)
    return n === 0 ? base : `${base}#${n}`
  }

  const addTransition = (state: StateNodeLike, t: TransitionLike, kind: EdgeKind | undefined, internal: string[]) => {
    let label: string
    let k: EdgeKind
    let delay: string | number | undefined
    let delayMs: number | undefined
    if (kind === 'after') {
      k = 'after'
      delay = typeof t.delay === 'number' || typeof t.delay === 'string' ? t.delay : String(t.delay)
      const named = typeof delay === 'string' ? delays[delay] : undefined
      delayMs = typeof delay === 'number' ? delay : typeof named === 'number' ? named : undefined
      label = typeof delay === 'number' ? `after ${delay}ms` : delayMs !== undefined ? `after ${delay} (${delayMs}ms)` : `after ${delay}`
    } else if (kind === 'always') {
      k = 'always'
      label = 'always'
    } else {
      const e = eventLabel(t.eventType)
      k = e.kind
      label = e.label
    }
    const guard = guardName(t.guard)
    if (guard) label += ` [${guard}]`
    const targets = t.target ?? []
    if (targets.length === 0) {
      internal.push(label)
      return
    }
    for (const target of targets) {
      edges.push({
        id: edgeId(`${state.id}→${target.id}:${label}`),
        source: state.id,
        target: target.id,
        label,
        kind: k,
        event: t.eventType,
        ...(delay === undefined ? {} : { delay }),
        ...(delayMs === undefined ? {} : { delayMs }),
        ...(guard ? { guard } : {}),
        ...(t.reenter ? { reenter: true } : {}),
      })
    }
  }

  const walk = (state: StateNodeLike, parent: StateNodeLike | null) => {
    const internal: string[] = []
    const initialOfParent = parent?.type !== 'parallel' && (parent?.initial?.target ?? []).some((t) => t.id === state.id)
    nodes.push({
      id: state.id,
      label: state.key,
      path: (state.path ?? []).join('.'),
      parent: parent ? parent.id : null,
      type: nodeType(state.type),
      initial: parent !== null && initialOfParent,
      internal,
      tags: [...(state.tags ?? [])],
    })
    const afterEvents = new Set((state.after ?? []).map((t) => t.eventType))
    for (const t of state.after ?? []) addTransition(state, t, 'after', internal)
    for (const t of state.always ?? []) addTransition(state, t, 'always', internal)
    for (const [eventType, ts] of state.transitions) {
      if (afterEvents.has(eventType)) continue
      for (const t of ts) addTransition(state, t, undefined, internal)
    }
    for (const child of Object.values(state.states)) walk(child, state)
  }
  walk(root, null)
  return { id: machine.id, root: root.id, nodes, edges }
}

/**
 * The paths a snapshot value names (`{ capturing: 'streaming' }` → '', `capturing`,
 * `capturing.streaming`): the root and every active state, parallel regions included.
 */
export function activePaths(value: unknown): string[] {
  const out = ['']
  const walk = (prefix: string, v: unknown) => {
    const at = (k: string) => (prefix ? `${prefix}.${k}` : k)
    if (typeof v === 'string') {
      out.push(at(v))
      return
    }
    if (typeof v !== 'object' || v === null) return
    for (const [k, sub] of Object.entries(v as Record<string, unknown>)) {
      out.push(at(k))
      walk(at(k), sub)
    }
  }
  walk('', value)
  return out
}

/** The graph's node ids active in a snapshot value (works with custom state ids too). */
export function activeNodeIds(graph: MachineGraph, value: unknown): string[] {
  const byPath = new Map(graph.nodes.map((n) => [n.path, n.id]))
  return activePaths(value).flatMap((p) => {
    const id = byPath.get(p)
    return id === undefined ? [] : [id]
  })
}
