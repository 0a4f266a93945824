/**
 * Shared by the pipeline tests (test/integration/pipeline/*.test.ts): the real rig
 * (nats-server, node-media-server, camera ffmpeg, recorder ffmpeg) driven over NATS.
 */
import type { TestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import type { SessionFile } from '../../../actors/recorder/session.js'
import type { SessionSummary } from '../../../machines/recorder.machine.js'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface RecStatus {
  state: string
  session: null | { id: string; name: string; dir: string; startedAt: string; bytes: number; segments: number }
}

export interface CamStatus {
  state: string
  pids: number[]
  framesSeen: number
  restarts: number
  lastError: string | null
}

/** A command that must succeed: throws with the code and message otherwise. */
export async function must<T>(r: TestRig, actor: string, verb: string, args: Record<string, unknown> = {}, opts: { idempotencyKey?: string; timeoutMs?: number } = {}): Promise<T> {
  const reply = await r.cmd<T>(actor, verb, args, opts)
  if (!reply.ok) throw new Error(`${actor}.${verb}: ${reply.error.code} ${reply.error.message}`)
  return reply.result
}

export const recStatus = (r: TestRig) => must<RecStatus>(r, 'recorder', 'status')
export const camStatus = (r: TestRig) => must<CamStatus>(r, 'camera', 'status')

/** camera.status, or null while the camera child is between instances (UNAVAILABLE). */
export async function camStatusOrNull(r: TestRig): Promise<CamStatus | null> {
  const reply = await r.cmd<CamStatus>('camera', 'status', {}, { timeoutMs: 3000 })
  return reply.ok ? reply.result : null
}

export async function waitCameraStreaming(r: TestRig, timeoutMs = 60000): Promise<CamStatus> {
  let last: CamStatus | null = null
  await waitFor(async () => {
    last = await camStatusOrNull(r)
    return last?.state === 'streaming' && last.pids.length > 0
  }, timeoutMs, 'camera streaming', 100)
  return last!
}

/** Waits until the recorder's session has more bytes than `than` (the recording is flowing). */
export async function waitBytes(r: TestRig, than: number, timeoutMs = 30000, what = `recorded bytes > ${than}`): Promise<RecStatus> {
  let last: RecStatus | null = null
  await waitFor(async () => {
    const reply = await r.cmd<RecStatus>('recorder', 'status', {}, { timeoutMs: 3000 })
    last = reply.ok ? reply.result : null
    return (last?.session?.bytes ?? 0) > than
  }, timeoutMs, what, 200)
  return last!
}

// Moved to tools/sessionMedia.ts (the bench reads sessions back too).
export { footageAccountedS, probeSegments, readSessionJson, segmentFiles, type ProbedSegment } from '../../../tools/sessionMedia.js'

export const fmt = (n: number, digits = 2) => n.toFixed(digits)

/** Stops a recording and returns the finished session from the reply. */
export async function stopRecording(r: TestRig, timeoutMs = 30000): Promise<SessionSummary> {
  return must<SessionSummary>(r, 'recorder', 'stop', {}, { timeoutMs })
}

export type { SessionSummary, SessionFile }

/**
 * A real, small fragmented-MP4 segment made the way the recorder makes them (testsrc2 +
 * tone, H.264 1 s GOP, AAC), for sessions fabricated on disk.
 */
export async function makeSegment(ffmpegPath: string, file: string, seconds = 1): Promise<void> {
  const { execFile } = await import('node:child_process')
  const { promisify } = await import('node:util')
  await promisify(execFile)(ffmpegPath, [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=160x120:rate=15:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '15', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    '-f', 'mp4', '-movflags', '+frag_keyframe+empty_moov+default_base_moof',
    file,
  ])
}
