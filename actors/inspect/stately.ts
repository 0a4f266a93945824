import { createWebSocketInspector } from '@statelyai/inspect'
import type { AnyActorRef, AnyEventObject, InspectionEvent, MachineContext } from 'xstate'
import { redact } from '../web/redact.js'
import type { InspectSupervisor } from './routes.js'

/**
 * `vigil start --inspect stately`: every actor of the tree reported to
 * @statelyai/inspect's WebSocket inspector, so Stately's tools can attach
 * (`npx @statelyai/inspect` or createInspectorServer listens at `url`).
 *
 * The supervisor's own actor is inspected through createSupervisor's `inspect`
 * option; the children are created by their factories in their own actor
 * systems, so each instance's system is followed here (`system.inspect`) from
 * the supervisor's `onChildActor`, before it starts, and registered with its
 * initial snapshot and the actors it already invoked (their creation events came
 * before we could listen).
 * Contexts and events are redacted first.
 */

export interface StatelyBridgeOptions {
  /** The inspector server's WebSocket. Default ws://localhost:8080 (its default port). */
  url?: string
  secrets?: string[]
}

export function createStatelyBridge(opts: StatelyBridgeOptions = {}) {
  const secrets = opts.secrets ?? []
  const inspector = createWebSocketInspector({
    url: opts.url ?? 'ws://localhost:8080',
    sanitizeContext: (context: MachineContext) => redact(context, { secrets }) as MachineContext,
    sanitizeEvent: (event: AnyEventObject) => redact(event, { secrets }) as AnyEventObject,
    // The machine's definition goes along with its registration: a literal context in it is redacted too.
    serialize: (event) => {
      const e = event as { type: string; definition?: unknown }
      if (e.type === '@xstate.actor' && typeof e.definition === 'string') {
        try {
          e.definition = JSON.stringify(redact(JSON.parse(e.definition), { secrets, maxDepth: 64, maxArray: 10000, maxString: 100000 }))
        } catch {
          e.definition = undefined
        }
      }
      return event
    },
  })
  const followed = new Map<string, { instance: string; unsubscribe(): void }>()
  let stopFollowing: (() => void) | undefined

  const forward = (ev: InspectionEvent) => inspector.inspect.next?.(ev)

  // An actor and what it already invoked: XState makes the initial state's invoked
  // actors with the actor itself, before anyone can listen to its system.
  const register = (ref: AnyActorRef) => {
    const snapshot = ref.getSnapshot() as { children?: Record<string, AnyActorRef | undefined> }
    inspector.actor(ref, snapshot as never)
    for (const child of Object.values(snapshot.children ?? {})) if (child) register(child)
  }

  const follow = (child: string, actor: AnyActorRef | undefined) => {
    if (!actor) return
    const current = followed.get(child)
    if (current?.instance === actor.sessionId) return
    current?.unsubscribe()
    const system = (actor as { system?: { inspect?: (fn: (e: InspectionEvent) => void) => { unsubscribe(): void } } }).system
    if (typeof system?.inspect !== 'function') return
    register(actor)
    const sub = system.inspect(forward)
    followed.set(child, { instance: actor.sessionId, unsubscribe: () => sub.unsubscribe() })
  }

  return {
    /** For createSupervisor({ inspect }): the supervisor's own actor. */
    inspect: forward,
    /** Follow the supervisor's children (and each new instance of them) until stop(). */
    start(supervisor: () => InspectSupervisor): void {
      if (stopFollowing) return
      const sup = supervisor()
      stopFollowing = sup.onChildActor?.(follow) ?? (() => {})
      for (const c of sup.children()) follow(c.id, sup.childActor(c.id))
    },
    stop(): void {
      stopFollowing?.()
      stopFollowing = undefined
      for (const f of followed.values()) f.unsubscribe()
      followed.clear()
      inspector.stop()
    },
  }
}

export type StatelyBridge = ReturnType<typeof createStatelyBridge>
