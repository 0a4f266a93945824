import type { AnyActorRef } from 'xstate'

/** How a child ended, as the supervisor sees it. */
export interface ChildExit {
  /** A clean, intended end (matters for `transient` children). */
  normal: boolean
  reason: string
}

/**
 * One running instance of a child. The supervisor makes a new one for every
 * (re)start through the child's factory, so nothing leaks from a dead instance.
 *
 * Contract:
 * - `start()` begins work; the instance calls `onReady` once it is serving and
 *   `onExit` exactly once when it is gone (crash, kill or requested stop).
 * - `stop()` asks for an orderly stop (finalize, flush); the supervisor times it
 *   out after the child's `shutdownMs` and then calls `kill()`.
 * - `kill()` ends it now (SIGKILL of its processes) and still leads to `onExit`.
 */
export interface ChildInstance {
  /** The child's XState actor, when it has one: its snapshots are published and inspected. */
  readonly actor?: AnyActorRef
  start(events: ChildEvents): void
  stop(): void
  kill(): void
  /** OS processes this instance owns right now. */
  pids(): number[]
  /** The operator's name for a snapshot value (a nested machine's meaningful level); default: the leaf. */
  stateName?(value: unknown): string
}

export interface ChildEvents {
  onReady(): void
  onExit(exit: ChildExit): void
}

export type ChildFactory = () => ChildInstance
