/**
 * The health-probe rhythm the media server, the web server and the embedded
 * nats-server share: wait `probeInterval`, run `probe`; an answer resets the misses,
 * `probeMisses` misses in a row end in `failed` (the supervisor restarts the child,
 * killing a frozen process). A machine that uses it names, in its setup: the actor
 * `probe`, the delay `probeInterval`, the guard `lastAllowedMiss`, and the actions
 * `countMiss`, `resetMisses`, `probeMissed` and `probeFailed` (params `{ error }`:
 * what it records about a miss, and about the last one).
 */
export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err))

const withError = ({ event }: { event: { error: unknown } }) => ({ error: event.error })

export function probeLoop<TInput = undefined>(failed: `#${string}.failed`, input?: TInput) {
  return {
    initial: 'waiting',
    states: {
      waiting: {
        after: { probeInterval: 'probing' },
      },
      probing: {
        invoke: {
          src: 'probe',
          input: input as TInput,
          onDone: { target: 'waiting', actions: 'resetMisses' },
          onError: [
            { guard: 'lastAllowedMiss', target: failed, actions: ['countMiss', { type: 'probeFailed', params: withError }] },
            { target: 'waiting', actions: ['countMiss', { type: 'probeMissed', params: withError }] },
          ],
        },
      },
    },
  } as const
}
