import { createActor, type Actor, type AnyActorRef, type InspectionEvent, type SimulatedClock } from 'xstate'
import {
  supervisorMachine,
  restartsOf,
  type AlertEffect,
  type ChildSpec,
  type ChildStatus,
  type Strategy,
} from '../../machines/supervisor.machine.js'
import type { Logger } from '../../infra/logger.js'
import { VigilError } from '../../infra/errors.js'
import type { ChildFactory, ChildInstance } from './child.js'

export interface SupervisedChild extends ChildSpec {
  factory: ChildFactory
}

export interface ChildStatusView {
  id: string
  /** The child's own top-level state while it runs (camera: `streaming`), else its supervision status. */
  state: string
  status: ChildStatus
  restarts: number
  pids: number[]
  since: string
  lastExit: { normal: boolean; reason: string; at: string } | null
  nextRetryAt: string | null
}

export interface SupervisorDeps {
  children: SupervisedChild[]
  strategy?: Strategy
  shutdownOrder?: string[]
  log: Logger
  /** Every alert the tree raises (restarts, parks, stop timeouts). */
  alert(alert: AlertEffect): void
  /** A child's visible state changed: its own machine's top-level state, or its supervision status. */
  onChildState?(id: string, state: string, details: Record<string, unknown>): void
  /** The supervisor's own phase changed. */
  onState?(state: string): void
  /** XState inspection of every actor in the tree (the /inspect page and Stately's inspector). */
  inspect?(event: InspectionEvent): void
  /** For tests: a simulated clock and a fixed jitter. */
  clock?: SimulatedClock
  random?: () => number
}

interface Running {
  gen: number
  instance: ChildInstance
  unsubscribe?: () => void
  lastState?: string
}

export type SupervisorHandle = ReturnType<typeof createSupervisor>

/**
 * The name an operator sees: a nested state reads as its leaf (camera
 * `{ capturing: 'streaming' }` → `streaming`); parallel regions as the parent.
 */
export function stateName(value: unknown): string {
  let current = value
  let name = 'unknown'
  while (typeof current === 'object' && current !== null) {
    const keys = Object.keys(current)
    if (keys.length !== 1) return name
    name = keys[0]!
    current = (current as Record<string, unknown>)[name]
  }
  return typeof current === 'string' ? current : name
}

/**
 * The effectful side of the supervisor: turns the machine's startChild/stopChild/killChild
 * into ChildInstances, feeds their ready/exit back as events, and reports states.
 * Knows nothing of cameras: a child is a spec plus a factory.
 */
