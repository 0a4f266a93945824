import type { AnyActorRef, AnyStateMachine, Actor, SnapshotFrom } from 'xstate'
import type { ChildExit, ChildInstance, ChildEvents } from './child.js'

/**
 * Conventions a subsystem machine follows to be supervised:
 * - a state tagged `ready` means "serving" (the start handshake completes on the first one);
 * - `{ type: 'STOP' }` asks for an orderly stop that ends in a final state;
 * - a final state's output `{ normal, reason }` says how it ended (no output: normal);
 * - `context.pids` lists the OS processes it owns (optional).
 * Stopping the actor runs the cleanup of everything it invoked, which kills its processes.
 */
export function machineChild<M extends AnyStateMachine>(
  create: () => Actor<M>,
  opts: {
    pids?: (snapshot: SnapshotFrom<M>) => number[]
    stateName?: (value: unknown) => string
    /**
     * The subsystem's handle, which commands reach across restarts: this instance is
     * attached when it starts and detached (with how it ended) when it is gone.
     */
    attachTo?: { attach(actor: Actor<M>): void; detach(actor: Actor<M>, normal: boolean): void }
  } = {},
): ChildInstance {
  const actor = create()
  let ended = false
  let events: ChildEvents | undefined
  const end = (exit: ChildExit) => {
    if (ended) return
    ended = true
    opts.attachTo?.detach(actor, exit.normal)
    events?.onExit(exit)
  }
  const pidsOf =
    opts.pids ??
    ((snapshot: SnapshotFrom<M>) => {
      const ctx = (snapshot as { context?: { pids?: unknown } }).context
      return Array.isArray(ctx?.pids) ? (ctx.pids as number[]) : []
    })
  return {
    actor: actor as unknown as AnyActorRef,
    start(ev) {
      events = ev
      opts.attachTo?.attach(actor)
      let readySent = false
      actor.subscribe({
        next(snapshot) {
          const s = snapshot as unknown as { status: string; output?: unknown; hasTag(t: string): boolean }
          if (!readySent && s.status === 'active' && s.hasTag('ready')) {
            readySent = true
            ev.onReady()
          }
          if (s.status === 'done') end(exitFromOutput(s.output))
        },
        error(err) {
          end({ normal: false, reason: err instanceof Error ? err.message : String(err) })
        },
      })
      actor.start()
    },
    stop() {
      if (!ended) (actor as unknown as AnyActorRef).send({ type: 'STOP' })
    },
    kill() {
      if (ended) return
      actor.stop()
      end({ normal: false, reason: 'killed by the supervisor' })
    },
    pids() {
      return ended ? [] : pidsOf(actor.getSnapshot())
    },
    ...(opts.stateName ? { stateName: opts.stateName } : {}),
  }
}

function exitFromOutput(output: unknown): ChildExit {
  if (typeof output === 'object' && output !== null && 'normal' in output) {
    const o = output as { normal: unknown; reason?: unknown }
    return { normal: o.normal === true, reason: typeof o.reason === 'string' ? o.reason : 'stopped' }
  }
  return { normal: true, reason: 'stopped' }
}
