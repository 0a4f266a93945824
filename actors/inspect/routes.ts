import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AnyActorRef } from 'xstate'
import type { FastifyPluginAsync } from 'fastify'
import type { SupervisorView } from '../web/state.js'
import { redact } from '../web/redact.js'
import { sendError } from '../web/httpErrors.js'
import { activeNodeIds, machineGraph, type MachineGraph, type MachineLike } from './graph.js'
import { layoutGraph, type MachineLayout } from './layout.js'
import { createEventLog, type EventLog } from './events.js'

/**
 * The inspector's routes, registered inside the web server through
 * WebServerDeps.plugins (no CDN, no build step: web/inspect/ is served as is):
 *
 * - GET /inspect                       the page
 * - GET /inspect/static/<file>         its script and stylesheet
 * - GET /api/v1/inspect/machines       per child: its machine's graph, laid out (cached per machine)
 * - GET /api/v1/inspect/state          per child: active states, restarts, instance, context (redacted)
 * - GET /api/v1/inspect/events         recent events per child (?child=, ?since=seq), from XState's inspection API
 *
 * A child's machine is found from its running actor (`actor.logic`), so there is
 * no table to keep in step with the rig: a new child shows up by itself.
 */

export const INSPECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../web/inspect')

// A Map, not an object: a name from the URL must never find Object.prototype's members (`__proto__` was a 500).
const FILES: ReadonlyMap<string, string> = new Map([
  ['inspect.js', 'text/javascript; charset=utf-8'],
  ['inspect.css', 'text/css; charset=utf-8'],
])

/**
 * The supervisor as the inspector reads it: the web's view, plus its own actor when
 * there and the hook that hands over each new child actor before it starts (the handle has both).
 */
export type InspectSupervisor = SupervisorView & {
  actor?: AnyActorRef
  onChildActor?(listener: (id: string, actor: AnyActorRef) => void): () => void
}

export interface InspectDeps {
  supervisor: () => InspectSupervisor
  /** Literal secrets never to send (web.token). */
  secrets?: string[]
  /** Default: web/inspect at the repository root. */
  dir?: string
  /**
   * The event timeline, when its owner follows the actors itself (the rig, from before
   * the tree starts). Absent: made here, and it follows each new instance from the first
   * web instance on; it lives as long as the plugin, across web restarts.
   */
  events?: EventLog
}

export interface MachineEntry {
  /** The child id (or `supervisor` for the tree itself). */
  child: string
  machine: string
  layout: MachineLayout
}

export interface ChildInspectState {
  child: string
  /** The supervisor's view: the child's own state when running, else its supervision status. */
  state: string
  status: string
  restarts: number
  /** The supervisor's generation of this child: a new one per (re)start. */
  gen: number | null
  /** The running actor's sessionId: changes with every new instance. */
  instance: string | null
  machine: string | null
  value: unknown
  /** The graph node ids active now (root included). */
  active: string[]
  context: unknown
  lastExit: unknown
  nextRetryAt: string | null
}

export interface InspectState {
  supervisor: { state: string; value: unknown; active: string[]; uptimeS: number }
  children: ChildInspectState[]
  at: string
}

const isMachine = (logic: unknown): logic is MachineLike & { config: object } =>
  typeof logic === 'object' && logic !== null && 'root' in logic && 'config' in logic && typeof (logic as { id?: unknown }).id === 'string'

/** Graphs and layouts, once per machine definition (`machine.provide()` keeps the config object). */
export function createMachineCache() {
  const graphs = new WeakMap<object, MachineGraph>()
  const layouts = new WeakMap<object, Promise<MachineLayout>>()
  const keyOf = (m: MachineLike & { config: object }) => m.config
  return {
    graph(m: MachineLike & { config: object }): MachineGraph {
      let g = graphs.get(keyOf(m))
      if (!g) {
        g = machineGraph(m)
        graphs.set(keyOf(m), g)
      }
      return g
    },
    layout(m: MachineLike & { config: object }): Promise<MachineLayout> {
      let p = layouts.get(keyOf(m))
      if (!p) {
        p = layoutGraph(this.graph(m))
        // A failed layout is not cached: the next request tries again.
        p.catch(() => layouts.delete(keyOf(m)))
        layouts.set(keyOf(m), p)
      }
      return p
    },
  }
}

function genOf(sup: InspectSupervisor, id: string): number | null {
  try {
    const ctx = sup.actor?.getSnapshot()?.context as { children?: Record<string, { gen?: unknown }> } | undefined
    const gen = ctx?.children?.[id]?.gen
    return typeof gen === 'number' ? gen : null
  } catch {
    return null
  }
}

