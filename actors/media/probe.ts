import { request } from 'node:http'
import { healthUrl, type MediaPorts } from './urls.js'

/**
 * One health probe: an HTTP GET on the media server's HTTP-FLV port. Any answer (its
 * 404 for `/` included) proves the server process accepts and serves; a refused
 * connection, a reset or silence until `timeoutMs` (a wedged event loop) is a miss.
 * HTTP rather than an RTMP connect: an RTMP probe would open and log a session each time.
 */
export function probeMediaHttp(
  ports: Pick<MediaPorts, 'httpPort'>,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  return new Promise((resolve, reject) => {
    // agent: false: no pooled keep-alive socket outlives the probe.
    const req = request(healthUrl(ports), { method: 'GET', agent: false, timeout: opts.timeoutMs, signal: opts.signal }, (res) => {
      // agent: false sends `Connection: close`: draining the small body ends the socket.
      res.on('error', () => {})
      res.resume()
      resolve()
    })
    req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}
