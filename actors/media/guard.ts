import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { mediaAccess, signsOfQuery, type MediaAction, type MediaTransport, type MediaVerdict } from './access.js'

/**
 * Puts access.ts in front of node-media-server inside its child process: every HTTP-FLV
 * request and WebSocket upgrade is decided before its express app or its ws server sees it,
 * and every RTMP play/publish before its own signature check runs.
 */
export interface GuardOptions {
  secret: string
  nowS: () => number
  /** One line per refusal: action, transport, stream path and why; never the query. */
  onRefused: (what: string) => void
}

/** What node-media-server hands its `prePlay` / `prePublish` listeners. */
export interface NmsSession {
  protocol: string
  streamPath: string
  streamQuery: Record<string, unknown> | undefined
  /** Set by the server only once a publish was accepted. */
  isPublisher?: boolean
  /** RTMP sessions: the protocol parser, which hands every media packet to the session. */
  rtmp?: { onPacketCallback?: ((packet: unknown) => void) & { vigilGated?: true } }
}

const FLV_PATH = /^\/([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})\.flv$/
const BODY_CODE = { 400: 'BAD_REQUEST', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED' } as const

type HttpVerdict = MediaVerdict | { ok: false; refusal: 'method'; status: 405; reason: string }

function decide(req: IncomingMessage, transport: MediaTransport, action: MediaAction | null, opts: GuardOptions): { verdict: HttpVerdict; streamPath: string } {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const m = FLV_PATH.exec(q < 0 ? url : url.slice(0, q))
  const streamPath = m ? `/${m[1]}/${m[2]}` : ''
  const origin = req.headers.origin
  // A stray method is still a page's request first: the Origin refusal is the one it gets.
  if (action === null) {
    if (origin !== undefined) return { verdict: { ok: false, refusal: 'foreign_origin', status: 403, reason: 'requests from a web page are refused' }, streamPath }
    return { verdict: { ok: false, refusal: 'method', status: 405, reason: 'only GET plays' }, streamPath }
  }
  const verdict = mediaAccess({ action, transport, streamPath, ...signsOfQuery(q < 0 ? '' : url.slice(q + 1)), origin }, opts.secret, opts.nowS())
  return { verdict, streamPath }
}

function describe(transport: MediaTransport, action: MediaAction | null, streamPath: string, verdict: HttpVerdict): string {
  return `${transport} ${action ?? 'request'} ${streamPath || '(no stream path)'}: ${verdict.ok ? 'ok' : verdict.refusal}`
}

function refusalBody(verdict: Exclude<HttpVerdict, { ok: true }>): string {
  return JSON.stringify({ code: BODY_CODE[verdict.status], message: verdict.reason })
}

/** node-media-server's express app adds `Access-Control-Allow-Origin: *` (cors()); no page may read us. */
function withoutCors(res: ServerResponse): void {
  const setHeader = res.setHeader.bind(res)
  res.setHeader = ((name: string, value: number | string | readonly string[]) =>
    /^access-control-/i.test(name) ? res : setHeader(name, value)) as ServerResponse['setHeader']
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void

/**
 * Takes over the HTTP server's `request` and `upgrade` listeners (express's app, ws's
 * handler) and calls them only for requests access.ts allows. Must run after
 * node-media-server's constructor made the server and before it listens.
 */
export function guardMediaHttp(server: Server, opts: GuardOptions): void {
  const onRequest = server.listeners('request') as RequestListener[]
  const onUpgrade = server.listeners('upgrade') as UpgradeListener[]
  server.removeAllListeners('request')
  server.removeAllListeners('upgrade')
  for (const app of onRequest) (app as unknown as { disable?(setting: string): void }).disable?.('x-powered-by')

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET'
    const action: MediaAction | null = method === 'GET' || method === 'HEAD' ? 'play' : method === 'POST' ? 'publish' : null
    const { verdict, streamPath } = decide(req, 'http-flv', action, opts)
    if (!verdict.ok) {
      opts.onRefused(describe('http-flv', action, streamPath, verdict))
      const body = refusalBody(verdict)
      res.writeHead(verdict.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', Connection: 'close' })
      res.end(body)
      return
    }
    withoutCors(res)
    for (const listener of onRequest) listener.call(server, req, res)
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').toLowerCase().split(',').map((p) => p.trim())
    const action: MediaAction = protocols.includes('post') || protocols.includes('publisher') ? 'publish' : 'play'
    const { verdict, streamPath } = decide(req, 'ws-flv', action, opts)
    if (!verdict.ok) {
      opts.onRefused(describe('ws-flv', action, streamPath, verdict))
      const body = refusalBody(verdict)
      socket.end(`HTTP/1.1 ${verdict.status} Refused\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      return
    }
    for (const listener of onUpgrade) listener.call(server, req, socket, head)
  })
}

/**
 * node-media-server ends a refused publisher's socket but goes on parsing what already
 * arrived with the publish command (ffmpeg sends its metadata and first frames in the same
 * burst) and broadcasts those packets on the path: a stranger's picture would reach every
 * viewer for a moment although the publish was refused. Only a session the server accepted
 * as publisher (`isPublisher`, set right after the check) gets its packets through.
 */
function gatePackets(session: NmsSession): void {
  const rtmp = session.rtmp
  const deliver = rtmp?.onPacketCallback
  if (!rtmp || !deliver || deliver.vigilGated) return
  const gated = Object.assign((packet: unknown) => {
    if (session.isPublisher === true) deliver(packet)
  }, { vigilGated: true as const })
  rtmp.onPacketCallback = gated
}

function signsOfSession(query: Record<string, unknown> | undefined): { signs: string[]; otherQueryKeys: string[] } {
  const signs: string[] = []
  const otherQueryKeys: string[] = []
  for (const [key, value] of Object.entries(query ?? {})) {
    if (key !== 'sign') otherQueryKeys.push(key)
    else if (typeof value === 'string') signs.push(value)
    else if (Array.isArray(value)) signs.push(...value.map(String))
    // qs turns `sign[a]=b` into an object: no signature of ours looks like that.
    else signs.push('', '')
  }
  return { signs, otherQueryKeys }
}

/**
 * node-media-server's `prePlay` / `prePublish` listener: runs synchronously right before its
 * own signature check (broadcast_server.js postPlay/postPublish). A session access.ts refuses
 * loses its query, so that check fails and the server ends the session itself; a malformed
 * query (a repeated `sign`, which its parser would throw on) never reaches it either.
 */
export function guardRtmpSession(session: NmsSession, action: MediaAction, opts: GuardOptions): void {
  if (action === 'publish') gatePackets(session)
  const transport: MediaTransport = session.protocol === 'rtmp' ? 'rtmp' : 'http-flv'
  const verdict = mediaAccess({ action, transport, streamPath: session.streamPath, ...signsOfSession(session.streamQuery) }, opts.secret, opts.nowS())
  if (verdict.ok) return
  session.streamQuery = {}
  opts.onRefused(describe(transport, action, /^\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+$/.test(session.streamPath) ? session.streamPath : '', verdict))
}