export function inspectPlugin(deps: InspectDeps): FastifyPluginAsync {
  const dir = deps.dir ?? INSPECT_DIR
  const secrets = deps.secrets ?? []
  const cache = createMachineCache()
  // The last machine seen per child, so a child that is down (restarting, failed) keeps its diagram.
  const lastMachine = new Map<string, MachineLike & { config: object }>()

  const events = deps.events ?? createEventLog({ secrets })
  const attachAll = () => events.attachCurrent(deps.supervisor())
  // A log made here follows each new instance from before it starts, also while the web
  // server is down (the timeline outlives it). Once per plugin: the supervisor exists only
  // once the first web instance registers the plugin, and lives as long as it.
  let following = deps.events !== undefined
  const followNewInstances = () => {
    if (following) return
    events.follow(deps.supervisor())
    following = true
  }

  const machineOf = (child: string, actor: AnyActorRef | undefined) => {
    const logic = (actor as { logic?: unknown } | undefined)?.logic
    if (isMachine(logic)) lastMachine.set(child, logic)
    return lastMachine.get(child)
  }

  return async (app) => {
    followNewInstances()
    app.addHook('onReady', async () => attachAll())

    app.get<{ Querystring: { child?: string; since?: string } }>('/api/v1/inspect/events', { config: { role: 'viewer' }, schema: {} }, async (request) => {
      attachAll()
      const since = Number(request.query.since ?? 0)
      return {
        seq: events.seq(),
        events: events.list({ ...(request.query.child ? { child: request.query.child } : {}), since: Number.isFinite(since) ? since : 0 }),
      }
    })

    // CSP, frame and sniffing headers come from the web's security plugin, like every response's.
    app.get('/inspect', { config: { role: 'viewer', loginRedirect: true }, schema: {} }, async (_request, reply) => {
      const html = await readFile(join(dir, 'index.html'), 'utf8')
      return reply
        .header('Cache-Control', 'no-cache')
        .type('text/html; charset=utf-8')
        .send(html)
    })

    app.get<{ Params: { file: string } }>('/inspect/static/:file', { config: { role: 'viewer' }, schema: {} }, async (request, reply) => {
      const type = FILES.get(request.params.file)
      if (type === undefined) return sendError(reply, 'NOT_FOUND', 'no such inspector file')
      const body = await readFile(join(dir, request.params.file), 'utf8')
      return reply.header('Cache-Control', 'no-cache').type(type).send(body)
    })

    app.get('/api/v1/inspect/machines', { config: { role: 'viewer' }, schema: {} }, async () => {
      const sup = deps.supervisor()
      const out: MachineEntry[] = []
      const supMachine = machineOf('supervisor', sup.actor)
      if (supMachine) out.push({ child: 'supervisor', machine: supMachine.id, layout: await cache.layout(supMachine) })
      for (const c of sup.children()) {
        const m = machineOf(c.id, sup.childActor(c.id))
        if (m) out.push({ child: c.id, machine: m.id, layout: await cache.layout(m) })
      }
      return { machines: out }
    })

    app.get('/api/v1/inspect/state', { config: { role: 'viewer' }, schema: {} }, async () => {
      attachAll()
      const sup = deps.supervisor()
      const supSnap = sup.actor?.getSnapshot() as { value?: unknown } | undefined
      const supMachine = machineOf('supervisor', sup.actor)
      const children = sup.children().map((c): ChildInspectState => {
        const actor = sup.childActor(c.id)
        const m = machineOf(c.id, actor)
        const snap = actor?.getSnapshot() as { value?: unknown; context?: unknown; status?: string } | undefined
        const value = snap?.value ?? null
        return {
          child: c.id,
          state: c.state,
          status: c.status,
          restarts: c.restarts,
          gen: genOf(sup, c.id),
          instance: actor ? actor.sessionId : null,
          machine: m ? m.id : null,
          value,
          active: m && actor && value !== null ? activeNodeIds(cache.graph(m), value) : [],
          context: snap?.context ?? null,
          lastExit: c.lastExit,
          nextRetryAt: c.nextRetryAt,
        }
      })
      const state: InspectState = {
        supervisor: {
          state: sup.state(),
          value: supSnap?.value ?? null,
          active: supMachine && supSnap ? activeNodeIds(cache.graph(supMachine), supSnap.value) : [],
          uptimeS: sup.uptimeS(),
        },
        children,
        at: new Date().toISOString(),
      }
      // Everything goes through redact: contexts carry URLs with credentials, exit reasons ffmpeg's lines.
      return redact(state, { secrets, maxDepth: 10 })
    })
  }
}
