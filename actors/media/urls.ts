/** Where the media server listens. Loopback only: nothing outside the rig talks to it directly. */
export interface MediaPorts {
  rtmpPort: number
  httpPort: number
}

export const MEDIA_HOST = '127.0.0.1'
export const DEFAULT_APP = 'live'
export const DEFAULT_STREAM = 'cam'

/** The camera publishes here; the recorder and audio meter may read it back. */
export function rtmpUrl(ports: Pick<MediaPorts, 'rtmpPort'>, app = DEFAULT_APP, stream = DEFAULT_STREAM): string {
  return `rtmp://${MEDIA_HOST}:${ports.rtmpPort}/${app}/${stream}`
}

/** node-media-server v4 serves every published stream as HTTP-FLV at /<app>/<stream>.flv. */
export function flvUrl(ports: Pick<MediaPorts, 'httpPort'>, app = DEFAULT_APP, stream = DEFAULT_STREAM): string {
  return `http://${MEDIA_HOST}:${ports.httpPort}/${app}/${stream}.flv`
}

/** The probe target: any HTTP answer (a 404 included) proves the server's event loop is serving. */
export function healthUrl(ports: Pick<MediaPorts, 'httpPort'>): string {
  return `http://${MEDIA_HOST}:${ports.httpPort}/`
}
