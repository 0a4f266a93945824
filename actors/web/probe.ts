import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** Where the probe knocks: a wildcard bind is reached on loopback. */
export function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '::1'
  return host
}

/**
 * One health probe: GET /health on the server's own port. Only a 200 counts: a
 * refused connection (closed under us), a 503 (closing) or silence until
 * `timeoutMs` (a wedged event loop) is a miss.
 */
export function probeWebHealth(target: { host: string; port: number }, opts: { timeoutMs: number; signal?: AbortSignal; tls?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const host = probeHost(target.host)
    // agent: false: no pooled keep-alive socket outlives the probe. The Host names loopback
    // (always on the allow-list) even when the probe knocks on the bind address.
    const options = { host, port: target.port, path: '/health', method: 'GET', agent: false, timeout: opts.timeoutMs, signal: opts.signal, headers: { 'X-Trace-ID': 'web-health-probe', Host: `127.0.0.1:${target.port}` } }
    const onResponse = (res: IncomingMessage) => {
      res.on('error', () => {})
      res.resume()
      if (res.statusCode === 200) resolve()
      else reject(new Error(`GET /health answered ${res.statusCode}`))
    }
    // Under TLS the probe asks its own process whether it is alive: whose certificate
    // answers is not the question (and a self-signed one would fail it).
    const req = opts.tls === true ? httpsRequest({ ...options, rejectUnauthorized: false }, onResponse) : httpRequest(options, onResponse)
    req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}
