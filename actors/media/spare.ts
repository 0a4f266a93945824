import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import { forkMediaServer, type ForkedMediaServer } from './spawn.js'
import type { MediaPorts } from './urls.js'

/**
 * A warm spare of the media server (`media.warmSpare`, DESIGN.md §9.5: a media server that
 * died or froze costs footage until a new one serves). Most of a restart is node starting and
 * loading node-media-server (~1 s on a quiet 2-core box, 1.7 s on a loaded one); the spare has
 * done that already and waits for its secret, holding no port. A restart takes it and hands it
 * the secret: it binds and reports ready in tens of ms. The next spare is forked a while after
 * a server is ready, so it never competes with a restart for the CPU. It lives across the
 * media child's instances (one per rig); `dispose` ends it when the rig stops.
 */
export interface MediaSpare {
  /** The waiting spare, if one is alive (then there is none until `prepareLater`). */
  take(): ForkedMediaServer | null
  /** Forks the next spare after `delayMs`, unless one waits or is coming. */
  prepareLater(): void
  dispose(): void
}

export function createMediaSpare(deps: { processes: ProcessOwner; ports: MediaPorts; dataDir?: string; log: Logger; enabled: boolean; delayMs?: number }): MediaSpare {
  let spare: ForkedMediaServer | null = null
  let timer: NodeJS.Timeout | undefined
  let disposed = false
  const delayMs = deps.delayMs ?? 5000
  return {
    take() {
      const s = spare
      spare = null
      if (s && s.proc.isRunning()) return s
      return null
    },
    prepareLater() {
      if (!deps.enabled || disposed || spare || timer) return
      timer = setTimeout(() => {
        timer = undefined
        if (disposed || spare) return
        const forked = forkMediaServer(deps.processes, { ports: deps.ports, ...(deps.dataDir ? { dataDir: deps.dataDir } : {}), log: deps.log })
        spare = forked
        deps.log.debug({ pid: forked.proc.pid }, 'media server spare forked')
        // A spare that dies while waiting is simply gone: the next restart forks as before.
        void forked.proc.exited.then((info) => {
          if (spare === forked) {
            spare = null
            if (!disposed) deps.log.warn({ reason: info.reason }, 'the media server spare ended while waiting')
          }
        })
      }, delayMs)
      timer.unref()
    },
    dispose() {
      disposed = true
      clearTimeout(timer)
      timer = undefined
      if (spare?.proc.isRunning()) spare.proc.signal('SIGKILL')
      spare = null
    },
  }
}
