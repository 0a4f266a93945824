import { assign, enqueueActions, fromCallback, fromPromise, sendTo, setup } from 'xstate'
import { notifyLaneMachine, type LaneEntry, type RetryPolicy } from './notifyLane.machine.js'

/**
 * notify: delivers alerts and events to webhooks from the on-disk outbox (DESIGN.md §9.2).
 *
 * loading (the outbox's pending entries, per receiver) → running (ready): one lane per
 *   receiver (notifyLane.machine.ts: order, backoff, retry window, drop); new outbox
 *   entries are passed to their receiver's lane → STOP → stopped (final, normal).
 *
 * The outbox itself (files, the feed subscription) outlives this actor: an alert raised
 * while notify restarts is still written, and found by the next instance's loading.
 * Stopping leaves every pending entry on disk; an attempt in flight is aborted.
 */

export interface NotifyInput {
  receivers: string[]
  retry: RetryPolicy
}

export interface OutboxSnapshot {
  /** Pending entries by receiver id, oldest first. */
  pending: Record<string, LaneEntry[]>
  /** The newest entry name seen: the watch passes on only what comes after it. */
  after: string
}

export interface NotifyContext {
  receivers: string[]
  retry: RetryPolicy
  loaded: OutboxSnapshot
}

export type NotifyOutboxEvent = { type: 'ENQUEUED'; receiver: string; entry: LaneEntry } | { type: 'DISCARDED'; receiver: string; name: string }

export type NotifyEvent = NotifyOutboxEvent | { type: 'STOP' }

export interface NotifyOutput {
  normal: boolean
  reason: string
}

/** The lane actor's id for a receiver (status reads it from the snapshot's children). */
export const laneId = (receiver: string) => `lane-${receiver}`

function notProvided(name: string): never {
  throw new Error(`notify machine: actor '${name}' was not provided (use createNotifyActor)`)
}

export const notifyMachine = setup({
  types: {
    context: {} as NotifyContext,
    events: {} as NotifyEvent,
    input: {} as NotifyInput,
    output: {} as NotifyOutput,
  },
  actors: {
    lane: notifyLaneMachine,
    loadOutbox: fromPromise<OutboxSnapshot>(async () => notProvided('loadOutbox')),
    watchOutbox: fromCallback<{ type: 'NONE' }, { after: string }>(() => notProvided('watchOutbox')),
  },
}).createMachine({
  id: 'notify',
  context: ({ input }) => ({ receivers: input.receivers, retry: input.retry, loaded: { pending: {}, after: '' } }),
  initial: 'loading',
  output: ({ event }) => (event as unknown as { output: NotifyOutput }).output,
  on: { STOP: '.stopped' },
  states: {
    loading: {
      invoke: {
        src: 'loadOutbox',
        onDone: { target: 'running', actions: assign({ loaded: ({ event }) => event.output }) },
        onError: { target: 'failed' },
      },
    },
    running: {
      tags: ['ready'],
      entry: [
        enqueueActions(({ context, enqueue }) => {
          for (const receiver of context.receivers) {
            enqueue.spawnChild('lane', {
              id: laneId(receiver),
              input: { receiver, retry: context.retry, pending: context.loaded.pending[receiver] ?? [] },
            })
          }
        }),
        // The lanes hold them now.
        assign({ loaded: ({ context }) => ({ pending: {}, after: context.loaded.after }) }),
      ],
      invoke: { src: 'watchOutbox', input: ({ context }) => ({ after: context.loaded.after }) },
      on: {
        ENQUEUED: { actions: sendTo(({ event }) => laneId(event.receiver), ({ event }) => ({ type: 'ENQUEUED' as const, entry: event.entry })) },
        DISCARDED: { actions: sendTo(({ event }) => laneId(event.receiver), ({ event }) => ({ type: 'DISCARDED' as const, name: event.name })) },
      },
    },
    failed: {
      type: 'final',
      output: { normal: false, reason: 'cannot read the notify outbox' },
    },
    stopped: {
      type: 'final',
      output: { normal: true, reason: 'stopped' },
    },
  },
})
