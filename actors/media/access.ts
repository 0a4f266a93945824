import { timingSafeEqual } from 'node:crypto'
import { streamSignature } from './signer.js'

/**
 * Who may read or publish on the media server: one pure decision, asked by the media
 * server child for every HTTP-FLV request, WebSocket upgrade and RTMP play/publish
 * (DESIGN.md §9.1 "Live video only through the web origin").
 */
export type MediaAction = 'play' | 'publish'
export type MediaTransport = 'rtmp' | 'http-flv' | 'ws-flv'

export interface MediaRequest {
  action: MediaAction
  transport: MediaTransport
  /** `/<app>/<stream>` as the server resolved it. */
  streamPath: string
  /** Every `sign` value the query carried (none, one, or a repeated key). */
  signs: readonly string[]
  /** Query keys other than `sign`: none are expected from the rig's own clients. */
  otherQueryKeys: readonly string[]
  /** The `Origin` header (HTTP and WebSocket only). */
  origin?: string | undefined
}

export type MediaRefusal = 'foreign_origin' | 'publish_transport' | 'bad_path' | 'bad_query' | 'unsigned' | 'expired' | 'bad_signature'

export type MediaVerdict = { ok: true } | { ok: false; refusal: MediaRefusal; status: 403 | 404 | 400; reason: string }

const STREAM_PATH = /^\/[A-Za-z0-9_-]{1,64}\/[A-Za-z0-9_-]{1,64}$/
const SIGN = /^(\d{1,12})-([0-9a-f]{32})$/

function refuse(refusal: MediaRefusal, status: 403 | 404 | 400, reason: string): MediaVerdict {
  return { ok: false, refusal, status, reason }
}

export function mediaAccess(req: MediaRequest, secret: string, nowS: number): MediaVerdict {
  // Browsers always send Origin on cross-origin fetches and on every WebSocket; the rig's
  // own readers (ffmpeg, the web server's proxy) send none. A page never talks to us.
  if (req.origin !== undefined) return refuse('foreign_origin', 403, 'requests from a web page are refused: the page plays /live/cam.flv from the web server')
  // The camera publishes over RTMP; an HTTP POST or a WebSocket "publisher" is nobody of ours.
  if (req.action === 'publish' && req.transport !== 'rtmp') return refuse('publish_transport', 403, 'publishing is accepted over RTMP only')
  if (!STREAM_PATH.test(req.streamPath)) return refuse('bad_path', 404, 'no such stream')
  // A repeated or structured `sign` crashes or confuses node-media-server's own parser.
  if (req.otherQueryKeys.length > 0 || req.signs.length > 1) return refuse('bad_query', 400, 'unexpected query parameters')
  const sign = req.signs[0]
  if (sign === undefined || sign === '') return refuse('unsigned', 403, `${req.action} needs a signature`)
  const m = SIGN.exec(sign)
  if (!m) return refuse('bad_signature', 403, 'malformed signature')
  const expiresAtS = Number(m[1])
  if (expiresAtS < nowS) return refuse('expired', 403, 'signature expired')
  const expected = Buffer.from(streamSignature(req.streamPath, expiresAtS, secret))
  const given = Buffer.from(sign)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return refuse('bad_signature', 403, 'bad signature')
  return { ok: true }
}

/** The `sign` values and other keys of a raw query string (`a=1&sign=x`), as `mediaAccess` wants them. */
export function signsOfQuery(search: string): { signs: string[]; otherQueryKeys: string[] } {
  const params = new URLSearchParams(search)
  const signs: string[] = []
  const otherQueryKeys: string[] = []
  for (const [key, value] of params) {
    if (key === 'sign') signs.push(value)
    else otherQueryKeys.push(key)
  }
  return { signs, otherQueryKeys }
}
