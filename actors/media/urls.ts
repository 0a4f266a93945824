/** Where the media server listens. Loopback only: nothing outside the rig talks to it directly. */
export interface MediaPorts {
  rtmpPort: number
  httpPort: number
}

export const MEDIA_HOST = '127.0.0.1'
export const DEFAULT_APP = 'live'
export const DEFAULT_STREAM = 'cam'

/** What a signed URL carries: `?sign=<expS>-<md5>` (signer.ts). */
export interface StreamSigning {
  sign(streamPath: string, ttlS?: number): string
}

/** The stream's path as node-media-server names it (and signs it): `/<app>/<stream>`. */
export function streamPath(app = DEFAULT_APP, stream = DEFAULT_STREAM): string {
  return `/${app}/${stream}`
}

/**
 * The camera publishes here; the recorder and audio meter may read it back. Unsigned, it
 * names the stream (status, logs); the media server accepts only the signed form.
 */
export function rtmpUrl(ports: Pick<MediaPorts, 'rtmpPort'>, app = DEFAULT_APP, stream = DEFAULT_STREAM): string {
  return `rtmp://${MEDIA_HOST}:${ports.rtmpPort}/${app}/${stream}`
}

/** node-media-server v4 serves every published stream as HTTP-FLV at /<app>/<stream>.flv. */
export function flvUrl(ports: Pick<MediaPorts, 'httpPort'>, app = DEFAULT_APP, stream = DEFAULT_STREAM): string {
  return `http://${MEDIA_HOST}:${ports.httpPort}/${app}/${stream}.flv`
}

/** A fresh signature per call: call it right before each spawn or request. */
export function signedRtmpUrl(ports: Pick<MediaPorts, 'rtmpPort'>, signer: StreamSigning, app = DEFAULT_APP, stream = DEFAULT_STREAM, ttlS?: number): string {
  return `${rtmpUrl(ports, app, stream)}?sign=${signer.sign(streamPath(app, stream), ttlS)}`
}

export function signedFlvUrl(ports: Pick<MediaPorts, 'httpPort'>, signer: StreamSigning, app = DEFAULT_APP, stream = DEFAULT_STREAM, ttlS?: number): string {
  return `${flvUrl(ports, app, stream)}?sign=${signer.sign(streamPath(app, stream), ttlS)}`
}

/** The probe target: any HTTP answer (a 404 included) proves the server's event loop is serving. */
export function healthUrl(ports: Pick<MediaPorts, 'httpPort'>): string {
  return `http://${MEDIA_HOST}:${ports.httpPort}/`
}
