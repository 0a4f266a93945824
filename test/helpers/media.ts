/**
 * A real media server (node-media-server in its own child process) on free loopback
 * ports, for tests that need something to push RTMP to or read HTTP-FLV from.
 *
 *   const media = await startMediaServer()
 *   t.teardown(() => media.stop())
 *   ffmpeg … -f flv media.rtmpUrl()        ffprobe media.flvUrl()
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../../infra/logger.js'
import { silentLogger } from '../../infra/logger.js'
import { ProcessOwner, type OwnedProcess } from '../../infra/process.js'
import { resolveMediaPorts } from '../../actors/media/ports.js'
import { spawnMediaServer } from '../../actors/media/spawn.js'
import { flvUrl, rtmpUrl, type MediaPorts } from '../../actors/media/urls.js'

export interface RunningMediaServer {
  ports: MediaPorts
  pid: number
  process: OwnedProcess
  rtmpUrl(app?: string, stream?: string): string
  flvUrl(app?: string, stream?: string): string
  /** Orderly stop (SIGTERM), SIGKILL after 2 s; removes its temp dir. Safe to call twice. */
  stop(): Promise<void>
}

export interface StartMediaOptions {
  /** Reuse given ports (restart on the same ports); 0 or absent picks free ones. */
  ports?: Partial<MediaPorts>
  processes?: ProcessOwner
  log?: Logger
  readyTimeoutMs?: number
}

export async function startMediaServer(opts: StartMediaOptions = {}): Promise<RunningMediaServer> {
  const ports = await resolveMediaPorts({ rtmpPort: opts.ports?.rtmpPort ?? 0, httpPort: opts.ports?.httpPort ?? 0 })
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-test-media-'))
  const processes = opts.processes ?? new ProcessOwner()
  const timeoutMs = opts.readyTimeoutMs ?? 15000
  let onReady!: () => void
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const proc = spawnMediaServer(processes, { ports, dataDir, log: opts.log ?? silentLogger(), onReady: () => onReady() })
  const cleanup = async () => {
    await proc.stop(2000)
    rmSync(dataDir, { recursive: true, force: true })
  }
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    proc.exited.then((info) => `exited (${info.reason}): ${proc.stderrTail()}`),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`not ready within ${timeoutMs} ms`), timeoutMs))),
  ])
  clearTimeout(timer)
  if (outcome !== 'ready') {
    await cleanup()
    throw new Error(`media server did not start: ${outcome}`)
  }
  return {
    ports,
    pid: proc.pid,
    process: proc,
    rtmpUrl: (app, stream) => rtmpUrl(ports, app, stream),
    flvUrl: (app, stream) => flvUrl(ports, app, stream),
    stop: cleanup,
  }
}
