/**
 * Entry of the media server child process: `node --import tsx server.ts --rtmp-port N --http-port M`.
 *
 * node-media-server keeps its sessions, broadcasts and config in module-global state, so
 * it runs in its own process: a restart is a fresh process, never a half-reset module.
 * The parent learns readiness over IPC (`{ type: 'ready' }`) and this process exits when
 * the IPC channel closes, so a dead supervisor never leaves a server holding the ports.
 * Once ready it sends `{ type: 'alive' }` every HEARTBEAT_INTERVAL_MS: a frozen process
 * (SIGSTOP, a wedged event loop) goes silent, which the parent notices within seconds
 * where a health probe needs several misses (machines/media.heartbeat.ts).
 *
 * Ports come from argv (`--rtmp-port`, `--http-port`) or the interface variables
 * `VIGIL_MEDIA_RTMP_PORT` / `VIGIL_MEDIA_HTTP_PORT`; both listeners bind loopback only.
 *
 * Loopback is not a boundary (every local user and every web page in a local browser
 * reaches it): the secret that signs every play and publish (access.ts) arrives as the
 * first IPC message, `{ type: 'config', secret }`, never in argv or env. Nothing starts
 * before it: without it the server would be open.
 */
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Server } from 'node:net'
import type { Server as HttpServer } from 'node:http'
import { guardMediaHttp, guardRtmpSession, type NmsSession } from './guard.js'
import { HEARTBEAT_INTERVAL_MS } from '../../machines/media.heartbeat.js'

/** The parent's first message: what the server may not learn from argv or env. */
export interface MediaServerConfigMessage {
  type: 'config'
  secret: string
}

export interface MediaServerReadyMessage {
  type: 'ready'
  pid: number
  rtmpPort: number
  httpPort: number
}

/** Sent every HEARTBEAT_INTERVAL_MS once ready: "my event loop runs". */
export interface MediaServerHeartbeatMessage {
  type: 'alive'
}

interface NmsLogger {
  level: string
  log(message: string, level?: string): void
}

interface NmsInstance {
  run(): Promise<void>
  stop(): Promise<void>
  on(event: 'prePlay' | 'prePublish', listener: (session: NmsSession) => void): void
  rtmpServer: { tcpServer?: Server }
  httpServer: { httpServer?: HttpServer }
}

type NmsConstructor = new (config: Record<string, unknown>, configPath?: string) => NmsInstance

const require = createRequire(import.meta.url)

const HARD_EXIT_MS = 2000

function fail(message: string): never {
  process.stderr.write(`[error] ${message}\n`)
  process.exit(2)
}

