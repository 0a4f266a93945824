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

/** Every mutating route honours it (DESIGN.md §9.5): the page sends one per click, reused on each retry. */
export const IdempotencyHeaders = Type.Object({
  'x-idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
})
/** No body, `null` or `{}`: Fastify hands an absent body to the validator as null. */
const StartBody = Type.Union([Type.Null(), Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false })])
const StopBody = Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })])

/** The command envelope with the request's `X-Idempotency-Key`, if it sent one. */
export function envelopeOf(args: Record<string, unknown>, headers: Record<string, unknown>): { args: Record<string, unknown>; idempotencyKey?: string } {
  const key = headers['x-idempotency-key']
  return typeof key === 'string' ? { args, idempotencyKey: key } : { args }
}

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
      const args = body.name === undefined ? {} : { name: body.name }
      return answer(reply, await router.dispatch('recorder', 'start', envelopeOf(args, request.headers), { traceId: request.id, source: 'http' }))
    },
  )

  app.post(
    '/api/v1/recorder/stop',
    {
      config: { role: 'operator' },
      validatorCompiler: strictValidatorCompiler,
      schema: { headers: IdempotencyHeaders, body: StopBody, response: errors },
    },
    async (request, reply) => answer(reply, await router.dispatch('recorder', 'stop', envelopeOf({}, request.headers), { traceId: request.id, source: 'http' })),
  )
}
