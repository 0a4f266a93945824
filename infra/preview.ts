/**
 * The rig's current preview level (DESIGN.md §9.3): what viewers of the live page may have.
 * `full` is the live video, `low` one still per second, `off` nothing live. The governor
 * decides it; the web's live routes, the page (through the state sync and the feed) and
 * the camera follow it.
 *
 * One per rig, made in the composition root: the web server is rebuilt on every restart
 * and the governor is a fresh actor after a crash, so neither may own it (a web restarted
 * while the rig is CRITICAL must still refuse live viewers).
 */

/** The same three values as the machines' `PreviewLevel` (infra may not import machines). */
export type PreviewLevel = 'full' | 'low' | 'off'

export interface PreviewStatus {
  level: PreviewLevel
  /** Why, in the operator's words ("resource level CRITICAL (cpu 91 %)"). */
  reason: string
  /** When this level began (ISO 8601, wall clock). */
  since: string
}

export type PreviewListener = (status: PreviewStatus, previous: PreviewStatus) => void

/** What readers need (the web): they never set the level. */
export interface PreviewView {
  level(): PreviewLevel
  status(): PreviewStatus
  subscribe(listener: PreviewListener): () => void
}

export class PreviewState implements PreviewView {
  #status: PreviewStatus
  readonly #listeners = new Set<PreviewListener>()
  readonly #now: () => number
  readonly #onListenerError: (err: unknown) => void

  constructor(opts: { now?: () => number; onListenerError?: (err: unknown) => void } = {}) {
    this.#now = opts.now ?? Date.now
    this.#onListenerError = opts.onListenerError ?? (() => {})
    this.#status = { level: 'full', reason: 'no resource reading yet', since: new Date(this.#now()).toISOString() }
  }

  level(): PreviewLevel {
    return this.#status.level
  }

  status(): PreviewStatus {
    return { ...this.#status }
  }

  /**
   * A new level or reason. Saying the same again changes nothing and tells no one (a
   * restarted governor restates its level on its first sample). `since` moves only when
   * the level does: a reason that changes within a level is still the same episode.
   */
  set(level: PreviewLevel, reason: string): void {
    const previous = this.#status
    if (previous.level === level && previous.reason === reason) return
    this.#status = { level, reason, since: previous.level === level ? previous.since : new Date(this.#now()).toISOString() }
    const status = this.status()
    for (const listener of this.#listeners) {
      // One failing listener (a web server closing) must not keep the level from the others.
      try {
        listener(status, previous)
      } catch (err) {
        this.#onListenerError(err)
      }
    }
  }

  subscribe(listener: PreviewListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }
}
