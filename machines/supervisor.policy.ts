/**
 * The supervisor's decisions as one pure reducer: (context, event) → (context, effects).
 * The machine in supervisor.machine.ts applies the effects through named actions and
 * delayed events, so every rule here (backoff, intensity, strategies, ordering) is
 * testable without a process, a timer or XState.
 */

export type RestartType = 'permanent' | 'transient' | 'temporary'
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one'

export interface BackoffSpec {
  initialMs: number
  factor: number
  maxMs: number
  jitter: number
  resetAfterMs: number
}

export interface ChildSpec {
  id: string
  restart: RestartType
  /** How long an orderly stop may take before the child is killed. */
  shutdownMs: number
  /** How long a start may take before it counts as a failure. */
  startTimeoutMs: number
  backoff: BackoffSpec
  intensity: { maxRestarts: number; periodMs: number }
  /** How long a child that exceeded its intensity stays parked before a retry. */
  parkMs: number
}

/**
 * stopped: not running and not scheduled; done: ended normally, not to be restarted;
 * held: stopped because a sibling failed (one_for_all / rest_for_one), waits for it;
 * restarting: waiting out its backoff; failed: parked past its restart intensity.
 */
export type ChildStatus = 'stopped' | 'starting' | 'running' | 'stopping' | 'restarting' | 'held' | 'failed' | 'done'

export interface ChildRecord {
  id: string
  status: ChildStatus
  /** Instance number; events of older instances are ignored. */
  gen: number
  /** Backoff step since the last stable run. */
  attempt: number
  /** Failure times inside the intensity window. */
  failures: number[]
  since: number
  lastExit: { normal: boolean; reason: string; at: number } | null
  /** Start again as soon as the current stop completes (operator restart). */
  restartAfterStop: boolean
  /** The sibling whose failure stopped this one (group strategies). */
  heldBy: string | null
  startTimedOut: boolean
  nextRetryAt: number | null
}

export type Op = { kind: 'start' | 'stop'; id: string }

export interface SupervisorContext {
  specs: ChildSpec[]
  strategy: Strategy
  /** Ids in the order children are stopped at shutdown. */
  shutdownOrder: string[]
  children: Record<string, ChildRecord>
  queue: Op[]
  current: Op | null
  startedAt: number
  now: () => number
  random: () => number
}

export type Phase = 'starting' | 'running' | 'shutting_down'

export type SupervisorEvent =
  | { type: 'START' }
  | { type: 'SHUTDOWN' }
  | { type: 'RESTART_CHILD'; id: string }
  | { type: 'CHILD.READY'; id: string; gen: number }
  | { type: 'CHILD.EXIT'; id: string; gen: number; normal: boolean; reason: string }
  | { type: 'TIMER.START_TIMEOUT'; id: string; gen: number }
  | { type: 'TIMER.STOP_TIMEOUT'; id: string; gen: number }
  | { type: 'TIMER.RESTART'; id: string }
  | { type: 'TIMER.PARK_OVER'; id: string }
  | { type: 'TIMER.STABLE'; id: string; gen: number }

export type TimerEvent = Extract<SupervisorEvent, { type: `TIMER.${string}` }>

export interface AlertEffect {
  severity: 'info' | 'warning' | 'critical'
  source: string
  code: string
  message: string
  details: Record<string, unknown>
}

export type Effect =
  | { type: 'startChild'; id: string; gen: number }
  | { type: 'stopChild'; id: string; gen: number }
  | { type: 'killChild'; id: string; gen: number }
  | { type: 'alert'; alert: AlertEffect }
  | { type: 'schedule'; key: string; delayMs: number; event: TimerEvent }
  | { type: 'cancel'; key: string }

export interface Step {
  ctx: SupervisorContext
  effects: Effect[]
}

/**
 * The first restart after a stable run is immediate (DESIGN.md §9.5): one crash is an
 * accident, and every millisecond of waiting is footage lost. From the second in a row,
 * exponential backoff with symmetric jitter: initial·factor^(attempt-2), capped, ±jitter.
 */
export function backoffMs(spec: BackoffSpec, attempt: number, random: () => number): number {
  if (attempt <= 1) return 0
  const base = Math.min(spec.maxMs, spec.initialMs * spec.factor ** (attempt - 2))
  const spread = base * spec.jitter * (2 * random() - 1)
  return Math.max(0, Math.round(base + spread))
}

export const timerKey = {
  start: (id: string) => `start-timeout:${id}`,
  stop: (id: string) => `stop-timeout:${id}`,
  restart: (id: string) => `restart:${id}`,
  park: (id: string) => `park:${id}`,
  stable: (id: string) => `stable:${id}`,
}

