import { assign, fromPromise, setup } from 'xstate'

/**
 * upload: off-box copies of finalized sessions (DESIGN.md §9.4), one session at a time.
 *
 * scanning (the sessions on disk not yet verified in the bucket) → next
 * next → uploading (queue not empty) | idle
 * uploading (the head of the queue) → next on success | backoff on failure
 * backoff (retryDelay: doubles per failure, capped) → uploading (the same session again;
 *   the upload resumes with the files not yet verified)
 * ENQUEUE (a session finalized) adds to the queue in every state; STOP → stopped (final).
 * Every state is tagged ready: a bus that is down is the uploader's normal weather, not a
 * failure to start.
 */

export interface UploadInput {
  retryBaseMs?: number
  retryMaxMs?: number
}

export interface UploadContext {
  queue: string[]
  attempt: number
  uploaded: number
  lastError: string | null
  retryBaseMs: number
  retryMaxMs: number
}

export type UploadEvent = { type: 'ENQUEUE'; session: string } | { type: 'STOP' }

export const UPLOAD_DEFAULTS = { retryBaseMs: 1000, retryMaxMs: 60_000 } as const

/** The pause before try `attempt` (1: after the first failure): doubling from base, capped. */
export function uploadRetryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempt - 1)))
}

function notProvided(name: string): never {
  throw new Error(`upload machine: actor '${name}' was not provided (use createUploadActor)`)
}

export const uploadMachine = setup({
  types: {
    context: {} as UploadContext,
    events: {} as UploadEvent,
    input: {} as UploadInput,
    output: {} as { normal: boolean; reason: string },
  },
  actors: {
    scanSessions: fromPromise<string[]>(async () => notProvided('scanSessions')),
    uploadSession: fromPromise<{ uploaded: boolean }, { session: string }>(async () => notProvided('uploadSession')),
  },
  actions: {
    enqueue: assign({
      queue: ({ context, event }) => (event.type === 'ENQUEUE' && !context.queue.includes(event.session) ? [...context.queue, event.session] : context.queue),
    }),
    note: (_, _params: { level: 'info' | 'warn'; message: string; details?: Record<string, unknown> }) => {},
  },
  guards: {
    queueEmpty: ({ context }) => context.queue.length === 0,
  },
  delays: {
    retryDelay: ({ context }) => uploadRetryDelayMs(context.attempt, context.retryBaseMs, context.retryMaxMs),
  },
}).createMachine({
  id: 'upload',
  context: ({ input }) => ({
    queue: [],
    attempt: 0,
    uploaded: 0,
    lastError: null,
    retryBaseMs: input?.retryBaseMs ?? UPLOAD_DEFAULTS.retryBaseMs,
    retryMaxMs: input?.retryMaxMs ?? UPLOAD_DEFAULTS.retryMaxMs,
  }),
  initial: 'scanning',
  on: {
    ENQUEUE: { actions: 'enqueue' },
    STOP: '.stopped',
  },
  states: {
    scanning: {
      tags: ['ready'],
      invoke: {
        src: 'scanSessions',
        onDone: {
          target: 'next',
          actions: assign({ queue: ({ context, event }) => [...new Set([...event.output, ...context.queue])] }),
        },
        onError: {
          target: 'next',
          actions: { type: 'note', params: ({ event }) => ({ level: 'warn' as const, message: 'upload: could not list the sessions on disk', details: { err: String(event.error) } }) },
        },
      },
    },
    next: {
      tags: ['ready'],
      always: [{ guard: 'queueEmpty', target: 'idle' }, { target: 'uploading' }],
    },
    idle: {
      tags: ['ready'],
      on: { ENQUEUE: { target: 'next', actions: 'enqueue' } },
    },
    uploading: {
      tags: ['ready'],
      invoke: {
        src: 'uploadSession',
        input: ({ context }) => ({ session: context.queue[0]! }),
        onDone: {
          target: 'next',
          actions: assign({
            queue: ({ context }) => context.queue.slice(1),
            uploaded: ({ context, event }) => context.uploaded + (event.output.uploaded ? 1 : 0),
            attempt: 0,
            lastError: null,
          }),
        },
        onError: {
          target: 'backoff',
          actions: [
            assign({ attempt: ({ context }) => context.attempt + 1, lastError: ({ event }) => (event.error instanceof Error ? event.error.message : String(event.error)) }),
            {
              type: 'note',
              params: ({ context }) => ({
                level: 'warn' as const,
                message: 'upload: failed; trying again after a pause',
                details: { session: context.queue[0], attempt: context.attempt, err: context.lastError, retryInMs: uploadRetryDelayMs(context.attempt, context.retryBaseMs, context.retryMaxMs) },
              }),
            },
          ],
        },
      },
    },
    backoff: {
      tags: ['ready'],
      after: { retryDelay: 'uploading' },
    },
    stopped: {
      type: 'final',
    },
  },
  output: () => ({ normal: true, reason: 'stopped' }),
})