export function createSupervisor(deps: SupervisorDeps) {
  const { log } = deps
  const running = new Map<string, Running>()
  const factories = new Map(deps.children.map((c) => [c.id, c.factory]))
  const actorListeners = new Set<(id: string, actor: AnyActorRef) => void>()
  const now = () => (deps.clock ? deps.clock.now() : Date.now())
  let actor: Actor<typeof supervisorMachine>

  const send = (event: Parameters<Actor<typeof supervisorMachine>['send']>[0]) => {
    // Events from a dead supervisor (a late exit after shutdown) have nowhere to go.
    if (actor.getSnapshot().status === 'active') actor.send(event)
  }

  const reportChild = (id: string, state: string, details: Record<string, unknown> = {}) => {
    deps.onChildState?.(id, state, details)
  }

  const machine = supervisorMachine.provide({
    actions: {
      startChild: (_, { id, gen }) => {
        const factory = factories.get(id)!
        let instance: ChildInstance
        try {
          instance = factory()
        } catch (err) {
          log.error({ child: id, err }, 'child factory failed')
          queueMicrotask(() => send({ type: 'CHILD.EXIT', id, gen, normal: false, reason: `could not be created: ${(err as Error).message}` }))
          return
        }
        const entry: Running = { gen, instance }
        running.set(id, entry)
        if (instance.actor) {
          const sub = instance.actor.subscribe((snapshot: { value: unknown; status: string }) => {
            const state = (instance.stateName ?? stateName)(snapshot.value)
            if (snapshot.status === 'active' && state !== entry.lastState) {
              entry.lastState = state
              reportChild(id, state, { gen })
            }
          })
          entry.unsubscribe = () => sub.unsubscribe()
        }
        if (instance.actor) {
          // Before it starts: an inspector sees the new instance's first events too.
          for (const listener of actorListeners) {
            try {
              listener(id, instance.actor)
            } catch (err) {
              log.warn({ child: id, err }, 'a child-actor listener failed')
            }
          }
        }
        log.info({ child: id, gen }, 'starting child')
        try {
          instance.start({
            // Deferred so a child that is ready or dead synchronously still reaches the
            // supervisor as a separate event, after the start transition has settled.
            onReady: () => queueMicrotask(() => send({ type: 'CHILD.READY', id, gen })),
            onExit: (exit) =>
              queueMicrotask(() => {
                entry.unsubscribe?.()
                if (running.get(id)?.gen === gen) running.delete(id)
                log.info({ child: id, gen, normal: exit.normal, reason: exit.reason }, 'child exited')
                send({ type: 'CHILD.EXIT', id, gen, normal: exit.normal, reason: exit.reason })
              }),
          })
        } catch (err) {
          log.error({ child: id, err }, 'child start threw')
          instance.kill()
        }
      },
      stopChild: (_, { id, gen }) => {
        const entry = running.get(id)
        if (entry?.gen === gen) {
          log.info({ child: id, gen }, 'stopping child')
          entry.instance.stop()
        }
      },
      killChild: (_, { id, gen }) => {
        const entry = running.get(id)
        if (entry?.gen === gen) {
          log.warn({ child: id, gen }, 'killing child')
          entry.instance.kill()
        } else {
          // Already gone: the machine still waits for an exit to close the operation.
          send({ type: 'CHILD.EXIT', id, gen, normal: false, reason: 'killed by the supervisor' })
        }
      },
      raiseAlert: (_, alert) => {
        deps.alert(alert)
      },
    },
  })

  actor = createActor(machine, {
    input: {
      specs: deps.children.map(({ factory: _factory, ...spec }) => spec),
      strategy: deps.strategy,
      shutdownOrder: deps.shutdownOrder,
      now,
      random: deps.random,
    },
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.inspect ? { inspect: deps.inspect } : {}),
  })

  // Supervision statuses other than `running` are what an operator needs to see for a
  // child whose own actor is gone (restarting, failed, stopped).
  const lastStatus = new Map<string, ChildStatus>()
  let lastPhase = ''
  actor.subscribe((snapshot) => {
    const phase = stateName(snapshot.value)
    if (phase !== lastPhase) {
      lastPhase = phase
      log.info({ state: phase }, 'supervisor state')
      deps.onState?.(phase)
    }
    for (const c of Object.values(snapshot.context.children)) {
      if (lastStatus.get(c.id) === c.status) continue
      lastStatus.set(c.id, c.status)
      if (c.status !== 'running' && c.status !== 'starting') {
        reportChild(c.id, c.status, { restarts: restartsOf(c), reason: c.lastExit?.reason ?? null })
      }
    }
  })

  let done: Promise<void> | undefined

  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

  return {
    actor,
    start(): void {
      actor.start()
      actor.send({ type: 'START' })
    },
    /** Orderly shutdown; resolves when every child has stopped (or been killed). */
    shutdown(): Promise<void> {
      done ??= new Promise<void>((resolve) => {
        const check = () => actor.getSnapshot().status !== 'active'
        if (check()) return resolve()
        const sub = actor.subscribe({
          next: () => {
            if (check()) {
              sub.unsubscribe()
              resolve()
            }
          },
          complete: () => resolve(),
        })
        actor.send({ type: 'SHUTDOWN' })
      })
      return done
    },
    /** Forced end: kill every child instance now (second signal, shutdown timeout). */
    killAll(): void {
      for (const entry of running.values()) entry.instance.kill()
    },
    restart(id: string): void {
      if (!factories.has(id)) throw new VigilError('NOT_FOUND', `no child named ${JSON.stringify(id)}`, { children: [...factories.keys()] })
      if (stateName(actor.getSnapshot().value) === 'shutting_down') throw new VigilError('SHUTTING_DOWN', 'the supervisor is shutting down')
      actor.send({ type: 'RESTART_CHILD', id })
    },
    state(): string {
      return stateName(actor.getSnapshot().value)
    },
    /**
     * Called with each new child instance's actor before it starts, so its whole
     * life can be followed (the inspector's timeline, Stately). Returns the unsubscribe.
     */
    onChildActor(listener: (id: string, actor: AnyActorRef) => void): () => void {
      actorListeners.add(listener)
      return () => actorListeners.delete(listener)
    },
    /** The current instance's actor of a child, for its commands and status. */
    childActor(id: string): AnyActorRef | undefined {
      return running.get(id)?.instance.actor
    },
    children(): ChildStatusView[] {
      const ctx = actor.getSnapshot().context
      return ctx.specs.map(({ id }) => {
        const c = ctx.children[id]!
        const entry = running.get(id)
        const own = entry?.lastState
        return {
          id,
          state: c.status === 'running' && own ? own : c.status,
          status: c.status,
          restarts: restartsOf(c),
          pids: entry ? entry.instance.pids() : [],
          since: iso(c.since)!,
          lastExit: c.lastExit ? { normal: c.lastExit.normal, reason: c.lastExit.reason, at: iso(c.lastExit.at)! } : null,
          nextRetryAt: iso(c.nextRetryAt),
        }
      })
    },
    uptimeS(): number {
      return Math.round((now() - actor.getSnapshot().context.startedAt) / 1000)
    },
    /** Every OS process the tree owns now. */
    pids(): number[] {
      return [...running.values()].flatMap((e) => e.instance.pids())
    },
  }
}

/**
 * A subtree as a child: its own supervisor with its own strategy (OTP's nested
 * supervisors), ready when all its children have started, stopped by shutting it down.
 */
export function subtreeChild(deps: Omit<SupervisorDeps, 'onState'>): ChildFactory {
  return () => {
    const sup = createSupervisor(deps)
    let exited = false
    let onExit: ((exit: { normal: boolean; reason: string }) => void) | undefined
    const exit = (normal: boolean, reason: string) => {
      if (exited) return
      exited = true
      onExit?.({ normal, reason })
    }
    return {
      actor: sup.actor,
      start(events) {
        onExit = events.onExit
        let readySent = false
        sup.actor.subscribe((snapshot) => {
          if (!readySent && snapshot.value === 'running') {
            readySent = true
            events.onReady()
          }
          if (snapshot.status === 'done') exit(true, 'subtree shut down')
        })
        sup.start()
      },
      stop() {
        void sup.shutdown()
      },
      kill() {
        sup.killAll()
        sup.actor.stop()
        exit(false, 'killed by the supervisor')
      },
      pids: () => sup.pids(),
    }
  }
}
