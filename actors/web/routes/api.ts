import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { AlertLog } from '../../../infra/alerts.js'
import type { CommandRouter } from '../../../infra/nats/commands.js'
import type { CommandReply } from '../../../infra/nats/envelope.js'
import { sendErrorBody } from '../httpErrors.js'
import { strictValidatorCompiler } from '../strictSchema.js'
import type { RigState } from '../state.js'

/**
 * The JSON API. Mutations are commands: they go through the same router as
 * NATS requests, so validation, error codes, the SHUTTING_DOWN refusal and the
 * commands log are the same whichever door a command came in by.
 */

export interface ApiDeps {
  router: CommandRouter
  alerts: AlertLog
  state: () => RigState
}

const errors = { 400: { $ref: 'vigil.error#' }, 401: { $ref: 'vigil.error#' }, 403: { $ref: 'vigil.error#' } }

const IdempotencyHeaders = Type.Object({
  'x-idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
})
/** No body, `null` or `{}`: Fastify hands an absent body to the validator as null. */
const StartBody = Type.Union([Type.Null(), Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false })])
const StopBody = Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })])

function answer(reply: FastifyReply, result: CommandReply): FastifyReply {
  if (result.ok) return reply.code(200).send(result)
  return sendErrorBody(reply, result.error)
}

export function registerApiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { router } = deps

  app.get(
    '/api/v1/state',
    { config: { role: 'viewer' }, schema: {} },
    async () => deps.state(),
  )

  app.get(
    '/api/v1/alerts',
    {
      config: { role: 'viewer' },
      schema: {
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 100 } }, additionalProperties: false },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number }
      return { alerts: deps.alerts.list(limit), counts: deps.alerts.counts() }
    },
  )

  app.post(
    '/api/v1/recorder/start',
    {
      config: { role: 'operator' },
      validatorCompiler: strictValidatorCompiler,
      schema: { headers: IdempotencyHeaders, body: StartBody, response: errors },
    },
    async (request, reply) => {
      const body = (request.body ?? {}) as { name?: string }
      const key = request.headers['x-idempotency-key'] as string | undefined
      const args = body.name === undefined ? {} : { name: body.name }
      const payload = key === undefined ? { args } : { args, idempotencyKey: key }
      return answer(reply, await router.dispatch('recorder', 'start', payload, { traceId: request.id, source: 'http' }))
    },
  )

  app.post(
    '/api/v1/recorder/stop',
    {
      config: { role: 'operator' },
      validatorCompiler: strictValidatorCompiler,
      schema: { body: StopBody, response: errors },
    },
    async (request, reply) => answer(reply, await router.dispatch('recorder', 'stop', { args: {} }, { traceId: request.id, source: 'http' })),
  )
}
