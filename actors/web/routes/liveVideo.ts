import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { FastifyPluginAsync } from 'fastify'
import { sendError } from '../httpErrors.js'

/**
 * `GET /live/cam.flv` (DESIGN.md §9.1): the page's live video, from the web origin, under
 * its Host, auth and Origin rules (the security plugin, from `config.role`). The media
 * server's own port takes only signed requests with no Origin; this route is how a
 * browser gets the stream. It proxies node-media-server's HTTP-FLV as a stream: nothing
 * is buffered beyond what the sockets hold, and the upstream read ends with the client
 * (Fastify destroys the piped stream when the response closes) or with the media server.
 */
export interface LiveVideoDeps {
  /** A freshly signed HTTP-FLV URL of the camera's stream, asked per request. Never shown. */
  sourceUrl: () => string
  /** How long to wait for the media server's answer (its headers) before a 503. */
  connectTimeoutMs?: number
}

export const LIVE_VIDEO_PATH = '/live/cam.flv'

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

export function liveVideoPlugin(deps: LiveVideoDeps): FastifyPluginAsync {
  const timeoutMs = deps.connectTimeoutMs ?? 5000
  return async (app) => {
    app.get(LIVE_VIDEO_PATH, { config: { role: 'viewer' }, schema: {} }, async (request, reply) => {
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
      return reply
        .header('Content-Type', 'video/x-flv')
        .header('Cache-Control', 'no-store')
        .send(upstream)
    })
  }
}
