import { randomUUID } from 'node:crypto'
import type { Severity } from './subjects.js'

export interface AlertInput {
  severity: Severity
  source: string
  code: string
  message: string
  details?: Record<string, unknown>
  /**
   * Set by a raiser that must agree with other rigs on the id (the fleet's offline/online
   * alerts: every observer derives the same one per episode). Such an alert is never
   * folded into another: two rigs going offline are two alerts.
   */
  id?: string
}

/** The published alert (DESIGN.md §4). */
export interface Alert {
  id: string
  node: string
  source: string
  severity: Severity
  code: string
  message: string
  at: string
  count: number
  details: Record<string, unknown>
}

export interface AlertLogOptions {
  node: string
  now?: () => number
  capacity?: number
  foldWindowMs?: number
}

/**
 * The alert manager's memory: the last `capacity` alerts and counts by severity.
 * The same code from the same source within `foldWindowMs` increments `count` on the
 * existing alert instead of adding one, so a flapping camera is one alert, not 600.
 */
export class AlertLog {
  readonly #alerts: Alert[] = []
  readonly #firstAt = new Map<string, number>()
  readonly #fixedIds = new Set<string>()
  readonly #counts: Record<Severity, number> = { info: 0, warning: 0, critical: 0 }
  readonly #node: string
  readonly #now: () => number
  readonly #capacity: number
  readonly #foldWindowMs: number

  constructor(opts: AlertLogOptions) {
    this.#node = opts.node
    this.#now = opts.now ?? Date.now
    this.#capacity = opts.capacity ?? 100
    this.#foldWindowMs = opts.foldWindowMs ?? 60000
  }

  /** Records an alert; returns it (new or folded), to be published as it now stands. */
  add(input: AlertInput): Alert {
    const at = this.#now()
    this.#counts[input.severity] += 1
    const key = `${input.severity}|${input.source}|${input.code}`
    const existing = input.id === undefined ? this.#alerts.findLast((a) => !this.#fixedIds.has(a.id) && `${a.severity}|${a.source}|${a.code}` === key) : undefined
    const firstAt = existing ? this.#firstAt.get(existing.id) : undefined
    if (existing && firstAt !== undefined && at - firstAt < this.#foldWindowMs) {
      existing.count += 1
      existing.at = new Date(at).toISOString()
      existing.message = input.message
      existing.details = input.details ?? {}
      return { ...existing }
    }
    const alert: Alert = {
      id: input.id ?? randomUUID(),
      node: this.#node,
      source: input.source,
      severity: input.severity,
      code: input.code,
      message: input.message,
      at: new Date(at).toISOString(),
      count: 1,
      details: input.details ?? {},
    }
    this.#alerts.push(alert)
    this.#firstAt.set(alert.id, at)
    if (input.id !== undefined) this.#fixedIds.add(alert.id)
    while (this.#alerts.length > this.#capacity) {
      const dropped = this.#alerts.shift()!
      this.#firstAt.delete(dropped.id)
      this.#fixedIds.delete(dropped.id)
    }
    return { ...alert }
  }

  /** Newest first. */
  list(limit = this.#capacity): Alert[] {
    return this.#alerts.slice(-limit).reverse().map((a) => ({ ...a }))
  }

  counts(): Record<Severity, number> {
    return { ...this.#counts }
  }
}
