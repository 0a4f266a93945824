import { fileURLToPath } from 'node:url'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import type { MediaServerConfigMessage, MediaServerHeartbeatMessage, MediaServerReadyMessage } from './server.js'
import type { MediaSigner } from './signer.js'
import type { MediaPorts } from './urls.js'

/** The child's entry script (TypeScript, run through tsx like the rest of vigil). */
export const MEDIA_SERVER_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url))

// Resolved to a file URL here, not left to `--import tsx` resolving from the child's cwd.
const TSX_LOADER = import.meta.resolve('tsx')

export interface SpawnMediaOptions {
  ports: MediaPorts
  /** The rig's signer: its secret goes to the child over IPC, the only way it leaves the rig. */
  signer: MediaSigner
  /** node-media-server's own small store (publish history); default under the OS temp dir. */
  dataDir?: string
  log?: Logger
  onReady?: (message: MediaServerReadyMessage) => void
  /** Each heartbeat (every HEARTBEAT_INTERVAL_MS once ready): keep it cheap. */
  onHeartbeat?: () => void
}

const LEVELS: Record<string, 'debug' | 'warn' | 'error'> = {
  trace: 'debug',
  debug: 'debug',
  // node-media-server says "info" for every session open/close: debug for vigil.
  info: 'debug',
  warn: 'warn',
  error: 'error',
}

/** What a forked server reports, set when it is activated (a warm spare gets them later). */
export interface MediaServerHandlers {
  onReady?: (message: MediaServerReadyMessage) => void
  /** Each heartbeat (every HEARTBEAT_INTERVAL_MS once ready): keep it cheap. */
  onHeartbeat?: () => void
}

/** A forked media server that has loaded node-media-server and waits for its secret. */
export interface ForkedMediaServer {
  proc: OwnedProcess
  /** Hands it the secret (it binds its ports and reports ready) and says where its reports go. */
  activate(signer: MediaSigner, handlers: MediaServerHandlers): void
}

/**
 * Forks the media server: `node --import tsx server.ts` through ProcessOwner, so it gets
 * setpriv's parent-death signal and a process group like every other child, plus an IPC
 * channel (fd 3) for the secret, the ready report, the heartbeats and "parent gone"
 * (channel closed). The process loads node-media-server and then waits for the secret:
 * until `activate` it holds no port (a warm spare, spare.ts).
 * The secret travels only over that channel: argv is readable by every local user
 * (/proc/<pid>/cmdline), and env would be inherited by whatever the child spawns.
 */
export function forkMediaServer(processes: ProcessOwner, opts: Pick<SpawnMediaOptions, 'ports' | 'dataDir' | 'log'>): ForkedMediaServer {
  const args = [
    '--import', TSX_LOADER,
    MEDIA_SERVER_ENTRY,
    '--rtmp-port', String(opts.ports.rtmpPort),
    '--http-port', String(opts.ports.httpPort),
    ...(opts.dataDir ? ['--data-dir', opts.dataDir] : []),
  ]
  const log = opts.log
  const proc = processes.spawn(process.execPath, args, {
    name: 'media',
    stdin: 'ignore',
    extraStdio: ['ipc'],
    log,
    onStderrLine: (line) => {
      const m = /^\[(\w+)\]\s?(.*)$/.exec(line)
      const level = (m && LEVELS[m[1]!]) ?? 'warn'
      log?.[level]({ media: m ? m[2] : line }, 'media server')
    },
  })
  // Nothing is written there, but a pipe nobody reads can fill and block the child.
  proc.stdout?.resume()
  let handlers: MediaServerHandlers = {}
  proc.child.on('message', (message: unknown) => {
    const m = message as Partial<MediaServerReadyMessage> | Partial<MediaServerHeartbeatMessage> | null
    if (m?.type === 'alive') handlers.onHeartbeat?.()
    else if (m?.type === 'ready') handlers.onReady?.(m as MediaServerReadyMessage)
  })
  // An IPC write to a child that just died must not become an uncaught 'error'.
  proc.child.on('error', (err) => log?.debug({ err: err.message }, 'media server channel error'))
  return {
    proc,
    activate(signer, next) {
      handlers = next
      if (!proc.child.connected) return
      const config: MediaServerConfigMessage = { type: 'config', secret: signer.secretForMediaServer() }
      proc.child.send(config, (err) => {
        if (err) log?.warn({ err: err.message }, 'could not hand the media server its secret')
      })
    },
  }
}

/** Forks a media server and activates it at once. */
export function spawnMediaServer(processes: ProcessOwner, opts: SpawnMediaOptions): OwnedProcess {
  const forked = forkMediaServer(processes, opts)
  forked.activate(opts.signer, { ...(opts.onReady ? { onReady: opts.onReady } : {}), ...(opts.onHeartbeat ? { onHeartbeat: opts.onHeartbeat } : {}) })
  return forked.proc
}
