import { Subject } from 'rxjs'
import type { Alert } from './alerts.js'
import type { PreviewLevel } from './preview.js'

/** What the rig tells in-process listeners (WebSocket clients, the inspector, metrics). */
export type FeedItem =
  | { type: 'state'; actor: string; state: string; at: string; details: Record<string, unknown> }
  | { type: 'alert'; alert: Alert }
  | { type: 'event'; kind: string; payload: Record<string, unknown>; at: string }
  /**
   * The preview level or its reason changed (infra/preview.ts): the page swaps video, stills
   * or a message. `at`: when this level began. In-process only: NATS has the governor's level.
   */
  | { type: 'preview'; level: PreviewLevel; reason: string; at: string }

/** One stream per rig; the same facts the bus publishes on NATS, without a round trip. */
export type Feed = Subject<FeedItem>

export const createFeed = (): Feed => new Subject<FeedItem>()
