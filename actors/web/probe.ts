import { request } from 'node:http'

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
export function probeWebHealth(target: { host: string; port: number }, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  return new Promise((resolve, reject) => {
    // agent: false: no pooled keep-alive socket outlives the probe.
    const req = request(
      { host: probeHost(target.host), port: target.port, path: '/health', method: 'GET', agent: false, timeout: opts.timeoutMs, signal: opts.signal, headers: { 'X-Trace-ID': 'web-health-probe' } },
      (res) => {
        res.on('error', () => {})
        res.resume()
        if (res.statusCode === 200) resolve()
        else reject(new Error(`GET /health answered ${res.statusCode}`))
      },
    )
    req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}
