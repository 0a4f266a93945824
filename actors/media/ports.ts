import { freePort } from '../../infra/ports.js'
import { MEDIA_HOST, type MediaPorts } from './urls.js'

/** A port free on loopback right now (the OS picks it; someone else could take it before use). */
export const pickFreePort = (host = MEDIA_HOST): Promise<number> => freePort(host)

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
