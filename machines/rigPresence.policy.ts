import { createHash } from 'node:crypto'

/**
 * Which rigs of the fleet are up (DESIGN.md §9.4), decided from what the `vigil_rigs` KV
 * bucket says: a pure reducer `(state, event) → (state, alerts)`. The actor feeds it the
 * bucket's entries as they arrive and a tick every second; it publishes what comes out.
 *
 * Every rig runs it on the same bucket, so every observer reaches the same verdict about
 * the same silence; the alert ids are derived from the episode (node + the last seenAt),
 * never random, so the fleet raises ONE alert per episode however many rigs see it
 * (JetStream stores it once by `Nats-Msg-Id`, subscribers keep one by id).
 */

/** A rig's heartbeats missed before it is offline. */
export const MISSED_HEARTBEATS = 3

/** One `vigil_rigs` entry, as far as presence is concerned. */
export interface RigEntry {
  node: string
  /** Epoch ms, the writing rig's clock. */
  seenAt: number
  /** How often that rig writes (its own `fleet.heartbeatS`): its silence is judged by its own beat. */
  heartbeatS: number
  /** Written on a clean stop: gone on purpose. */
  goodbye: boolean
}

export interface RigView {
  status: 'online' | 'offline'
  seenAt: number
  heartbeatS: number
  goodbye: boolean
  /** Epoch ms this observer last heard from it (or, for an entry older than this observer, when it was written). */
  heardAt: number
  /** The offline episode's key (`<node>@<seenAt>`) while offline. */
  episode?: string
}

export interface PresenceState {
  self: string
  selfHeartbeatS: number
  /** When this rig last heard its own entry come back: proof that it hears the bucket at all. */
  selfHeardAt?: number
  rigs: Record<string, RigView>
}

export type PresenceEvent =
  /**
   * `at`: now. `writtenAt`: only for an entry the watch found already there (`initial`): the
   * server's write time, which is when this observer would have heard it.
   */
  | { type: 'entry'; entry: RigEntry; at: number; initial?: { writtenAt: number } }
  | { type: 'tick'; at: number }

export interface PresenceAlert {
  id: string
  code: 'fleet.rig_offline' | 'fleet.rig_online'
  severity: 'critical' | 'warning' | 'info'
  message: string
  details: { node: string; seenAt: string; reason?: 'silent' | 'stopped'; silentS?: number }
}

export function initialPresence(self: string, selfHeartbeatS: number): PresenceState {
  return { self, selfHeartbeatS, rigs: {} }
}

export const silenceMs = (heartbeatS: number) => MISSED_HEARTBEATS * heartbeatS * 1000

/** A UUID-shaped id every observer derives alike from the same words. */
export function episodeAlertId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const iso = (ms: number) => new Date(ms).toISOString()

function offlineAlert(node: string, view: RigView, reason: 'silent' | 'stopped', at: number): PresenceAlert {
  const episode = `${node}@${view.seenAt}`
  const silentS = Math.round((at - view.seenAt) / 1000)
  return {
    id: episodeAlertId('fleet.rig_offline', episode),
    code: 'fleet.rig_offline',
    severity: reason === 'stopped' ? 'warning' : 'critical',
    message:
      reason === 'stopped'
        ? `rig ${node} stopped (a clean shutdown) at ${iso(view.seenAt)}`
        : `rig ${node} is silent: last seen ${iso(view.seenAt)}, ${MISSED_HEARTBEATS} heartbeats missed`,
    details: { node, seenAt: iso(view.seenAt), reason, ...(reason === 'silent' ? { silentS } : {}) },
  }
}

function onlineAlert(node: string, episode: string, entry: RigEntry): PresenceAlert {
  return {
    id: episodeAlertId('fleet.rig_online', episode),
    code: 'fleet.rig_online',
    severity: 'info',
    message: `rig ${node} is back`,
    details: { node, seenAt: iso(entry.seenAt) },
  }
}

