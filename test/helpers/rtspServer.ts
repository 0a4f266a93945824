/**
 * A real RTSP camera on loopback: GStreamer's gst-rtsp-server (rtspServer.py beside this
 * file) serving an H.264 + AAC MP4 made by ffmpeg at start, packets as they are in the
 * file (so the server spends next to no CPU). ffmpeg alone cannot stand in: its
 * `-rtsp_flags listen` takes one publisher, it serves no player.
 *
 *   const cam = await startRtspCamera(t)        // rtsp://127.0.0.1:<port>/cam
 *   await cam.kill()                            // SIGKILL: the camera loses power
 *   await cam.start()                           // back on the same port (a reboot)
 *
 * Every server process is spawned through a ProcessOwner (setpriv --pdeathsig KILL: it
 * dies with the test process even on SIGKILL) and reaped by the test's teardown.
 * Needs Debian's gir1.2-gst-rtsp-server-1.0, python3-gi and gstreamer1.0-plugins-good
 * and -bad (h264parse); `rtspServerMissing()` says what is missing so a test can skip.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { ProcessOwner, type OwnedProcess } from '../../infra/process.js'
import { freePort } from '../../infra/ports.js'
import { isListening } from './procs.js'
import { isAlive, waitFor } from './wait.js'

const SCRIPT = fileURLToPath(new URL('./rtspServer.py', import.meta.url))

/** The Python with GStreamer's bindings: Debian's, not a pyenv or venv one earlier on PATH. */
function findPython(): string | null {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (python.startsWith('/') && !existsSync(python)) continue
    const probe = spawnSync(
      python,
      ['-c', "import gi; gi.require_version('GstRtspServer','1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None); import sys; sys.exit(0 if all(Gst.ElementFactory.find(n) for n in ['qtdemux','h264parse','aacparse','rtph264pay','rtpmp4gpay']) else 3)"],
      { stdio: 'ignore', timeout: 20_000 },
    )
    if (probe.status === 0) return python
  }
  return null
}

let python: string | null | undefined
/** null when the server can run here, else the packages to install. */
export function rtspServerMissing(): string | null {
  python ??= findPython()
  return python ? null : 'python3 with GStreamer: apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-good gstreamer1.0-plugins-bad'
}

export interface RtspCameraOptions {
  ffmpegPath?: string
  width?: number
  height?: number
  fps?: number
  /** Seconds of footage in the file: each (re)start serves it from the beginning. */
  seconds?: number
}

export interface RtspCamera {
  url: string
  port: number
  /** The server's pid now (null while down). */
  pid(): number | null
  /** (Re)starts the server on the same port; resolves once it listens. */
  start(): Promise<void>
  /** SIGKILL (a camera losing power); resolves once the process is reaped and the port is closed. */
  kill(): Promise<void>
}

/**
 * Makes the clip (a 10 s H.264 High + AAC clip, GOP 1 s as `-g fps`, no B-frames as cameras
 * send, looped by stream copy to `seconds`) and starts the server. Teardown kills and reaps it.
 */
export async function startRtspCamera(t: Test, opts: RtspCameraOptions = {}): Promise<RtspCamera> {
  const missing = rtspServerMissing()
  if (missing) throw new Error(`no RTSP server: ${missing}`)
  const ffmpeg = opts.ffmpegPath ?? 'ffmpeg'
  const { width = 320, height = 240, fps = 15, seconds = 360 } = opts
  const dir = await mkdtemp(join(tmpdir(), 'vigil-rtsp-'))
  const short = join(dir, 'short.mp4')
  const clip = join(dir, 'camera.mp4')
  const make = (args: string[]) => {
    const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8', timeout: 120_000 })
    if (r.status !== 0) throw new Error(`ffmpeg could not make the camera clip: ${r.stderr || r.error?.message}`)
  }
  make([
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(fps), '-keyint_min', String(fps),
    '-sc_threshold', '0', '-bf', '0', '-c:a', 'aac', '-b:a', '64k', '-ac', '1', '-t', '10', short,
  ])
  // Looped by copy: a long file costs no more encoding than a short one.
  make(['-stream_loop', String(Math.max(0, Math.ceil(seconds / 10) - 1)), '-i', short, '-c', 'copy', '-movflags', '+faststart', clip])

  const port = await freePort()
  const processes = new ProcessOwner()
  let proc: OwnedProcess | null = null

  const start = async () => {
    if (proc?.isRunning()) throw new Error('the RTSP server is already running')
    let out = ''
    const p = processes.spawn(python!, [SCRIPT, String(port), 'cam', clip], { name: 'rtsp-server', onStderrLine: (l) => (out += `${l}\n`) })
    proc = p
    p.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
    // The port is free again a moment after a kill; the server may need a retry to bind.
    await waitFor(async () => {
      if (!p.isRunning()) throw new Error(`RTSP server exited: ${(await p.exited).reason}\n${out}`)
      return out.includes(`ready ${port}`) && (await isListening(port))
    }, 20_000, `RTSP server listening on ${port}`, 20)
  }

  const kill = async () => {
    const p = proc
    if (!p) return
    p.signal('SIGKILL')
    await p.exited
    proc = null
    await waitFor(async () => !(await isListening(port)), 5000, `port ${port} closed after the kill`, 20)
  }

  t.teardown(async () => {
    const p = proc
    if (p?.isRunning()) {
      await p.stop(2000)
    }
    if (p && p.pid > 0 && isAlive(p.pid)) await waitFor(() => !isAlive(p.pid), 5000, 'RTSP server reaped')
    await rm(dir, { recursive: true, force: true })
  })

  await start()
  return {
    url: `rtsp://127.0.0.1:${port}/cam`,
    port,
    pid: () => (proc?.isRunning() ? proc.pid : null),
    start,
    kill,
  }
}