export function initialContext(input: {
  specs: ChildSpec[]
  strategy?: Strategy
  shutdownOrder?: string[]
  now?: () => number
  random?: () => number
}): SupervisorContext {
  const ids = input.specs.map((s) => s.id)
  if (new Set(ids).size !== ids.length) throw new Error(`duplicate child ids: ${ids.join(', ')}`)
  const now = input.now ?? Date.now
  const listed = (input.shutdownOrder ?? []).filter((id) => ids.includes(id))
  const rest = [...ids].reverse().filter((id) => !listed.includes(id))
  const children: Record<string, ChildRecord> = {}
  for (const id of ids) {
    children[id] = {
      id,
      status: 'stopped',
      gen: 0,
      attempt: 0,
      failures: [],
      since: now(),
      lastExit: null,
      restartAfterStop: false,
      heldBy: null,
      startTimedOut: false,
      nextRetryAt: null,
    }
  }
  return {
    specs: input.specs,
    strategy: input.strategy ?? 'one_for_one',
    shutdownOrder: [...listed, ...rest],
    children,
    queue: [],
    current: null,
    startedAt: now(),
    now,
    random: input.random ?? Math.random,
  }
}

/** Mutable working copy for one step; the machine only ever sees the returned copy. */
class Draft {
  readonly ctx: SupervisorContext
  readonly effects: Effect[] = []
  readonly at: number

  constructor(ctx: SupervisorContext) {
    const children: Record<string, ChildRecord> = {}
    for (const [id, c] of Object.entries(ctx.children)) children[id] = { ...c, failures: [...c.failures] }
    this.ctx = { ...ctx, children, queue: [...ctx.queue] }
    this.at = ctx.now()
  }

  child(id: string): ChildRecord | undefined {
    return this.ctx.children[id]
  }

  spec(id: string): ChildSpec {
    const spec = this.ctx.specs.find((s) => s.id === id)
    if (!spec) throw new Error(`unknown child ${id}`)
    return spec
  }

  set(c: ChildRecord, status: ChildStatus): void {
    if (c.status !== status) c.since = this.at
    c.status = status
  }

  emit(effect: Effect): void {
    this.effects.push(effect)
  }

  alert(severity: AlertEffect['severity'], source: string, code: string, message: string, details: Record<string, unknown>): void {
    this.emit({ type: 'alert', alert: { severity, source, code, message, details } })
  }

  done(): Step {
    return { ctx: this.ctx, effects: this.effects }
  }
}

const isLive = (s: ChildStatus) => s === 'starting' || s === 'running'
const startOrder = (ctx: SupervisorContext) => ctx.specs.map((s) => s.id)

/** Applies one event in a phase. Unknown or stale events change nothing. */
export function reduce(ctx: SupervisorContext, event: SupervisorEvent, phase: Phase): Step {
  const d = new Draft(ctx)
  switch (event.type) {
    case 'START':
      for (const id of startOrder(d.ctx)) d.ctx.queue.push({ kind: 'start', id })
      break
    case 'SHUTDOWN':
      beginShutdown(d)
      break
    case 'RESTART_CHILD':
      if (phase !== 'shutting_down') operatorRestart(d, event.id)
      break
    case 'CHILD.READY':
      onReady(d, event.id, event.gen)
      break
    case 'CHILD.EXIT':
      onExit(d, event, phase)
      break
    case 'TIMER.START_TIMEOUT': {
      const c = d.child(event.id)
      if (c && c.gen === event.gen && c.status === 'starting') {
        c.startTimedOut = true
        d.emit({ type: 'killChild', id: c.id, gen: c.gen })
      }
      break
    }
    case 'TIMER.STOP_TIMEOUT': {
      const c = d.child(event.id)
      if (c && c.gen === event.gen && c.status === 'stopping') {
        d.alert('warning', c.id, 'supervisor.stop_timeout', `${c.id} did not stop within ${d.spec(c.id).shutdownMs} ms; killing it`, {
          shutdownMs: d.spec(c.id).shutdownMs,
        })
        d.emit({ type: 'killChild', id: c.id, gen: c.gen })
      }
      break
    }
    case 'TIMER.RESTART': {
      const c = d.child(event.id)
      if (c && c.status === 'restarting' && phase !== 'shutting_down') {
        c.nextRetryAt = null
        enqueueStartWithHeld(d, c.id)
      }
      break
    }
    case 'TIMER.PARK_OVER': {
      const c = d.child(event.id)
      if (c && c.status === 'failed' && phase !== 'shutting_down') {
        c.nextRetryAt = null
        d.alert('info', c.id, 'supervisor.child_retry', `retrying ${c.id} after it was parked`, {})
        d.ctx.queue.push({ kind: 'start', id: c.id })
      }
      break
    }
    case 'TIMER.STABLE': {
      const c = d.child(event.id)
      if (c && c.gen === event.gen && c.status === 'running') c.attempt = 0
      break
    }
  }
  pump(d, phase)
  return d.done()
}