function onEntry(state: PresenceState, e: Extract<PresenceEvent, { type: 'entry' }>): { state: PresenceState; alerts: PresenceAlert[] } {
  const { entry } = e
  const heardAt = e.initial ? Math.min(e.initial.writtenAt, e.at) : e.at
  if (entry.node === state.self) {
    if (e.initial) return { state, alerts: [] } // its own entry from before this start says nothing about now
    const gap = state.selfHeardAt === undefined || heardAt - state.selfHeardAt > silenceMs(state.selfHeartbeatS)
    const rigs = { ...state.rigs }
    // Deaf until now (not yet watching, or cut off from the bucket): the others' silence
    // counts only from when this rig could hear them again, or a reconnect would accuse everyone.
    if (gap) for (const [n, v] of Object.entries(rigs)) if (v.status === 'online') rigs[n] = { ...v, heardAt: Math.max(v.heardAt, heardAt) }
    return { state: { ...state, selfHeardAt: heardAt, rigs }, alerts: [] }
  }
  const prev = state.rigs[entry.node]
  const fresh = { seenAt: entry.seenAt, heartbeatS: entry.heartbeatS, goodbye: entry.goodbye, heardAt }
  if (!prev) {
    // First sight: an entry already silent or a goodbye is a rig that went before this
    // observer looked; its episode was told (or not) then, not now.
    const silent = entry.goodbye || e.at - heardAt > silenceMs(entry.heartbeatS)
    const view: RigView = silent ? { ...fresh, status: 'offline', episode: `${entry.node}@${entry.seenAt}` } : { ...fresh, status: 'online' }
    return { state: { ...state, rigs: { ...state.rigs, [entry.node]: view } }, alerts: [] }
  }
  if (entry.seenAt <= prev.seenAt && entry.goodbye === prev.goodbye) return { state, alerts: [] } // a replay (the watch restarted)
  if (prev.status === 'online') {
    if (entry.goodbye) {
      const view: RigView = { ...fresh, status: 'offline', episode: `${entry.node}@${entry.seenAt}` }
      return { state: { ...state, rigs: { ...state.rigs, [entry.node]: view } }, alerts: [offlineAlert(entry.node, view, 'stopped', heardAt)] }
    }
    return { state: { ...state, rigs: { ...state.rigs, [entry.node]: { ...fresh, status: 'online' } } }, alerts: [] }
  }
  // Offline until now.
  if (entry.goodbye) return { state: { ...state, rigs: { ...state.rigs, [entry.node]: { ...prev, ...fresh } } }, alerts: [] }
  const alerts = prev.episode ? [onlineAlert(entry.node, prev.episode, entry)] : []
  return { state: { ...state, rigs: { ...state.rigs, [entry.node]: { ...fresh, status: 'online' } } }, alerts }
}

function onTick(state: PresenceState, at: number): { state: PresenceState; alerts: PresenceAlert[] } {
  // An observer that does not hear its own heartbeats cannot tell a silent rig from its own deafness.
  if (state.selfHeardAt === undefined || at - state.selfHeardAt > silenceMs(state.selfHeartbeatS)) return { state, alerts: [] }
  const alerts: PresenceAlert[] = []
  let rigs = state.rigs
  for (const [node, view] of Object.entries(state.rigs)) {
    if (view.status !== 'online' || at - view.heardAt <= silenceMs(view.heartbeatS)) continue
    const offline: RigView = { ...view, status: 'offline', episode: `${node}@${view.seenAt}` }
    rigs = { ...rigs, [node]: offline }
    alerts.push(offlineAlert(node, offline, 'silent', at))
  }
  return alerts.length === 0 ? { state, alerts } : { state: { ...state, rigs }, alerts }
}

export function reducePresence(state: PresenceState, event: PresenceEvent): { state: PresenceState; alerts: PresenceAlert[] } {
  return event.type === 'tick' ? onTick(state, event.at) : onEntry(state, event)
}
