import { createServer } from 'node:net'
import { MEDIA_HOST, type MediaPorts } from './urls.js'

/** A port free on loopback right now (the OS picks it; someone else could take it before use). */
export function pickFreePort(host = MEDIA_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not pick a free port'))))
    })
  })
}

/**
 * Config port 0 means "pick a free one" (DESIGN §7). node-media-server skips a listener
 * whose port is 0, so the choice is made here, once, before the first start: restarts
 * reuse the same ports and the camera's push URL stays valid.
 */
export async function resolveMediaPorts(ports: MediaPorts): Promise<MediaPorts> {
  const rtmpPort = ports.rtmpPort === 0 ? await pickFreePort() : ports.rtmpPort
  let httpPort = ports.httpPort === 0 ? await pickFreePort() : ports.httpPort
  while (httpPort === rtmpPort) httpPort = await pickFreePort()
  return { rtmpPort, httpPort }
}