function portFrom(name: string, value: string | undefined): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${name} must be a port 1-65535, got ${JSON.stringify(value)}`)
  return port
}

function listening(server: Server | undefined, what: string): Promise<void> {
  if (!server) return Promise.reject(new Error(`${what} listener was not created`))
  if (server.listening) return Promise.resolve()
  return new Promise((resolvePromise) => server.once('listening', () => resolvePromise()))
}

const { values } = parseArgs({
  options: {
    'rtmp-port': { type: 'string' },
    'http-port': { type: 'string' },
    'data-dir': { type: 'string' },
  },
  strict: true,
})

const rtmpPort = portFrom('--rtmp-port', values['rtmp-port'] ?? process.env.VIGIL_MEDIA_RTMP_PORT)
const httpPort = portFrom('--http-port', values['http-port'] ?? process.env.VIGIL_MEDIA_HTTP_PORT)
// node-media-server v4 keeps a small JSON store (publish history) and locks its dir;
// it must never land in whatever the cwd happens to be.
const dataDir = resolve(values['data-dir'] ?? join(tmpdir(), `vigil-media-${rtmpPort}`))
mkdirSync(dataDir, { recursive: true })

// Its logger prints to stdout with a locale timestamp; route every line to stderr as
// `[level] message` so the parent logs it with its own logger and keeps it in the
// stderr tail that explains an exit.
const nmsLogger = require('node-media-server/src/core/logger.js') as NmsLogger
nmsLogger.log = (message: string, level = 'info') => {
  const levels = ['trace', 'debug', 'info', 'warn', 'error']
  if (levels.indexOf(level) < levels.indexOf(nmsLogger.level)) return
  process.stderr.write(`[${level}] ${message}\n`)
}

const NodeMediaServer = require('node-media-server') as NmsConstructor

/** The parent sends the secret first thing; a server started by hand has no parent and stays shut. */
function receiveSecret(): Promise<string> {
  if (!process.send) fail('started without an IPC channel: the media server takes its secret from the rig (spawn.ts), it cannot run open')
  return new Promise((resolveSecret) => {
    const onMessage = (message: unknown) => {
      const m = message as Partial<MediaServerConfigMessage> | null
      if (!m || m.type !== 'config') return
      process.off('message', onMessage)
      if (typeof m.secret !== 'string' || m.secret.length < 32) fail('the config message carries no usable secret')
      resolveSecret(m.secret)
    }
    process.on('message', onMessage)
  })
}

// A parent that goes away before sending the secret leaves nothing to serve.
const exitEarly = () => process.exit(0)
process.once('disconnect', exitEarly)
const secret = await receiveSecret()
process.off('disconnect', exitEarly)
const nowS = () => Math.floor(Date.now() / 1000)
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port: rtmpPort },
  http: { port: httpPort },
  // No admin console, no API (no auth.jwt), no auto-recording (no record.path): the
  // recorder actor owns recordings, and nothing here should need a password.
  webadmin: { enable: false },
  store: { path: dataDir },
  notify: { url: '' },
  // Its own check of the same signature, behind ours (guard.ts): play is checked only for
  // sessions with a peer address (`ip !== ''`), which every socket has; its internal
  // sessions (relay, record) that have none are not configured here.
  auth: { play: true, publish: true, secret },
})
// The constructor forces debug; per-packet chatter is not wanted in vigil's logs.
nmsLogger.level = 'info'

const logRefusal = (what: string) => process.stderr.write(`[info] refused ${what}\n`)
const { httpServer } = nms.httpServer
if (!httpServer) fail('node-media-server made no HTTP listener')
guardMediaHttp(httpServer, { secret, nowS, onRefused: logRefusal })
nms.on('prePlay', (session) => guardRtmpSession(session, 'play', { secret, nowS, onRefused: logRefusal }))
nms.on('prePublish', (session) => guardRtmpSession(session, 'publish', { secret, nowS, onRefused: logRefusal }))

// From its own event loop, so a loop that no longer runs sends none. unref: it never
// keeps a stopping process alive.
let heartbeat: NodeJS.Timeout | undefined
const alive: MediaServerHeartbeatMessage = { type: 'alive' }
function startHeartbeat(): void {
  heartbeat = setInterval(() => {
    // A channel that just closed is the 'disconnect' path's business, not an error here.
    if (process.connected) process.send?.(alive, undefined, undefined, () => {})
  }, HEARTBEAT_INTERVAL_MS)
  heartbeat.unref()
}

let stopping = false
async function shutdown(why: string): Promise<void> {
  if (stopping) return
  stopping = true
  clearInterval(heartbeat)
  process.stderr.write(`[info] media server stopping: ${why}\n`)
  // nms.stop() closes listeners but idle keep-alive sockets could hold the loop open.
  setTimeout(() => process.exit(0), HARD_EXIT_MS).unref()
  try {
    await nms.stop()
  } catch (err) {
    process.stderr.write(`[warn] media server stop failed: ${(err as Error).message}\n`)
  }
  process.exit(0)
}

process.on('disconnect', () => void shutdown('parent disconnected'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

void nms.run()
Promise.all([listening(nms.rtmpServer.tcpServer, 'RTMP'), listening(nms.httpServer.httpServer, 'HTTP')]).then(
  () => {
    const ready: MediaServerReadyMessage = { type: 'ready', pid: process.pid, rtmpPort, httpPort }
    process.stderr.write(`[info] media server ready: rtmp 127.0.0.1:${rtmpPort}, http 127.0.0.1:${httpPort}\n`)
    process.send?.(ready)
    if (!stopping) startHeartbeat()
  },
  (err: Error) => fail(err.message),
)
