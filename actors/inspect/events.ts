import type { AnyActorRef, InspectionEvent } from 'xstate'
import { redact } from '../web/redact.js'

/**
 * The recent events of each supervised actor, for the inspector's timeline.
 * Fed from XState's inspection API on each instance's own system
 * (`actor.system.inspect`): children are created by their factories, not spawned
 * by the supervisor, so the supervisor's `inspect` option does not see them.
 * A new instance (a restart) is attached before it starts (the supervisor's
 * `onChildActor`), so its timeline begins with its first event.
 *
 * Repeats of one event type in a row (a camera's FRAME at 25/s) are folded into
 * one entry with a count, so the log holds what happened, not the frame rate.
 */

export interface InspectEventEntry {
  seq: number
  child: string
  /** The actor instance (sessionId) that received it. */
  instance: string
  type: string
  /** The event's other fields, redacted. */
  payload: unknown
  /** Who sent it (an invoked actor's id), when XState knows. */
  source: string | null
  /** The machine's state value after the event. */
  value: unknown
  /** ISO time of the first and the last of a folded run. */
  firstAt: string
  at: string
  count: number
}

/** What the log follows: the supervisor's actor, its children's current actors, and each new one. */
export interface FollowedTree {
  actor?: AnyActorRef
  children(): Array<{ id: string }>
  childActor(id: string): AnyActorRef | undefined
  onChildActor?(listener: (id: string, actor: AnyActorRef) => void): () => void
}

export interface EventLogOptions {
  /** Entries kept per child. */
  max?: number
  secrets?: string[]
  now?: () => number
}

export function createEventLog(opts: EventLogOptions = {}) {
  const max = opts.max ?? 100
  const secrets = opts.secrets ?? []
  const now = opts.now ?? Date.now
  const logs = new Map<string, InspectEventEntry[]>()
  const attached = new Map<string, { instance: string; unsubscribe(): void }>()
  const unfollows: Array<() => void> = []
  let seq = 0

  const push = (child: string, entry: Omit<InspectEventEntry, 'seq' | 'child'>) => {
    const list = logs.get(child) ?? []
    logs.set(child, list)
    const last = list.at(-1)
    if (last && last.type === entry.type && last.instance === entry.instance) {
      // Folded: it moves to the end of the timeline with a new seq.
      last.count += 1
      last.at = entry.at
      last.payload = entry.payload
      last.value = entry.value
      last.seq = ++seq
      return
    }
    list.push({ seq: ++seq, child, ...entry })
    if (list.length > max) list.splice(0, list.length - max)
  }

  const onInspect = (child: string, actor: AnyActorRef) => (ev: InspectionEvent) => {
    if (ev.actorRef !== actor) return
    if (ev.type === '@xstate.event') {
      const { type, ...payload } = ev.event
      if (type === 'xstate.init' || type === 'xstate.stop') return
      const at = new Date(now()).toISOString()
      push(child, {
        instance: actor.sessionId,
        type,
        payload: redact(payload, { secrets, maxDepth: 4, maxString: 500 }),
        source: (ev.sourceRef as { id?: string } | undefined)?.id ?? null,
        value: null,
        firstAt: at,
        at,
        count: 1,
      })
    } else if (ev.type === '@xstate.snapshot') {
      // The state the last event led to.
      const last = logs.get(child)?.at(-1)
      const value = (ev.snapshot as { value?: unknown }).value
      if (last && last.instance === actor.sessionId && value !== undefined) last.value = redact(value)
    }
  }

  /** Follow this child's current actor (a no-op when already following it). */
  const attach = (child: string, actor: AnyActorRef | undefined): void => {
    const current = attached.get(child)
    if (!actor) return
    if (current?.instance === actor.sessionId) return
    current?.unsubscribe()
    const system = (actor as { system?: { inspect?: (fn: (e: InspectionEvent) => void) => { unsubscribe(): void } } }).system
    if (typeof system?.inspect !== 'function') return
    const sub = system.inspect(onInspect(child, actor))
    attached.set(child, { instance: actor.sessionId, unsubscribe: () => sub.unsubscribe() })
  }
  /** The actors running now: the supervisor's and each child's current instance. */
  const attachCurrent = (tree: FollowedTree): void => {
    if (tree.actor) attach('supervisor', tree.actor)
    for (const c of tree.children()) attach(c.id, tree.childActor(c.id))
  }

  return {
    attach,
    attachCurrent,
    /**
     * The actors running now, and each new child instance from before it starts (when
     * the tree hands them over), until close().
     */
    follow(tree: FollowedTree): void {
      attachCurrent(tree)
      const unfollow = tree.onChildActor?.(attach)
      if (unfollow) unfollows.push(unfollow)
    },
    /** Entries after `since` (a seq), oldest first; of one child or all. */
    list(opts: { child?: string; since?: number } = {}): InspectEventEntry[] {
      const since = opts.since ?? 0
      const lists = opts.child === undefined ? [...logs.values()] : [logs.get(opts.child) ?? []]
      return lists.flat().filter((e) => e.seq > since).sort((a, b) => a.seq - b.seq)
    },
    seq: () => seq,
    close(): void {
      for (const unfollow of unfollows.splice(0)) unfollow()
      for (const a of attached.values()) a.unsubscribe()
      attached.clear()
    },
  }
}

export type EventLog = ReturnType<typeof createEventLog>
