import type { Subscription } from 'rxjs'
import type { Feed, FeedItem } from './feed.js'

/**
 * The rig's recent events (motion, sound, recording.*), newest first, bounded: what the
 * live page shows after a reload or a reconnect (`GET /api/v1/events`), and what any other
 * in-process consumer may read. Fed from the rig's feed, so it holds exactly what was
 * published on `vigil.<node>.event.<kind>`, with the same ids.
 *
 * Two kinds are folded, not kept: `snapshot.saved` is attached to the motion event it was
 * taken for (`snapshot: { file, url }`, matched by the motion's `at`), so the list shows a
 * motion with its thumbnail; `segment.closed` (one every `recorder.segmentS` while
 * recording) would push the person's events out of a 200-long ring within half an hour.
 */

export const EVENT_RING_CAPACITY = 200

export interface RigEvent {
  id: string
  kind: string
  /** When it happened (the payload's own `at` when it has one, else when it was published). */
  at: string
  [field: string]: unknown
}

/** Kinds the ring never keeps as rows of their own (see above). */
export const FOLDED_KINDS: ReadonlySet<string> = new Set(['snapshot.saved', 'segment.closed'])

/** The download URL of a motion snapshot (actors/web/routes/files.ts serves it). */
export const snapshotUrl = (file: string): string => `/snapshots/${encodeURIComponent(file)}`

/** A feed event as a ring entry; null for one without an id (not published by the rig). */
export function toRigEvent(item: Extract<FeedItem, { type: 'event' }>): RigEvent | null {
  const id = item.payload['id']
  if (typeof id !== 'string' || id.length === 0) return null
  const at = typeof item.payload['at'] === 'string' ? (item.payload['at'] as string) : item.at
  return { ...item.payload, id, kind: item.kind, at }
}

export class EventRing {
  readonly capacity: number
  /** Oldest first; small enough that shifting it costs nothing. */
  #events: RigEvent[] = []

  constructor(capacity = EVENT_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`event ring capacity must be a positive integer, got ${capacity}`)
    this.capacity = capacity
  }

  get size(): number {
    return this.#events.length
  }

  /** Takes one feed item; anything but a kept event is ignored. */
  take(item: FeedItem): void {
    if (item.type !== 'event') return
    if (item.kind === 'snapshot.saved') return this.#attachSnapshot(item.payload)
    if (FOLDED_KINDS.has(item.kind)) return
    const event = toRigEvent(item)
    if (event) this.add(event)
  }

  add(event: RigEvent): void {
    // A resent event (same id) replaces nothing and is not listed twice.
    if (this.#events.some((e) => e.id === event.id)) return
    this.#events.push(event)
    if (this.#events.length > this.capacity) this.#events.splice(0, this.#events.length - this.capacity)
  }

  /** The newest `limit` events, newest first (copies: callers cannot change the ring). */
  list(limit = this.capacity): RigEvent[] {
    const n = Math.max(0, Math.min(limit, this.#events.length))
    const out: RigEvent[] = []
    for (let i = this.#events.length - 1; out.length < n; i -= 1) out.push({ ...this.#events[i]! })
    return out
  }

  /** Follows a feed until the returned subscription is ended. */
  follow(feed: Feed): Subscription {
    return feed.subscribe({ next: (item) => this.take(item) })
  }

  #attachSnapshot(payload: Record<string, unknown>): void {
    const file = payload['file']
    const at = payload['at']
    if (typeof file !== 'string' || typeof at !== 'string') return
    for (let i = this.#events.length - 1; i >= 0; i -= 1) {
      const e = this.#events[i]!
      if (e.kind === 'motion' && e.at === at) {
        this.#events[i] = { ...e, snapshot: { file, url: snapshotUrl(file) } }
        return
      }
    }
  }
}
