/**
 * Entry of the media server child process: `node --import tsx server.ts --rtmp-port N --http-port M`.
 *
 * node-media-server keeps its sessions, broadcasts and config in module-global state, so
 * it runs in its own process: a restart is a fresh process, never a half-reset module.
 * The parent learns readiness over IPC (`{ type: 'ready' }`) and this process exits when
 * the IPC channel closes, so a dead supervisor never leaves a server holding the ports.
 *
 * Ports come from argv (`--rtmp-port`, `--http-port`) or the interface variables
 * `VIGIL_MEDIA_RTMP_PORT` / `VIGIL_MEDIA_HTTP_PORT`; both listeners bind loopback only.
 */
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Server } from 'node:net'

export interface MediaServerReadyMessage {
  type: 'ready'
  pid: number
  rtmpPort: number
  httpPort: number
}

interface NmsLogger {
  level: string
  log(message: string, level?: string): void
}

interface NmsInstance {
  run(): Promise<void>
  stop(): Promise<void>
  rtmpServer: { tcpServer?: Server }
  httpServer: { httpServer?: Server }
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
const nms = new NodeMediaServer({
  bind: '127.0.0.1',
  rtmp: { port: rtmpPort },
  http: { port: httpPort },
  // No admin console, no API (no auth.jwt), no auto-recording (no record.path): the
  // recorder actor owns recordings, and nothing here should need a password.
  webadmin: { enable: false },
  store: { path: dataDir },
  notify: { url: '' },
})
// The constructor forces debug; per-packet chatter is not wanted in vigil's logs.
nmsLogger.level = 'info'

let stopping = false
async function shutdown(why: string): Promise<void> {
  if (stopping) return
  stopping = true
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
  },
  (err: Error) => fail(err.message),
)

// Started without IPC (by hand), there is no parent channel to watch.
if (!process.send) process.stderr.write('[warn] no IPC channel: this server will not exit with its parent\n')
