import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CommandRecord } from '../../infra/nats/commands.js'
import type { Severity } from '../../infra/subjects.js'
import type { SupervisorView } from './state.js'

/**
 * The rig's Prometheus metrics, in a registry of their own (never prom-client's
 * global one: two rigs in one test process must not share series).
 *
 * Made once per rig, before the command router, and handed to every web
 * instance: the command histogram and frame-drop counter keep counting across
 * restarts of the web server. Live values (states, restarts, recording, alerts)
 * are read from the rig at scrape time.
 */

export interface RecordingView {
  state: string
  session: null | { bytes: number; segments: number }
}

export interface MetricsSource {
  supervisor: () => SupervisorView
  alertCounts: () => Record<Severity, number>
  /** recorder.status as a getter (RecorderHandle.status); absent: recording metrics stay 0. */
  recorderStatus?: () => RecordingView
}

export interface WebMetrics {
  readonly registry: Registry
  /** Pass to createCommandRouter({ onCommand }): every command's latency by actor, verb and result code. */
  observeCommand(record: CommandRecord): void
  /** Camera/recorder report a dropped frame or a stall (also written to frame_drops.jsonl by its owner). */
  frameDropped(actor: string, reason: string, count?: number): void
  observeHttp(method: string, route: string, status: number, seconds: number): void
  /** Prometheus text exposition with the live values read from `source` now. */
  render(source: MetricsSource): Promise<string>
  readonly contentType: string
}

const LABEL = /^[a-z0-9_.-]{1,40}$/i
/** A NATS client can send any actor/verb: unknown ones must not grow the series without bound. */
const MAX_SERIES = 200

export function createWebMetrics(opts: { node?: string; defaultMetrics?: boolean } = {}): WebMetrics {
  const registry = new Registry()
  if (opts.node !== undefined) registry.setDefaultLabels({ node: opts.node })
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'vigil_' })
  const registers = [registry]

  const actorState = new Gauge({
    name: 'vigil_actor_state',
    help: 'Current top-level state of each supervised actor (1 for the state it is in)',
    labelNames: ['actor', 'state'],
    registers,
  })
  const childStatus = new Gauge({
    name: 'vigil_child_up',
    help: '1 when the child is running (its own machine up), else 0',
    labelNames: ['actor'],
    registers,
  })
  const restarts = new Counter({
    name: 'vigil_child_restarts_total',
    help: 'Restarts of each supervised child since the rig started',
    labelNames: ['actor'],
    registers,
  })
  const supervisorUp = new Gauge({ name: 'vigil_supervisor_uptime_seconds', help: 'Seconds since the supervisor started', registers })
  const recording = new Gauge({ name: 'vigil_recording_active', help: '1 while a session is being recorded', registers })
  const recordingBytes = new Gauge({ name: 'vigil_recording_bytes', help: 'Bytes written in the current recording session', registers })
  const recordingSegments = new Gauge({ name: 'vigil_recording_segments', help: 'Segments in the current recording session', registers })
  const alerts = new Counter({
    name: 'vigil_alerts_total',
    help: 'Alerts raised since the rig started, by severity (folded repeats included)',
    labelNames: ['severity'],
    registers,
  })
  const commands = new Histogram({
    name: 'vigil_command_duration_seconds',
    help: 'Command latency (NATS and HTTP) by actor, verb and result code',
    labelNames: ['actor', 'verb', 'code', 'source'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  })
  const frames = new Counter({
    name: 'vigil_frames_dropped_total',
    help: 'Frames dropped (or stalls) by actor and reason',
    labelNames: ['actor', 'reason'],
    registers,
  })
  const http = new Histogram({
    name: 'vigil_http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 5],
    registers,
  })

  const series = new Set<string>()
  const bounded = (...values: string[]): string[] => {
    const clean = values.map((v) => (LABEL.test(v) ? v : 'other'))
    const key = clean.join('\u0000')
    if (series.has(key)) return clean
    if (series.size >= MAX_SERIES) return clean.map(() => 'other')
    series.add(key)
    return clean
  }

  return {
    registry,
    contentType: registry.contentType,
    observeCommand(record) {
      const [actor, verb, code, source] = bounded(record.actor, record.verb, record.code, record.source) as [string, string, string, string]
      commands.observe({ actor, verb, code, source }, record.ms / 1000)
    },
    frameDropped(actor, reason, count = 1) {
      const [a, r] = bounded(actor, reason) as [string, string]
      frames.inc({ actor: a, reason: r }, count)
    },
    observeHttp(method, route, status, seconds) {
      http.observe({ method, route, status: String(status) }, seconds)
    },
    async render(source) {
      const sup = source.supervisor()
      actorState.reset()
      restarts.reset()
      childStatus.reset()
      actorState.set({ actor: 'supervisor', state: sup.state() }, 1)
      supervisorUp.set(sup.uptimeS())
      for (const c of sup.children()) {
        actorState.set({ actor: c.id, state: c.state }, 1)
        childStatus.set({ actor: c.id }, c.status === 'running' ? 1 : 0)
        // Counters only go up: the supervisor's count is the truth, re-read at each scrape.
        if (c.restarts > 0) restarts.inc({ actor: c.id }, c.restarts)
        else restarts.inc({ actor: c.id }, 0)
      }
      alerts.reset()
      for (const [severity, n] of Object.entries(source.alertCounts())) alerts.inc({ severity }, n)
      const rec = source.recorderStatus?.()
      recording.set(rec?.session ? 1 : 0)
      recordingBytes.set(rec?.session?.bytes ?? 0)
      recordingSegments.set(rec?.session?.segments ?? 0)
      return registry.metrics()
    },
  }
}
