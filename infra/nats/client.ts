import type { NatsConnection } from '@nats-io/transport-node'
import { isErrorCode } from '../errors.js'
import { subjects } from '../subjects.js'
import { decodeJson, encodeJson, headersWithTrace, isPlainObject, newTraceId, traceIdFromHeaders } from './codec.js'
import { errorReply, type CommandReply } from './envelope.js'

export interface RequestOptions {
  timeoutMs?: number
  traceId?: string
}

/** `details.reason` of the UNAVAILABLE a client gets when the server's permissions refuse the request. */
export const PERMISSION_DENIED = 'permission denied'

/** The reply plus the trace id it travelled under (the one sent, or the one the server echoed). */
export type RequestResult<T = unknown> = CommandReply<T> & { traceId: string }

/**
 * A request whose failures are replies, not exceptions: the CLI prints them and
 * tests assert on them the same way as an error the router sent.
 * `payload` is JSON-encoded unless it is already bytes or a string.
 */
export async function request<T = unknown>(
  nc: NatsConnection,
  subject: string,
  payload: unknown = undefined,
  opts: RequestOptions = {},
): Promise<RequestResult<T>> {
  const traceId = opts.traceId ?? newTraceId()
  const data = payload === undefined ? new Uint8Array(0) : payload instanceof Uint8Array || typeof payload === 'string' ? payload : encodeJson(payload)
  const timeout = opts.timeoutMs ?? 5000
  let msg
  try {
    msg = await nc.request(subject, data, { timeout, headers: headersWithTrace(traceId) })
  } catch (err) {
    return { ...failureReply(err, subject, timeout), traceId }
  }
  const echoed = traceIdFromHeaders(msg.headers) ?? traceId
  const decoded = decodeJson(msg.data)
  if (!decoded.ok) return { ...errorReply('INTERNAL', `malformed reply from ${subject}: ${decoded.message}`), traceId: echoed }
  if (!isReply(decoded.value)) return { ...errorReply('INTERNAL', `reply from ${subject} is not a vigil reply`), traceId: echoed }
  return { ...(decoded.value as CommandReply<T>), traceId: echoed }
}

export interface CommandOptions extends RequestOptions {
  idempotencyKey?: string
  /** Epoch ms on the rig's clock past which the command must not begin (DESIGN.md §9.5). */
  deadline?: number
}

/** `vigil.<node>.cmd.<actor>.<verb>` with `{ args, idempotencyKey?, deadline? }`. */
export function command<T = unknown>(
  nc: NatsConnection,
  node: string,
  actor: string,
  verb: string,
  args: Record<string, unknown> = {},
  opts: CommandOptions = {},
): Promise<RequestResult<T>> {
  const envelope = {
    args,
    ...(opts.idempotencyKey === undefined ? {} : { idempotencyKey: opts.idempotencyKey }),
    ...(opts.deadline === undefined ? {} : { deadline: opts.deadline }),
  }
  return request<T>(nc, subjects.command(node, actor, verb), envelope, opts)
}

function failureReply(err: unknown, subject: string, timeoutMs: number): CommandReply<never> {
  const e = err as { name?: string; message?: string; isNoResponders?: () => boolean; cause?: unknown }
  const cause = e.cause as { name?: string } | undefined
  if (e.name === 'TimeoutError' || cause?.name === 'TimeoutError') {
    return errorReply('TIMEOUT', `no reply on ${subject} within ${timeoutMs} ms`)
  }
  if ((typeof e.isNoResponders === 'function' && e.isNoResponders()) || e.name === 'NoResponders' || cause?.name === 'NoResponders') {
    return errorReply('UNAVAILABLE', `nobody serves ${subject} (is vigil running on that node?)`)
  }
  if (/permissions violation/i.test(`${e.message ?? ''} ${(e.cause as { message?: string } | undefined)?.message ?? ''}`)) {
    // Marked: asking again will not change the server's permissions (vigil cmd does not retry it).
    return errorReply('UNAVAILABLE', `this NATS identity may not send to ${subject} (server permissions)`, { reason: PERMISSION_DENIED })
  }
  return errorReply('UNAVAILABLE', `request on ${subject} failed: ${e.message ?? String(err)}`)
}

function isReply(value: unknown): value is CommandReply {
  if (!isPlainObject(value)) return false
  if (value['ok'] === true) return 'result' in value
  if (value['ok'] !== false || !isPlainObject(value['error'])) return false
  return isErrorCode(value['error']['code']) && typeof value['error']['message'] === 'string'
}
