import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import type { ErrorBody, ErrorCode } from '../errors.js'
import { decodeJson, isPlainObject } from './codec.js'
import { MAX_ARGS_DEPTH, jsonShapeProblem } from '../jsonShape.js'

/**
 * The command envelope of DESIGN.md §4, parsed without throwing: every way a
 * request can be wrong becomes a BAD_REQUEST body that says what was wrong.
 */
export interface CommandEnvelope {
  args: Record<string, unknown>
  idempotencyKey?: string
  /**
   * Epoch ms on the rig's clock (DESIGN.md §9.5): a command not begun by then is answered
   * TIMEOUT and never run; one already begun runs to its end.
   */
  deadline?: number
}

export type CommandReply<T = unknown> = { ok: true; result: T } | { ok: false; error: ErrorBody }

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ErrorBody }

/** Commands are small; anything larger is a mistake or an attack, refused before parsing. */
export const MAX_COMMAND_BYTES = 64 * 1024
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128

const ENVELOPE_KEYS = new Set(['args', 'idempotencyKey', 'deadline'])

export const badRequest = (message: string, details?: Record<string, unknown>): { ok: false; error: ErrorBody } => ({
  ok: false,
  error: details === undefined ? { code: 'BAD_REQUEST', message } : { code: 'BAD_REQUEST', message, details },
})

export function errorReply(code: ErrorCode, message: string, details?: Record<string, unknown>): CommandReply<never> {
  return { ok: false, error: details === undefined ? { code, message } : { code, message, details } }
}

/**
 * Raw bytes (NATS) or text are size-checked and JSON-decoded; an already parsed
 * value (HTTP body) is checked as it is. An empty payload means "no arguments".
 */
export function parseEnvelope(payload: Uint8Array | string | unknown, maxBytes = MAX_COMMAND_BYTES): Parsed<CommandEnvelope> {
  let value: unknown = payload
  if (payload instanceof Uint8Array || typeof payload === 'string') {
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength
    if (size > maxBytes) return badRequest(`request is ${size} bytes; the limit is ${maxBytes}`, { bytes: size, limit: maxBytes })
    if (size === 0) return { ok: true, value: { args: {} } }
    const decoded = decodeJson(payload)
    if (!decoded.ok) return badRequest(decoded.message)
    value = decoded.value
  } else if (payload === undefined || payload === null) {
    return { ok: true, value: { args: {} } }
  }
  if (!isPlainObject(value)) return badRequest('request must be a JSON object: { "args": {…}, "idempotencyKey"?: string, "deadline"?: epoch ms }')
  // Before anything else walks it: prototype keys and deep nesting (infra/jsonShape.ts).
  // The envelope is level 0, so its args may nest MAX_ARGS_DEPTH levels.
  const shape = jsonShapeProblem(value, MAX_ARGS_DEPTH)
  if (shape?.reason === 'too deep') return badRequest(`args ${shape.message}`, { reason: shape.reason, path: shape.path, limit: MAX_ARGS_DEPTH })
  if (shape) return badRequest(shape.message, { reason: shape.reason, path: shape.path })
  const unknown = Object.keys(value).filter((k) => !ENVELOPE_KEYS.has(k))
  if (unknown.length > 0) {
    return badRequest(`unknown request field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (allowed: args, idempotencyKey, deadline)`, {
      fields: unknown.map((k) => ({ path: `/${k}`, message: 'Unexpected property' })),
    })
  }
  const args = value['args'] ?? {}
  if (!isPlainObject(args)) return badRequest('"args" must be a JSON object', { fields: [{ path: '/args', message: 'Expected object' }] })
  const envelope: CommandEnvelope = { args }
  const key = value['idempotencyKey']
  if (key !== undefined) {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      return badRequest(`"idempotencyKey" must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, {
        fields: [{ path: '/idempotencyKey', message: 'Expected string' }],
      })
    }
    envelope.idempotencyKey = key
  }
  const deadline = value['deadline']
  if (deadline !== undefined) {
    if (typeof deadline !== 'number' || !Number.isSafeInteger(deadline) || deadline <= 0) {
      return badRequest('"deadline" must be a time in epoch milliseconds (a positive integer)', {
        fields: [{ path: '/deadline', message: 'Expected integer' }],
      })
    }
    envelope.deadline = deadline
  }
  return { ok: true, value: envelope }
}

/** A compiled argument schema: defaults filled in, every bad field reported with its path. */
export interface ArgsValidator {
  validate(args: Record<string, unknown>): Parsed<unknown>
}

export function compileArgs(schema: TSchema): ArgsValidator {
  const check: TypeCheck<TSchema> = TypeCompiler.Compile(schema)
  return {
    validate(args) {
      // Defaults go on a copy: the caller's object (an HTTP body) stays as it was sent.
      const value = Value.Default(schema, Value.Clone(args))
      if (check.Check(value)) return { ok: true, value }
      const fields = [...check.Errors(value)].slice(0, 20).map((e) => ({ path: e.path || '/', message: e.message }))
      const summary = fields.map((f) => `${f.path}: ${f.message}`).join('; ')
      return badRequest(`invalid args: ${summary}`, { fields })
    },
  }
}