function onReady(d: Draft, id: string, gen: number): void {
  const c = d.child(id)
  if (!c || c.gen !== gen || c.status !== 'starting') return
  d.set(c, 'running')
  d.emit({ type: 'cancel', key: timerKey.start(id) })
  d.emit({ type: 'schedule', key: timerKey.stable(id), delayMs: d.spec(id).backoff.resetAfterMs, event: { type: 'TIMER.STABLE', id, gen } })
  finishCurrent(d, 'start', id)
}

function onExit(d: Draft, event: Extract<SupervisorEvent, { type: 'CHILD.EXIT' }>, phase: Phase): void {
  const c = d.child(event.id)
  if (!c || c.gen !== event.gen) return
  const reason = c.startTimedOut ? `did not become ready within ${d.spec(c.id).startTimeoutMs} ms` : event.reason
  c.lastExit = { normal: event.normal && !c.startTimedOut, reason, at: d.at }
  c.startTimedOut = false
  d.emit({ type: 'cancel', key: timerKey.stable(c.id) })
  if (c.status === 'stopping') {
    d.emit({ type: 'cancel', key: timerKey.stop(c.id) })
    finishCurrent(d, 'stop', c.id)
    if (c.restartAfterStop && phase !== 'shutting_down') {
      c.restartAfterStop = false
      d.set(c, 'stopped')
      d.ctx.queue.push({ kind: 'start', id: c.id })
    } else if (c.heldBy && phase !== 'shutting_down') {
      d.set(c, 'held')
    } else {
      d.set(c, 'stopped')
    }
    return
  }
  if (c.status === 'starting') {
    d.emit({ type: 'cancel', key: timerKey.start(c.id) })
    finishCurrent(d, 'start', c.id)
  } else if (c.status !== 'running') {
    return
  }
  if (phase === 'shutting_down') {
    d.set(c, 'stopped')
    return
  }
  onFailure(d, c, c.lastExit.normal, reason)
}

function onFailure(d: Draft, c: ChildRecord, normal: boolean, reason: string): void {
  const spec = d.spec(c.id)
  const restart = spec.restart === 'permanent' || (spec.restart === 'transient' && !normal)
  if (!restart) {
    d.set(c, normal ? 'done' : 'stopped')
    if (!normal) d.alert('warning', c.id, 'supervisor.child_exited', `${c.id} ${reason}; not restarted (${spec.restart})`, { reason })
    return
  }
  c.failures = [...c.failures.filter((t) => t > d.at - spec.intensity.periodMs), d.at]
  stopSiblings(d, c.id)
  if (c.failures.length > spec.intensity.maxRestarts) {
    d.set(c, 'failed')
    c.failures = []
    c.attempt = 0
    c.nextRetryAt = d.at + spec.parkMs
    d.alert(
      'critical',
      c.id,
      'supervisor.child_failed',
      `${c.id} failed more than ${spec.intensity.maxRestarts} times in ${spec.intensity.periodMs} ms; parked, retry in ${spec.parkMs} ms (last: ${reason})`,
      { reason, parkMs: spec.parkMs, maxRestarts: spec.intensity.maxRestarts, periodMs: spec.intensity.periodMs },
    )
    d.emit({ type: 'schedule', key: timerKey.park(c.id), delayMs: spec.parkMs, event: { type: 'TIMER.PARK_OVER', id: c.id } })
    // The rest keep running: siblings stopped for this one come back now, not after the park.
    for (const id of heldBy(d, c.id)) {
      d.child(id)!.heldBy = null
      d.ctx.queue.push({ kind: 'start', id })
    }
    return
  }
  c.attempt += 1
  const delayMs = backoffMs(spec.backoff, c.attempt, d.ctx.random)
  c.nextRetryAt = d.at + delayMs
  d.set(c, 'restarting')
  d.alert('warning', c.id, 'supervisor.child_restarting', `${c.id} ${reason}; restarting in ${delayMs} ms (attempt ${c.attempt})`, {
    reason,
    attempt: c.attempt,
    delayMs,
  })
  d.emit({ type: 'schedule', key: timerKey.restart(c.id), delayMs, event: { type: 'TIMER.RESTART', id: c.id } })
}

