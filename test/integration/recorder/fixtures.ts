import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { systemClock } from '../../../infra/clock.js'
import { createManualDisk } from '../../../infra/disk.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner, type OwnedProcess } from '../../../infra/process.js'
import type { AlertInput } from '../../../infra/alerts.js'
import type { RecorderDeps } from '../../../actors/recorder/index.js'
import { isListening } from '../../helpers/procs.js'

const run = promisify(execFile)

export const FFMPEG = process.env.FFMPEG_PATH ?? '/usr/bin/ffmpeg'
export const FFPROBE = process.env.FFPROBE_PATH ?? FFMPEG.replace(/ffmpeg$/, 'ffprobe')
export const GiB = 1024 ** 3

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export interface Teardown {
  teardown(fn: () => unknown): void
}

export async function tempDir(t: Teardown, prefix = 'vigil-rec-it-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A live camera we control, standing in for the media server: ffmpeg as a one-shot
 * RTMP server (`-listen 1`) publishing testsrc2 + a tone, H.264 with a keyframe a
 * second and AAC, like the camera actor pushes. One client per run: a new session
 * after it ended needs a new source (`restart`).
 */
export function rtmpSource(owner: ProcessOwner, port: number): { url: string; proc(): OwnedProcess; restart(): void; listening(): Promise<void>; stop(): Promise<void> } {
  const url = `rtmp://127.0.0.1:${port}/live/cam`
  const spawnIt = () =>
    owner.spawn(
      FFMPEG,
      [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15',
        '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '64k',
        '-f', 'flv', '-listen', '1', url,
      ],
      { name: 'test-rtmp-source' },
    )
  let current = spawnIt()
  return {
    url,
    proc: () => current,
    restart() {
      current = spawnIt()
    },
    /** Resolves once the (re)spawned source listens: a recorder started before that fails its first connect. */
    async listening() {
      await waitFor(() => isListening(port), 15_000, `the RTMP source listening on ${port}`)
    },
    async stop() {
      await current.stop(2000)
    },
  }
}

export interface Probe {
  duration: number
  streams: string[]
}

export async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', file])
  const j = JSON.parse(stdout) as { streams?: Array<{ codec_type: string }>; format?: { duration?: string } }
  return { duration: Number(j.format?.duration ?? NaN), streams: (j.streams ?? []).map((s) => s.codec_type) }
}

/** A real fragmented segment (for the crashed-session fixture), made the way the recorder makes them. */
export async function makeSegment(dir: string, seconds: number): Promise<void> {
  await run(FFMPEG, [
    '-hide_banner', '-nostdin', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=160x120:rate=15:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'segment', '-segment_time', '100', '-reset_timestamps', '1', '-segment_start_number', '1',
    '-segment_format', 'mp4', '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof',
    join(dir, 'seg-%05d.mp4'),
  ])
}

export interface Recorded {
  alerts: AlertInput[]
  events: Array<{ kind: string; payload: Record<string, unknown> }>
}

export function recorderDeps(over: Partial<RecorderDeps> & Pick<RecorderDeps, 'recordingsDir' | 'inputUrl' | 'processes'>): RecorderDeps & Recorded {
  const alerts: AlertInput[] = []
  const events: Array<{ kind: string; payload: Record<string, unknown> }> = []
  return {
    config: {
      node: 'it',
      segmentS: 2,
      minFreeBytes: 2 * GiB,
      stopBelowBytes: 1 * GiB,
      stallWarnMs: 10_000,
      stallStopMs: 30_000,
      retention: { maxSessions: 0, maxBytes: 0, maxAgeDays: 0 },
      // No warm-start buffer: these tests count the recorder ffmpeg's own output (its tests: pipeline/warmStart).
      warmStartS: 0,
    },
    ffmpegPath: FFMPEG,
    // The host's real free space is not the subject here; the probe is the machine's input.
    disk: createManualDisk(100 * GiB),
    clock: systemClock,
    log: silentLogger(),
    alert: (a) => void alerts.push(a),
    publishEvent: (kind, payload) => void events.push({ kind, payload }),
    timing: { reconnectMs: 300, stopGraceMs: 3000, pollMs: 250 },
    alerts,
    events,
    ...over,
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

export { ProcessOwner }
