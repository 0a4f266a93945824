import { randomUUID } from 'node:crypto'
import { headers, Match, type MsgHdrs } from '@nats-io/transport-node'
import { TRACE_HEADER } from '../subjects.js'

/**
 * The one place JSON meets the wire. Decoding never throws: a peer that sends
 * garbage gets a BAD_REQUEST reply, it does not get to kill a subscription.
 */
export type Decoded<T = unknown> = { ok: true; value: T } | { ok: false; message: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value) ?? 'null')
}

export function decodeJson(data: Uint8Array | string): Decoded {
  let text: string
  try {
    text = typeof data === 'string' ? data : decoder.decode(data)
  } catch {
    return { ok: false, message: 'payload is not valid UTF-8' }
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (err) {
    return { ok: false, message: `payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}` }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** 32 hex chars, no dashes: short enough for log lines, unique enough to grep. */
export function newTraceId(): string {
  return randomUUID().replaceAll('-', '')
}

// A trace id travels into log lines and headers: keep it printable and bounded so a
// hostile header cannot inject newlines or megabytes into every log line it touches.
const TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value)
}

/** The caller's trace id when it sent a usable one, else a fresh one. */
export function traceIdOf(msg: { headers?: MsgHdrs | undefined } | undefined): string {
  const given = traceIdFromHeaders(msg?.headers)
  return given ?? newTraceId()
}

export function traceIdFromHeaders(hdrs: MsgHdrs | undefined): string | undefined {
  if (!hdrs) return undefined
  // Header names are case-insensitive on the wire (HTTP semantics); clients differ in how they spell them.
  const value = hdrs.get(TRACE_HEADER, Match.IgnoreCase).trim()
  return isTraceId(value) ? value : undefined
}

export function headersWithTrace(traceId: string = newTraceId()): MsgHdrs {
  const h = headers()
  h.set(TRACE_HEADER, traceId)
  return h
}
