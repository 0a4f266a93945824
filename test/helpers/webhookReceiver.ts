import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedPost {
  path: string
  headers: IncomingHttpHeaders
  /** The raw body, as the signature covers it. */
  raw: Buffer
  at: number
}

/**
 * A real HTTP webhook receiver on 127.0.0.1 (port 0 the first time): keeps every POST,
 * answers 204. `down()` closes it (connections refused), `up()` listens again on the same port.
 */
export async function startWebhookReceiver(opts: { status?: number } = {}) {
  const posts: ReceivedPost[] = []
  const listeners = new Set<(p: ReceivedPost) => void>()
  let port = 0
  let server: Server | undefined
  const listen = async () => {
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const post = { path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks), at: performance.now() }
        posts.push(post)
        for (const l of listeners) l(post)
        res.writeHead(opts.status ?? 204).end()
      })
    })
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', () => resolve()))
    port = (srv.address() as AddressInfo).port
    server = srv
  }
  await listen()
  return {
    posts,
    get port() {
      return port
    },
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    onPost(fn: (p: ReceivedPost) => void) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    async down() {
      const srv = server
      server = undefined
      if (!srv) return
      srv.closeAllConnections()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    },
    up: listen,
    json(p: ReceivedPost): Record<string, unknown> {
      return JSON.parse(p.raw.toString('utf8')) as Record<string, unknown>
    },
  }
}