/** one_for_all stops every sibling, rest_for_one the ones started after the failed child. */
function stopSiblings(d: Draft, failedId: string): void {
  const order = startOrder(d.ctx)
  const index = order.indexOf(failedId)
  const affected =
    d.ctx.strategy === 'one_for_all'
      ? order.filter((id) => id !== failedId)
      : d.ctx.strategy === 'rest_for_one'
        ? order.slice(index + 1)
        : []
  for (const id of [...affected].reverse()) {
    const s = d.child(id)!
    if (isLive(s.status) || s.status === 'stopping') {
      s.heldBy = failedId
      if (s.status !== 'stopping') d.ctx.queue.push({ kind: 'stop', id })
    } else if (s.status === 'stopped') {
      // Queued to start but not yet started: it waits for the failed child too.
      s.heldBy = failedId
      d.ctx.queue = d.ctx.queue.filter((op) => !(op.kind === 'start' && op.id === id))
      d.set(s, 'held')
    }
  }
}

function heldBy(d: Draft, id: string): string[] {
  return startOrder(d.ctx).filter((sid) => d.child(sid)!.heldBy === id)
}

/** The failed child and the siblings it held come back together, in start order. */
function enqueueStartWithHeld(d: Draft, id: string): void {
  const group = new Set([id, ...heldBy(d, id)])
  for (const sid of startOrder(d.ctx)) {
    if (!group.has(sid)) continue
    d.child(sid)!.heldBy = null
    d.ctx.queue.push({ kind: 'start', id: sid })
  }
}

function operatorRestart(d: Draft, id: string): void {
  const c = d.child(id)
  if (!c) return
  switch (c.status) {
    case 'running':
    case 'starting':
      c.restartAfterStop = true
      d.ctx.queue.push({ kind: 'stop', id })
      break
    case 'stopping':
      c.restartAfterStop = true
      break
    case 'restarting':
    case 'failed':
      d.emit({ type: 'cancel', key: timerKey.restart(id) })
      d.emit({ type: 'cancel', key: timerKey.park(id) })
      c.nextRetryAt = null
      c.attempt = 0
      enqueueStartWithHeld(d, id)
      break
    default:
      d.ctx.queue.push({ kind: 'start', id })
  }
}

function beginShutdown(d: Draft): void {
  d.ctx.queue = []
  for (const c of Object.values(d.ctx.children)) {
    c.restartAfterStop = false
    c.heldBy = null
    if (c.status === 'restarting' || c.status === 'failed' || c.status === 'held') {
      d.emit({ type: 'cancel', key: timerKey.restart(c.id) })
      d.emit({ type: 'cancel', key: timerKey.park(c.id) })
      c.nextRetryAt = null
      d.set(c, 'stopped')
    }
  }
  for (const id of d.ctx.shutdownOrder) d.ctx.queue.push({ kind: 'stop', id })
}

function finishCurrent(d: Draft, kind: Op['kind'], id: string): void {
  if (d.ctx.current?.kind === kind && d.ctx.current.id === id) d.ctx.current = null
}

/** Runs queued operations one at a time: a start waits for ready, a stop for the exit. */
function pump(d: Draft, phase: Phase): void {
  while (d.ctx.current === null && d.ctx.queue.length > 0) {
    const op = d.ctx.queue.shift()!
    const c = d.child(op.id)
    if (!c) continue
    const spec = d.spec(op.id)
    if (op.kind === 'start') {
      if (phase === 'shutting_down' || isLive(c.status) || c.status === 'stopping') continue
      d.emit({ type: 'cancel', key: timerKey.restart(c.id) })
      d.emit({ type: 'cancel', key: timerKey.park(c.id) })
      c.gen += 1
      c.heldBy = null
      c.startTimedOut = false
      c.nextRetryAt = null
      d.set(c, 'starting')
      d.ctx.current = op
      d.emit({ type: 'startChild', id: c.id, gen: c.gen })
      d.emit({ type: 'schedule', key: timerKey.start(c.id), delayMs: spec.startTimeoutMs, event: { type: 'TIMER.START_TIMEOUT', id: c.id, gen: c.gen } })
    } else {
      if (!isLive(c.status)) continue
      if (c.status === 'starting') d.emit({ type: 'cancel', key: timerKey.start(c.id) })
      d.set(c, 'stopping')
      d.ctx.current = op
      d.emit({ type: 'stopChild', id: c.id, gen: c.gen })
      d.emit({ type: 'schedule', key: timerKey.stop(c.id), delayMs: spec.shutdownMs, event: { type: 'TIMER.STOP_TIMEOUT', id: c.id, gen: c.gen } })
    }
  }
}

export const isIdle = (ctx: SupervisorContext) => ctx.current === null && ctx.queue.length === 0

/** Restarts of a child so far: every start after its first. */
export const restartsOf = (c: ChildRecord) => Math.max(0, c.gen - 1)
