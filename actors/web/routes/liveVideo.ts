import { request as httpRequest, type IncomingMessage } from 'node:http'
import { PassThrough } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import type { PreviewStatus, PreviewView } from '../../../infra/preview.js'
import { sendError } from '../httpErrors.js'

/**
 * `GET /live/cam.flv` (DESIGN.md §9.1): the page's live video, from the web origin, under
 * its Host, auth and Origin rules (the security plugin, from `config.role`). The media
 * server's own port takes only signed requests with no Origin; this route is how a
 * browser gets the stream. It proxies node-media-server's HTTP-FLV as a stream: nothing
 * is buffered beyond what the sockets hold, and the upstream read ends with the client
 * (Fastify destroys the piped stream when the response closes) or with the media server.
 *
 * `GET /live/still.jpg`: the camera's newest 1 fps JPEG, what the page shows at preview
 * level `low`.
 *
 * Both follow the governor's preview level (DESIGN.md §9.3, infra/preview.ts):
 * - `full`: the video and the still are served.
 * - `low`: the video is refused (503) and every open video stream is ended; the still is
 *   served. Refusing at `low` and not only at `off` is where the CPU comes back: each
 *   viewer of the FLV costs the web and media processes a stream copy, a still per second
 *   costs one small JPEG the camera makes anyway.
 * - `off`: both refused (503), open video streams ended.
 * The recording shares none of this: its ffmpeg reads the media server directly.
 */
export interface LiveVideoDeps {
  /** A freshly signed HTTP-FLV URL of the camera's stream, asked per request. Never shown. */
  sourceUrl: () => string
  /** The rig's preview level: who gets the video, a still, or neither. */
  preview: PreviewView
  /** The camera's newest JPEG and its age, or null before the first (or with snapshots off). */
  still: () => { jpeg: Buffer; ageMs: number } | null
  /** A still older than this is a camera that stopped delivering: 503, not a stale picture. */
  stillMaxAgeMs?: number
  /** How long to wait for the media server's answer (its headers) before a 503. */
  connectTimeoutMs?: number
}

export const LIVE_VIDEO_PATH = '/live/cam.flv'
export const LIVE_STILL_PATH = '/live/still.jpg'
/** The camera writes a JPEG every second: five missed in a row is a camera in trouble. */
export const STILL_MAX_AGE_MS = 5000

/**
 * Why `what` is refused at this preview level, in the words the page and a script show, or
 * null when it is served. The reason is the governor's ("resource level CRITICAL (cpu 91 %)").
 */
export function previewRefusal(what: 'video' | 'still', status: PreviewStatus): string | null {
  if (status.level === 'full') return null
  if (status.level === 'low' && what === 'still') return null
  const why = `the rig is at ${status.reason}; this does not affect the recording`
  if (status.level === 'off') return `live video is off: ${why}`
  return `live video is reduced to one still per second (${LIVE_STILL_PATH}): ${why}`
}

