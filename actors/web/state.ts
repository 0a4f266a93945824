import type { AnyActorRef } from 'xstate'
import type { Alert, AlertLog } from '../../infra/alerts.js'
import type { PreviewStatus, PreviewView } from '../../infra/preview.js'
import type { ChildStatusView } from '../supervisor/index.js'
import { redact } from './redact.js'

/** What the web needs of the supervisor: reads only. */
export interface SupervisorView {
  state(): string
  children(): ChildStatusView[]
  childActor(id: string): AnyActorRef | undefined
  uptimeS(): number
}

export interface ActorView {
  /** The child's top-level state (as in `children`). */
  state: string
  /** The full (possibly nested) state value of its machine, when it runs one. */
  value: unknown
  /** Its machine's context, redacted. */
  context: unknown
}

/** The full sync snapshot: GET /api/v1/state and the WebSocket's sync_response. */
export interface RigState {
  node: string
  supervisor: string
  uptimeS: number
  ports: Record<string, number | null>
  children: ChildStatusView[]
  actors: Record<string, ActorView>
  alerts: Alert[]
  /** What viewers get now (full video, low: a still per second, off: nothing live) and why. */
  preview: PreviewStatus
  at: string
}

export interface RigStateSource {
  node: string
  supervisor: () => SupervisorView
  alerts: AlertLog
  preview: PreviewView
  ports: Record<string, number | null>
  /** Literal secrets that must never leave (web.token). */
  secrets: string[]
  now?: () => number
}

export const STATE_ALERTS = 20

export function rigState(src: RigStateSource): RigState {
  const sup = src.supervisor()
  const children = sup.children()
  const actors: Record<string, ActorView> = {}
  for (const child of children) {
    const ref = sup.childActor(child.id)
    const snap = ref?.getSnapshot() as { value?: unknown; context?: unknown } | undefined
    actors[child.id] = { state: child.state, value: snap?.value ?? null, context: snap?.context ?? null }
  }
  const state: RigState = {
    node: src.node,
    supervisor: sup.state(),
    uptimeS: sup.uptimeS(),
    ports: src.ports,
    children,
    actors,
    alerts: src.alerts.list(STATE_ALERTS),
    preview: src.preview.status(),
    at: new Date((src.now ?? Date.now)()).toISOString(),
  }
  // Everything, not only contexts: exit reasons and alert details carry ffmpeg's lines, URLs included.
  return redact(state, { secrets: src.secrets }) as RigState
}
