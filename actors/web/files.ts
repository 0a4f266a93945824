import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FileHandle } from 'node:fs/promises'
import { sendError } from './httpErrors.js'

export type ByteRange = { start: number; end: number }

/**
 * One `bytes=` range (the only kind a <video> element or `curl -r` sends).
 * `null`: no usable Range header, serve the whole file (multi-range included,
 * which RFC 9110 allows). `'unsatisfiable'`: answer 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (header === undefined) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m) return null
  const [, from, to] = m as unknown as [string, string, string]
  if (from === '' && to === '') return null
  if (from === '') {
    const suffix = Number(to)
    if (suffix === 0) return 'unsatisfiable'
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(from)
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'unsatisfiable'
  return { start, end }
}

export const contentTypeOf = (name: string): string =>
  name.endsWith('.mp4') ? 'video/mp4' : name.endsWith('.jpg') ? 'image/jpeg' : name.endsWith('.json') ? 'application/json; charset=utf-8' : 'application/octet-stream'

/** Streams an opened file (the handle is closed by the stream, also on an aborted download). */
export function sendFileHandle(
  request: FastifyRequest,
  reply: FastifyReply,
  file: { handle: FileHandle; size: number; mtime: Date; name: string },
): FastifyReply {
  const { handle, size, name } = file
  const range = parseRange(request.headers.range, size)
  if (range === 'unsatisfiable') {
    void handle.close().catch(() => {})
    reply.header('Content-Range', `bytes */${size}`)
    return sendError(reply, 'BAD_REQUEST', `range not satisfiable for a file of ${size} bytes`, { size }, 416)
  }
  reply.header('Content-Type', contentTypeOf(name))
  reply.header('Accept-Ranges', 'bytes')
  reply.header('Last-Modified', file.mtime.toUTCString())
  reply.header('X-Content-Type-Options', 'nosniff')
  // session.json and the last segment grow while recording: never serve a cached copy.
  reply.header('Cache-Control', 'no-cache')
  if (request.method === 'HEAD') {
    void handle.close().catch(() => {})
    reply.header('Content-Length', String(range ? range.end - range.start + 1 : size))
    if (range) reply.header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
    // An empty stream: Fastify's HEAD handling keeps our Content-Length for a stream
    // (any other payload would reset it to the payload's length).
    return reply.code(range ? 206 : 200).send(Readable.from([]))
  }
  if (size === 0) {
    void handle.close().catch(() => {})
    reply.header('Content-Length', '0')
    return reply.code(200).send('')
  }
  const { start, end } = range ?? { start: 0, end: size - 1 }
  reply.header('Content-Length', String(end - start + 1))
  if (range) reply.code(206).header('Content-Range', `bytes ${start}-${end}/${size}`)
  return reply.send(handle.createReadStream({ start, end }))
}