function openUpstream(url: string, timeoutMs: number, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // agent: false: one socket per viewer, closed with it; no pool keeps a live stream.
    const req = httpRequest(url, { method: 'GET', agent: false, signal }, (res) => {
      req.setTimeout(0)
      resolve(res)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}

interface OpenStream {
  /** What the response sends: the upstream piped through it, so the server can end it cleanly. */
  body: PassThrough
  end(): void
}

/**
 * The upstream through a PassThrough the response owns: a viewer who leaves destroys it
 * and the upstream with it; the media server ending (or failing) ends it. `end()` finishes
 * the response with a proper end of the chunked body: a player reading it sees the
 * stream end (mpegts.js: LOADING_COMPLETE), where a destroyed socket is an early EOF it
 * rejects a promise with, uncaught, in the page.
 */
function relay(upstream: IncomingMessage): OpenStream {
  const body = new PassThrough()
  upstream.pipe(body)
  const end = () => {
    upstream.unpipe(body)
    upstream.destroy()
    if (!body.writableEnded) body.end()
  }
  upstream.once('error', end)
  upstream.once('close', end)
  body.once('close', () => upstream.destroy())
  return { body, end }
}

export function liveVideoPlugin(deps: LiveVideoDeps): FastifyPluginAsync {
  const timeoutMs = deps.connectTimeoutMs ?? 5000
  const stillMaxAgeMs = deps.stillMaxAgeMs ?? STILL_MAX_AGE_MS
  return async (app) => {
    // This server's open video streams: ended when the level drops, so their CPU comes back
    // at once and not when each viewer happens to leave.
    const open = new Set<OpenStream>()
    const endAll = () => {
      for (const stream of open) stream.end()
      open.clear()
    }
    const unsubscribe = deps.preview.subscribe((status) => {
      if (previewRefusal('video', status) === null || open.size === 0) return
      app.log.info({ preview: status.level, reason: status.reason, streams: open.size }, 'live video: ending the open streams')
      endAll()
    })
    // The level outlives this server; its subscription must not.
    app.addHook('onClose', async () => {
      unsubscribe()
      endAll()
    })

    const refuse = (reply: Parameters<typeof sendError>[0], message: string, status: PreviewStatus) =>
      sendError(reply, 'UNAVAILABLE', message, { preview: status.level, reason: status.reason, since: status.since })

    app.get(LIVE_VIDEO_PATH, { config: { role: 'viewer' }, schema: {} }, async (request, reply) => {
      const before = deps.preview.status()
      const refusedBefore = previewRefusal('video', before)
      if (refusedBefore !== null) return refuse(reply, refusedBefore, before)
      // A viewer who leaves before the media server answers must not leave a request behind.
      const gone = new AbortController()
      const onClose = () => gone.abort()
      // The response's 'close', not the request's: a GET's request closes once read.
      reply.raw.once('close', onClose)
      let upstream: IncomingMessage
      try {
        upstream = await openUpstream(deps.sourceUrl(), timeoutMs, gone.signal)
      } catch (err) {
        // The message names neither the URL nor its signature.
        request.log.warn({ err: (err as Error).message }, 'live video: media server unreachable')
        return sendError(reply, 'UNAVAILABLE', 'live video unavailable: the media server does not answer')
      } finally {
        reply.raw.off('close', onClose)
      }
      if (upstream.statusCode !== 200) {
        upstream.resume()
        request.log.warn({ status: upstream.statusCode }, 'live video: media server refused the stream')
        return sendError(reply, 'UNAVAILABLE', `live video unavailable: the media server answered ${upstream.statusCode}`)
      }
      // The level may have dropped while the media server answered.
      const now = deps.preview.status()
      const refusedNow = previewRefusal('video', now)
      if (refusedNow !== null) {
        upstream.destroy()
        return refuse(reply, refusedNow, now)
      }
      const stream = relay(upstream)
      open.add(stream)
      reply.raw.once('close', () => open.delete(stream))
      return reply
        .header('Content-Type', 'video/x-flv')
        .header('Cache-Control', 'no-store')
        .send(stream.body)
    })

    app.get(
      LIVE_STILL_PATH,
      {
        config: { role: 'viewer' },
        // `n`: the page's counter, so the browser fetches a new picture each second.
        schema: { querystring: { type: 'object', properties: { n: { type: 'string', maxLength: 32 } }, additionalProperties: false } },
      },
      async (_request, reply) => {
        const status = deps.preview.status()
        const refused = previewRefusal('still', status)
        if (refused !== null) return refuse(reply, refused, status)
        const still = deps.still()
        if (still === null) return sendError(reply, 'UNAVAILABLE', 'no still from the camera yet')
        if (still.ageMs > stillMaxAgeMs) {
          // An old picture shown as live would tell a parent all is calm when nothing is known.
          return sendError(reply, 'UNAVAILABLE', `the camera's newest still is ${(still.ageMs / 1000).toFixed(0)} s old: the camera is not delivering pictures`, {
            ageMs: Math.round(still.ageMs),
          })
        }
        return reply.header('Content-Type', 'image/jpeg').header('Cache-Control', 'no-store').send(still.jpeg)
      },
    )
  }
}
