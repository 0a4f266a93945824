import type { FastifyInstance } from 'fastify'
import type { EventRing } from '../../../infra/eventRing.js'
import { EVENT_RING_CAPACITY } from '../../../infra/eventRing.js'
import type { CommandRouter } from '../../../infra/nats/commands.js'
import { sendErrorBody } from '../httpErrors.js'
import { IdempotencyHeaders, envelopeOf } from './api.js'
import { redact } from '../redact.js'

/**
 * DESIGN.md §9.2 on the web: the recordings page, deleting a session (an operator's
 * command, through the router like every mutation: same validation, codes, SHUTTING_DOWN
 * refusal and commands log as `recorder.delete` over NATS) and the recent events the live
 * page lists after a reload or a reconnect.
 */

export interface RecordingsRouteDeps {
  router: CommandRouter
  events: EventRing
  /** web/ (the page's files). */
  webDir: string
  /** Literal secrets never sent (the web token): events go through the WebSocket's redaction. */
  secrets: string[]
}

const errors = { 204: { type: 'null' }, 400: { $ref: 'vigil.error#' }, 401: { $ref: 'vigil.error#' }, 403: { $ref: 'vigil.error#' }, 404: { $ref: 'vigil.error#' }, 409: { $ref: 'vigil.error#' } }

export function registerRecordingsRoutes(app: FastifyInstance, deps: RecordingsRouteDeps): void {
  app.get('/recordings', { config: { role: 'viewer', loginRedirect: true }, schema: {} }, async (_request, reply) => reply.sendFile('recordings.html', deps.webDir))

  app.delete(
    '/api/v1/recordings/:id',
    {
      config: { role: 'operator' },
      // The command checks the id against the session-id pattern before it becomes a path.
      // X-Idempotency-Key: a retried delete whose first reply was lost gets that 204, not a 404.
      schema: { headers: IdempotencyHeaders, params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } }, response: errors },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const result = await deps.router.dispatch('recorder', 'delete', envelopeOf({ id }, request.headers), { traceId: request.id, source: 'http' })
      if (!result.ok) return sendErrorBody(reply, result.error)
      return reply.code(204).send()
    },
  )

  app.get(
    '/api/v1/events',
    {
      config: { role: 'viewer' },
      schema: {
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: EVENT_RING_CAPACITY, default: 50 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number }
      return { events: deps.events.list(limit).map((e) => redact(e, { secrets: deps.secrets })) }
    },
  )
}
