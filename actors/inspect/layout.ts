import { createRequire } from 'node:module'
import type { ELK as ElkApi, ELKConstructorArguments, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js'
import type { GraphEdge, GraphNode, MachineGraph } from './graph.js'

/**
 * Positions for a machine graph, from elkjs (layered, hierarchical: a compound
 * or parallel state is an ELK node with its substates as children, so nested
 * boxes come out nested). Every coordinate is absolute (the drawing's origin),
 * so the page draws without summing offsets.
 */

export interface Box {
  x: number
  y: number
  width: number
  height: number
}
export interface Point {
  x: number
  y: number
}

export interface LaidOutNode extends GraphNode, Box {}
export interface LaidOutEdge extends GraphEdge {
  /** The route: start, bends, end (one polyline per ELK section). */
  points: Point[][]
  labelBox: Box | null
}
export interface MachineLayout {
  id: string
  root: string
  width: number
  height: number
  nodes: LaidOutNode[]
  edges: LaidOutEdge[]
}

/** Rough text metrics of the page's font (12px sans): ELK needs label sizes up front. */
const CHAR_W = 7
const LINE_H = 14
const textWidth = (s: string) => Math.ceil(s.length * CHAR_W)

const TITLE_H = 26

function atomicSize(node: GraphNode): { width: number; height: number } {
  const lines = [node.label, ...node.internal]
  const width = Math.max(80, ...lines.map((l, i) => textWidth(l) * (i === 0 ? 1.1 : 0.9) + 24))
  const height = 34 + node.internal.length * LINE_H
  return { width: Math.ceil(width), height }
}

// elkjs's bundled build (no worker) is CommonJS: module.exports is the constructor.
const ELK = createRequire(import.meta.url)('elkjs/lib/elk.bundled.js') as new (args?: ELKConstructorArguments) => ElkApi
// ELK is stateless between calls: one instance for the process.
let elk: ElkApi | undefined

export async function layoutGraph(graph: MachineGraph): Promise<MachineLayout> {
  elk ??= new ELK()
  const children = new Map<string | null, GraphNode[]>()
  for (const n of graph.nodes) {
    const list = children.get(n.parent) ?? []
    list.push(n)
    children.set(n.parent, list)
  }
  const toElk = (n: GraphNode): ElkNode => {
    const kids = children.get(n.id) ?? []
    if (kids.length === 0) return { id: n.id, ...atomicSize(n) }
    const internalH = n.internal.length * LINE_H
    return {
      id: n.id,
      children: kids.map(toElk),
      layoutOptions: {
        'elk.padding': `[top=${TITLE_H + internalH},left=14,bottom=14,right=14]`,
        // Regions of a parallel state side by side; substates of a compound flow top-down.
        'elk.direction': n.type === 'parallel' ? 'RIGHT' : 'DOWN',
        'elk.nodeSize.constraints': 'MINIMUM_SIZE',
        'elk.nodeSize.minimum': `(${Math.max(100, textWidth(n.label) + 40, ...n.internal.map((l) => textWidth(l) + 30))},60)`,
      },
    }
  }
  const edges: ElkExtendedEdge[] = graph.edges.map((e) => ({
    id: e.id,
    sources: [e.source],
    targets: [e.target],
    labels: [{ id: `${e.id}:label`, text: e.label, width: textWidth(e.label), height: LINE_H }],
  }))
  const rootNode = graph.nodes.find((n) => n.parent === null)
  const root: ElkNode = {
    id: '__graph__',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.spacing.nodeNodeBetweenLayers': '40',
      'elk.spacing.nodeNode': '30',
      'elk.spacing.edgeLabel': '4',
      'elk.layered.mergeEdges': 'false',
      'elk.json.shapeCoords': 'ROOT',
      'elk.json.edgeCoords': 'ROOT',
      'elk.padding': '[top=10,left=10,bottom=10,right=10]',
    },
    children: rootNode ? [toElk(rootNode)] : [],
    edges,
  }
  const out = await elk.layout(root)

  const boxes = new Map<string, Box>()
  const collect = (n: ElkNode) => {
    boxes.set(n.id, { x: n.x ?? 0, y: n.y ?? 0, width: n.width ?? 0, height: n.height ?? 0 })
    for (const c of n.children ?? []) collect(c)
  }
  for (const c of out.children ?? []) collect(c)
  // With INCLUDE_CHILDREN, ELK may move an edge into the container it belongs to.
  const elkEdges = new Map<string, ElkExtendedEdge>()
  const collectEdges = (n: ElkNode) => {
    for (const e of n.edges ?? []) elkEdges.set(e.id, e)
    for (const c of n.children ?? []) collectEdges(c)
  }
  collectEdges(out)

  const nodes = graph.nodes.map((n) => ({ ...n, ...(boxes.get(n.id) ?? { x: 0, y: 0, width: 0, height: 0 }) }))
  const laidEdges = graph.edges.map((e): LaidOutEdge => {
    const le = elkEdges.get(e.id)
    const points = (le?.sections ?? []).map((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => ({ x: p.x, y: p.y })))
    const l = le?.labels?.[0]
    const labelBox = l && l.x !== undefined && l.y !== undefined ? { x: l.x, y: l.y, width: l.width ?? 0, height: l.height ?? 0 } : null
    return { ...e, points, labelBox }
  })
  return { id: graph.id, root: graph.root, width: out.width ?? 0, height: out.height ?? 0, nodes, edges: laidEdges }
}
