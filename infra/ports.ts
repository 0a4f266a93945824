import { createServer } from 'node:net'

/** Asks the kernel for a free TCP port on `host` (port 0), then releases it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/**
 * A port given as 0 means "pick a free one" (DESIGN.md §7). It is chosen once at
 * start, so a restarted child comes back on the same port and clients reconnect.
 */
export async function resolvePort(port: number, host = '127.0.0.1'): Promise<number> {
  return port === 0 ? freePort(host) : port
}

/** Whether something already listens on host:port (a clear error beats a crash loop). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, host, () => server.close(() => resolve(true)))
  })
}
