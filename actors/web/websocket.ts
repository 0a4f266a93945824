import type { FastifyBaseLogger } from 'fastify'
import type { Feed, FeedItem } from '../../infra/feed.js'
import { redact } from './redact.js'
import type { RigState } from './state.js'

/**
 * One WebSocket client (GET /api/v1/ws): `sync_response` with the full state on
 * connect and on every `sync_request`, then the feed as it happens. A client that
 * reads slower than the rig talks is not buffered without bound: while it lags,
 * items are dropped, and once it has caught up it gets a fresh sync_response,
 * so it never shows a state that silently skipped a step.
 */

export type ServerMessage =
  | { type: 'sync_response'; state: RigState }
  | (FeedItem & { type: 'state' | 'alert' | 'event' | 'preview' })
  | { type: 'pong' }
  | { type: 'error'; code: 'BAD_REQUEST'; message: string }

export interface WsSessionDeps {
  feed: Feed
  state: () => RigState
  secrets: string[]
  log: FastifyBaseLogger
  /** Above this many queued bytes the client is lagging. */
  maxBufferedBytes?: number
  /** Liveness ping; a client that missed the previous pong is dropped. 0 disables. */
  pingIntervalMs?: number
}

/** What a session uses of a `ws` WebSocket (the package ships no types). */
export interface WsSocket {
  readonly readyState: number
  readonly OPEN: number
  readonly bufferedAmount: number
  send(data: string): void
  ping(): void
  terminate(): void
  on(event: 'message', listener: (data: unknown, isBinary: boolean) => void): unknown
  on(event: 'pong', listener: () => void): unknown
  once(event: 'close', listener: () => void): unknown
}

export const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024

export function parseClientMessage(data: unknown, isBinary: boolean): { ok: true; type: 'sync_request' | 'ping' } | { ok: false; message: string } {
  if (isBinary) return { ok: false, message: 'binary messages are not understood; send JSON text' }
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString('utf8') : String(data)
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return { ok: false, message: 'message is not valid JSON' }
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { ok: false, message: 'message must be a JSON object with a "type"' }
  const type = (msg as { type?: unknown }).type
  if (type === 'sync_request' || type === 'ping') return { ok: true, type }
  return { ok: false, message: `unknown message type ${JSON.stringify(type)}; known: sync_request, ping` }
}

export function runWsSession(socket: WsSocket, deps: WsSessionDeps): void {
  const maxBuffered = deps.maxBufferedBytes ?? 1024 * 1024
  const log = deps.log
  let lagging = false
  let alive = true

  const send = (msg: ServerMessage): void => {
    if (socket.readyState !== socket.OPEN) return
    let text: string
    try {
      text = JSON.stringify(msg)
    } catch (err) {
      log.warn({ err }, 'websocket message could not be encoded')
      return
    }
    socket.send(text)
  }

  const sync = (): void => {
    let state: RigState
    try {
      state = deps.state()
    } catch (err) {
      log.error({ err }, 'state snapshot failed')
      return
    }
    send({ type: 'sync_response', state })
  }

  const forward = (item: FeedItem): void => {
    if (socket.bufferedAmount > maxBuffered) {
      if (!lagging) log.warn({ bufferedAmount: socket.bufferedAmount }, 'websocket client is lagging; dropping live items until it catches up')
      lagging = true
      return
    }
    if (lagging) {
      lagging = false
      sync()
      return
    }
    send(redact(item, { secrets: deps.secrets }) as ServerMessage)
  }

  const subscription = deps.feed.subscribe({ next: forward })

  socket.on('message', (data, isBinary) => {
    const parsed = parseClientMessage(data, isBinary)
    if (!parsed.ok) return send({ type: 'error', code: 'BAD_REQUEST', message: parsed.message })
    if (parsed.type === 'sync_request') return sync()
    send({ type: 'pong' })
  })
  socket.on('pong', () => {
    alive = true
  })

  // Owned by this connection and cleared with it: a half-open TCP peer would otherwise
  // keep its feed subscription forever.
  const pingMs = deps.pingIntervalMs ?? 30000
  const ping =
    pingMs > 0
      ? setInterval(() => {
          if (!alive) {
            log.info('websocket client missed a ping; closing')
            socket.terminate()
            return
          }
          alive = false
          socket.ping()
        }, pingMs)
      : undefined

  socket.once('close', () => {
    subscription.unsubscribe()
    clearInterval(ping)
  })

  sync()
}
