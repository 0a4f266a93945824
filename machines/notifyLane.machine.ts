import { assign, fromPromise, setup } from 'xstate'

/**
 * One webhook receiver's delivery lane: its pending outbox entries, oldest first, sent
 * one at a time (so a receiver sees them in the order they happened, and a dead one holds
 * one request, never a pile).
 *
 * idle ─(an entry pending)→ sending ─ok→ idle (entry done, failures reset)
 *                              └fail→ waiting ─retryBackoff→ sending
 *                              └fail, the head older than retry.windowMs → idle, every
 *                                entry past its window dropped at once (one notify.failed)
 *
 * retryBackoff grows with the failures since the last success (not per entry: a dead
 * receiver stays slow to retry for every entry behind the head) and is capped at maxMs.
 * Times come in with the events (the effect's `at`), so the machine reads no clock.
 */

export interface LaneEntry {
  /** The outbox file: names sort in the order the entries were made. */
  name: string
  /** Wall ms when the alert or event was queued: the retry window runs from here (also across restarts). */
  createdAt: number
  /** A delivery of notify.failed itself: dropping it raises nothing (no alert loop between dead receivers). */
  quiet: boolean
}

export interface RetryPolicy {
  initialMs: number
  factor: number
  maxMs: number
  windowMs: number
}

export type DeliveryResult = { ok: true; at: number } | { ok: false; at: number; reason: string } | { ok: false; gone: true; at: number; reason: string }

export interface LaneInput {
  receiver: string
  retry: RetryPolicy
  pending: LaneEntry[]
}

export interface LaneContext {
  receiver: string
  retry: RetryPolicy
  queue: LaneEntry[]
  /** The entry being (or last) sent: it stays in the queue until the attempt ends; an overflow may discard it meanwhile. */
  current: LaneEntry | null
  /** Failed attempts since the last success: the backoff's exponent. */
  failures: number
  delivered: number
  dropped: number
  lastSuccessAt: number | null
  lastFailureAt: number | null
  lastFailure: string | null
}

export type LaneEvent = { type: 'ENQUEUED'; entry: LaneEntry } | { type: 'DISCARDED'; name: string }

export interface LaneDrop {
  receiver: string
  entries: LaneEntry[]
  /** Entries whose drop is to be told (not quiet ones). */
  told: number
  reason: string
  oldestAt: number
}

/** The wait before the next attempt after `failures` failed ones: initialMs·factor^(failures−1), capped at maxMs. */
export function retryDelayMs(failures: number, retry: Pick<RetryPolicy, 'initialMs' | 'factor' | 'maxMs'>): number {
  if (failures <= 0) return 0
  const grown = retry.initialMs * Math.pow(retry.factor, Math.min(failures - 1, 64))
  return Math.min(retry.maxMs, Math.round(grown))
}

/**
 * Entries of `queue` whose retry window has passed at `at` (the head is always among them when
 * called), with those queued within a batch (1 s, at most a quarter of the window) after the
 * newest of them: a burst queued over a few ms is one `notify.failed`, not one per try (a
 * refused receiver fails each try at once, and every try dropped the few that had just
 * expired: 8 alerts for 20 deliveries on a loaded box). They go at most a batch early.
 */
export function expiredEntries(queue: LaneEntry[], at: number, windowMs: number): LaneEntry[] {
  const expired = queue.filter((e) => at - e.createdAt >= windowMs)
  if (expired.length === 0) return expired
  const cutoff = Math.max(...expired.map((e) => e.createdAt)) + Math.min(1000, windowMs / 4)
  return queue.filter((e) => e.createdAt <= cutoff)
}

/** The entry just given up on is dropped even when an overflow took it off the queue meanwhile (its file may still be there). */
const withCurrent = (entries: LaneEntry[], current: LaneEntry) => (entries.some((e) => e.name === current.name) ? entries : [current, ...entries])

function notProvided(name: string): never {
  throw new Error(`notify lane: '${name}' was not provided (use createNotifyActor)`)
}

type DoneEvent = { type: string; output: DeliveryResult }
const resultOf = (event: unknown): DeliveryResult => (event as DoneEvent).output

