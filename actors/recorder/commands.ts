import { Type } from '@sinclair/typebox'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { RecorderHandle } from './index.js'

const NoArgs = Type.Object({}, { additionalProperties: false })

/**
 * recorder.start{name?} | stop | status (DESIGN.md §4), answered by whichever
 * recorder instance is live (through the handle): UNAVAILABLE between restarts.
 * The idempotency key travels in the envelope (`X-Idempotency-Key` over HTTP).
 */
export function registerRecorderCommands(router: CommandRouter, handle: RecorderHandle): void {
  router.register({
    actor: 'recorder',
    verb: 'start',
    description: 'start a recording session (idempotencyKey: a retry gets the same session)',
    args: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false }),
    handler: async (args, ctx) => {
      ctx.log.info({ name: args.name, idempotencyKey: ctx.idempotencyKey }, 'recorder start requested')
      return handle.start({
        ...(args.name === undefined ? {} : { name: args.name }),
        ...(ctx.idempotencyKey === undefined ? {} : { idempotencyKey: ctx.idempotencyKey }),
        signal: ctx.signal,
      })
    },
  })
  router.register({
    actor: 'recorder',
    verb: 'stop',
    description: 'stop the recording; replies with the finished session',
    args: NoArgs,
    handler: async (_args, ctx) => {
      ctx.log.info('recorder stop requested')
      return handle.stop({ signal: ctx.signal })
    },
  })
  router.register({
    actor: 'recorder',
    verb: 'status',
    description: 'recorder state and the current session (id, name, dir, startedAt, bytes, segments)',
    readOnly: true,
    args: NoArgs,
    handler: async () => handle.status(),
  })
}
