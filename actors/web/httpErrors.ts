import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { httpStatusOf, isErrorCode, type ErrorBody, type ErrorCode } from '../../infra/errors.js'

/**
 * JSON errors of the HTTP API: `{ ok: false, error: { code, message, details? } }`,
 * the same body a NATS command answers, with the status from the shared map.
 * Two codes exist only at the HTTP door (authentication is not a NATS concept here):
 * UNAUTHORIZED (401), FORBIDDEN (403: a cross-origin browser request, or a role that may
 * not), MISDIRECTED (421) and TOO_MANY_REQUESTS (429).
 */
export type HttpOnlyCode = 'UNAUTHORIZED' | 'FORBIDDEN' | 'MISDIRECTED' | 'TOO_MANY_REQUESTS'
export type WebErrorCode = ErrorCode | HttpOnlyCode

// MISDIRECTED: a Host not on the allow-list (DNS rebinding); TOO_MANY_REQUESTS: failed logins.
const httpOnlyStatus: Record<HttpOnlyCode, number> = { UNAUTHORIZED: 401, FORBIDDEN: 403, MISDIRECTED: 421, TOO_MANY_REQUESTS: 429 }

export function statusOf(code: WebErrorCode): number {
  return isErrorCode(code) ? httpStatusOf(code) : httpOnlyStatus[code]
}

export interface WebErrorBody {
  ok: false
  error: { code: WebErrorCode; message: string; details?: Record<string, unknown> }
}

export function errorBody(code: WebErrorCode, message: string, details?: Record<string, unknown>): WebErrorBody {
  return { ok: false, error: details === undefined ? { code, message } : { code, message, details } }
}

export function sendError(reply: FastifyReply, code: WebErrorCode, message: string, details?: Record<string, unknown>, status = statusOf(code)): FastifyReply {
  return reply.code(status).header('Content-Type', 'application/json; charset=utf-8').send(errorBody(code, message, details))
}

export function sendErrorBody(reply: FastifyReply, error: ErrorBody): FastifyReply {
  return sendError(reply, error.code, error.message, error.details)
}

/** The error schema of every route: documented once, referenced by `$ref`. */
export const errorSchema = {
  $id: 'vigil.error',
  type: 'object',
  required: ['ok', 'error'],
  properties: {
    ok: { const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
    },
  },
} as const

/**
 * Everything Fastify or a handler throws, as a shared code. Client mistakes
 * (validation, bad JSON, wrong content type, body too large) are BAD_REQUEST;
 * anything else is INTERNAL and keeps its detail in the log, not in the body.
 */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.validation) {
    const fields = error.validation.map((v) => ({ path: `${error.validationContext ?? ''}${v.instancePath || ''}` || '/', message: v.message ?? 'invalid' }))
    return sendError(reply, 'BAD_REQUEST', `invalid request: ${error.message}`, { fields })
  }
  const status = error.statusCode ?? 500
  if (status >= 400 && status < 500) {
    return sendError(reply, 'BAD_REQUEST', error.message, { reason: error.code ?? 'client error' })
  }
  if (status === 503) return sendError(reply, 'UNAVAILABLE', error.message)
  // The detail (often an fs error naming a path under the data dir) stays in the log.
  request.log.error({ err: error, traceId: request.id }, 'request failed')
  return sendError(reply, 'INTERNAL', `internal error; the rig's log has the detail under trace ${request.id}`, { traceId: request.id })
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a raw NUL or a
 * control byte in the URL, oversized headers): the same JSON shape, a fresh trace id.
 */
export function clientErrorResponse(err: NodeJS.ErrnoException, traceId: string, headers: Record<string, string> = {}): string | null {
  if (err.code === 'ECONNRESET') return null
  const [status, text, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request timed out']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'request headers are too large']
        : [400, 'Bad Request', 'malformed HTTP request']
  const body = JSON.stringify(errorBody('BAD_REQUEST', message, { reason: err.code ?? 'parse error' }))
  return (
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Trace-ID: ${traceId}\r\nX-Response-Time-Ms: 0.00\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n${body}`
  )
}