export const notifyLaneMachine = setup({
  types: {
    context: {} as LaneContext,
    events: {} as LaneEvent,
    input: {} as LaneInput,
  },
  actors: {
    deliver: fromPromise<DeliveryResult, { receiver: string; entry: LaneEntry }>(async () => notProvided('deliver')),
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) =>
        event.type === 'ENQUEUED' && !context.queue.some((e) => e.name === event.entry.name) ? [...context.queue, event.entry] : context.queue,
    }),
    discard: assign({
      queue: ({ context, event }) => (event.type === 'DISCARDED' ? context.queue.filter((e) => e.name !== event.name) : context.queue),
    }),
    /** Effects (provided): remove the files of dropped entries, raise notify.failed. */
    dropEntries: (_, _drop: LaneDrop) => {},
  },
  guards: {
    hasPending: ({ context }) => context.queue.length > 0,
  },
  delays: {
    retryBackoff: ({ context }) => retryDelayMs(context.failures, context.retry),
  },
}).createMachine({
  id: 'notifyLane',
  context: ({ input }) => ({
    receiver: input.receiver,
    retry: input.retry,
    queue: [...input.pending],
    current: null,
    failures: 0,
    delivered: 0,
    dropped: 0,
    lastSuccessAt: null,
    lastFailureAt: null,
    lastFailure: null,
  }),
  initial: 'idle',
  on: {
    ENQUEUED: { actions: 'enqueue' },
    DISCARDED: { actions: 'discard' },
  },
  states: {
    idle: {
      always: { guard: 'hasPending', target: 'sending' },
    },
    sending: {
      entry: assign({ current: ({ context }) => context.queue[0]! }),
      invoke: {
        src: 'deliver',
        input: ({ context }) => ({ receiver: context.receiver, entry: context.current! }),
        onDone: [
          {
            guard: ({ event }) => resultOf(event).ok,
            target: 'idle',
            actions: assign(({ context, event }) => ({
              queue: context.queue.filter((e) => e.name !== context.current!.name),
              failures: 0,
              delivered: context.delivered + 1,
              lastSuccessAt: resultOf(event).at,
            })),
          },
          {
            // The file went (the outbox overflowed and dropped it): nothing to send, not the receiver's fault.
            guard: ({ event }) => 'gone' in resultOf(event),
            target: 'idle',
            actions: assign(({ context }) => ({ queue: context.queue.filter((e) => e.name !== context.current!.name) })),
          },
          {
            guard: ({ context, event }) => resultOf(event).at - context.current!.createdAt >= context.retry.windowMs,
            target: 'idle',
            actions: [
              {
                type: 'dropEntries',
                params: ({ context, event }) => {
                  const r = resultOf(event) as { at: number; reason: string }
                  const entries = withCurrent(expiredEntries(context.queue, r.at, context.retry.windowMs), context.current!)
                  return {
                    receiver: context.receiver,
                    entries,
                    told: entries.filter((e) => !e.quiet).length,
                    reason: r.reason,
                    oldestAt: Math.min(...entries.map((e) => e.createdAt)),
                  }
                },
              },
              assign(({ context, event }) => {
                const r = resultOf(event) as { at: number; reason: string }
                const gone = new Set(withCurrent(expiredEntries(context.queue, r.at, context.retry.windowMs), context.current!).map((e) => e.name))
                return {
                  queue: context.queue.filter((e) => !gone.has(e.name)),
                  failures: context.failures + 1,
                  dropped: context.dropped + gone.size,
                  lastFailureAt: r.at,
                  lastFailure: r.reason,
                }
              }),
            ],
          },
          {
            target: 'waiting',
            actions: assign(({ context, event }) => {
              const r = resultOf(event) as { at: number; reason: string }
              return { failures: context.failures + 1, lastFailureAt: r.at, lastFailure: r.reason }
            }),
          },
        ],
        // The effect reports failures as results; a throw is a bug in it, retried the same way.
        onError: {
          target: 'waiting',
          actions: assign(({ context }) => ({ failures: context.failures + 1, lastFailure: 'internal error' })),
        },
      },
    },
    waiting: {
      after: { retryBackoff: 'idle' },
    },
  },
})
