import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { isTraceId, newTraceId } from '../../infra/nats/codec.js'
import type { WebMetrics } from './metrics.js'

/**
 * Trace ids and timing (DESIGN.md §5). The request id Fastify gives every
 * request *is* the trace id: taken from `X-Trace-ID` when it is a safe token
 * (printable, bounded: it goes into every log line), else made. Fastify puts it
 * on every line of the request's logger as `traceId`; handlers pass it to
 * router.dispatch, which puts it on the NATS command it causes.
 */

export const TRACE_HEADER = 'x-trace-id'
export const RESPONSE_TIME_HEADER = 'X-Response-Time-Ms'

export function traceIdOfRequest(req: IncomingMessage): string {
  const given = req.headers[TRACE_HEADER]
  const value = Array.isArray(given) ? given[0] : given
  const trimmed = value?.trim()
  return trimmed !== undefined && isTraceId(trimmed) ? trimmed : newTraceId()
}

export const responseTimeMs = (elapsedMs: number): string => elapsedMs.toFixed(2)

export interface TraceHookOptions {
  slowMs: number
  metrics?: WebMetrics
}

export function addTraceHooks(app: FastifyInstance, opts: TraceHookOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Trace-ID', request.id)
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header(RESPONSE_TIME_HEADER, responseTimeMs(reply.elapsedTime))
    return payload
  })
  app.addHook('onResponse', async (request, reply) => {
    const ms = reply.elapsedTime
    const route = request.routeOptions.url ?? 'unmatched'
    opts.metrics?.observeHttp(request.method, route, reply.statusCode, ms / 1000)
    const line = { method: request.method, url: request.url, route, status: reply.statusCode, ms: Math.round(ms * 100) / 100 }
    if (ms > opts.slowMs) request.log.warn({ ...line, slowMs: opts.slowMs }, 'slow request')
    else request.log.debug(line, 'request')
  })
}
