/**
 * A real media server (node-media-server in its own child process) on free loopback
 * ports, for tests that need something to push RTMP to or read HTTP-FLV from.
 *
 *   const media = await startMediaServer()
 *   t.teardown(() => media.stop())
 *   ffmpeg … -f flv media.rtmpUrl()        ffprobe media.flvUrl()   (both signed)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Logger } from '../../infra/logger.js'
import { silentLogger } from '../../infra/logger.js'
import { ProcessOwner, type OwnedProcess } from '../../infra/process.js'
import { resolveMediaPorts } from '../../actors/media/ports.js'
import { spawnMediaServer } from '../../actors/media/spawn.js'
import { flvUrl, rtmpUrl, signedFlvUrl, signedRtmpUrl, type MediaPorts } from '../../actors/media/urls.js'
import { MediaSigner } from '../../actors/media/signer.js'

export interface RunningMediaServer {
  ports: MediaPorts
  pid: number
  process: OwnedProcess
  /** Holds this server's secret: what the rig's own clients sign with. */
  signer: MediaSigner
  /** Signed afresh on each call (the server refuses unsigned play and publish). */
  rtmpUrl(app?: string, stream?: string): string
  flvUrl(app?: string, stream?: string): string
  /** What a stranger without the secret can build. */
  unsignedRtmpUrl(app?: string, stream?: string): string
  unsignedFlvUrl(app?: string, stream?: string): string
  /** Orderly stop (SIGTERM), SIGKILL after 2 s; removes its temp dir. Safe to call twice. */
  stop(): Promise<void>
}

export interface StartMediaOptions {
  /** Reuse given ports (restart on the same ports); 0 or absent picks free ones. */
  ports?: Partial<MediaPorts>
  processes?: ProcessOwner
  log?: Logger
  readyTimeoutMs?: number
  signer?: MediaSigner
}

export async function startMediaServer(opts: StartMediaOptions = {}): Promise<RunningMediaServer> {
  const ports = await resolveMediaPorts({ rtmpPort: opts.ports?.rtmpPort ?? 0, httpPort: opts.ports?.httpPort ?? 0 })
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-test-media-'))
  const processes = opts.processes ?? new ProcessOwner()
  const timeoutMs = opts.readyTimeoutMs ?? 15000
  let onReady!: () => void
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const signer = opts.signer ?? new MediaSigner()
  const proc = spawnMediaServer(processes, { ports, dataDir, signer, log: opts.log ?? silentLogger(), onReady: () => onReady() })
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
    signer,
    rtmpUrl: (app, stream) => signedRtmpUrl(ports, signer, app, stream),
    flvUrl: (app, stream) => signedFlvUrl(ports, signer, app, stream),
    unsignedRtmpUrl: (app, stream) => rtmpUrl(ports, app, stream),
    unsignedFlvUrl: (app, stream) => flvUrl(ports, app, stream),
    stop: cleanup,
  }
}

/**
 * A logger that keeps what the media server child said (spawn.ts logs each of its stderr
 * lines as `{ media }`), so a test can wait for the server's own verdict on a session.
 */
export function captureMediaLog(): { log: Logger; lines: string[]; waitForLine(match: RegExp, timeoutMs?: number): Promise<string> } {
  const lines: string[] = []
  const log = pino({ level: 'debug' }, {
    write(chunk: string) {
      const entry = JSON.parse(chunk) as { media?: unknown }
      if (typeof entry.media === 'string') lines.push(entry.media)
    },
  })
  const waitForLine = async (match: RegExp, timeoutMs = 20000): Promise<string> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = lines.find((l) => match.test(l))
      if (hit !== undefined) return hit
      if (Date.now() > deadline) throw new Error(`media server never logged ${match} within ${timeoutMs} ms; it said:\n${lines.slice(-20).join('\n')}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return { log, lines, waitForLine }
}
