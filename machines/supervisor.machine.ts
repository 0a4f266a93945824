import { setup, enqueueActions, type ActionFunction } from 'xstate'
import {
  initialContext,
  isIdle,
  reduce,
  type AlertEffect,
  type ChildSpec,
  type Phase,
  type Strategy,
  type SupervisorContext,
  type SupervisorEvent,
} from './supervisor.policy.js'

export * from './supervisor.policy.js'

export interface SupervisorInput {
  specs: ChildSpec[]
  strategy?: Strategy
  /** Ids stopped first at shutdown, in this order; the others follow in reverse start order. */
  shutdownOrder?: string[]
  /** Wall clock for `since` and the intensity window; tests pass the simulated clock's. */
  now?: () => number
  /** Jitter source; tests pass a constant. */
  random?: () => number
}

type ChildRef = { id: string; gen: number }

/**
 * The supervisor tree's node (DESIGN.md §3). Its phases are states; its children are
 * records in context, managed by the pure reducer in supervisor.policy.ts. Effects
 * are named actions the actor layer provides: startChild, stopChild, killChild,
 * raiseAlert. Timers are delayed events on the actor's clock, cancelled by key.
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actions: {
    startChild: (_args, _params: ChildRef) => {},
    stopChild: (_args, _params: ChildRef) => {},
    killChild: (_args, _params: ChildRef) => {},
    raiseAlert: (_args, _params: AlertEffect) => {},
    handle: enqueueActions(({ context, event, enqueue }, params: { phase: Phase }) => {
      const step = reduce(context as SupervisorContext, event as SupervisorEvent, params.phase)
      // The function form: an object would treat `now` and `random` as property assigners.
      enqueue.assign(() => step.ctx)
      for (const effect of step.effects) {
        switch (effect.type) {
          case 'startChild':
          case 'stopChild':
          case 'killChild':
            enqueue({ type: effect.type, params: { id: effect.id, gen: effect.gen } })
            break
          case 'alert':
            enqueue({ type: 'raiseAlert', params: effect.alert })
            break
          case 'schedule':
            enqueue.cancel(effect.key)
            enqueue.raise(effect.event, { delay: effect.delayMs, id: effect.key })
            break
          case 'cancel':
            enqueue.cancel(effect.key)
            break
        }
      }
    }) as unknown as ActionFunction<SupervisorContext, SupervisorEvent, SupervisorEvent, { phase: Phase }, never, never, never, never, never>,
  },
  guards: {
    idle: ({ context }) => isIdle(context),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => initialContext(input),
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: { target: 'starting', actions: { type: 'handle', params: { phase: 'starting' } } },
        SHUTDOWN: 'shutdown_complete',
      },
    },
    starting: {
      always: { guard: 'idle', target: 'running' },
      on: {
        SHUTDOWN: { target: 'shutting_down', actions: { type: 'handle', params: { phase: 'shutting_down' } } },
        '*': { actions: { type: 'handle', params: { phase: 'starting' } } },
      },
    },
    running: {
      tags: ['ready'],
      on: {
        SHUTDOWN: { target: 'shutting_down', actions: { type: 'handle', params: { phase: 'shutting_down' } } },
        '*': { actions: { type: 'handle', params: { phase: 'running' } } },
      },
    },
    shutting_down: {
      always: { guard: 'idle', target: 'shutdown_complete' },
      on: {
        '*': { actions: { type: 'handle', params: { phase: 'shutting_down' } } },
      },
    },
    shutdown_complete: {
      type: 'final',
      output: { normal: true, reason: 'shut down' },
    },
  },
})
