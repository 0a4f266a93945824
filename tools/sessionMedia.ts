/**
 * Reading a finished recording back: ffprobe of its segments and its session.json. Shared by
 * the bench (tools/bench/continuity.ts) and the tests (test/helpers/ffprobe.ts and
 * test/integration/pipeline/common.ts re-export these): imports run tools → actors → infra, so
 * the bench cannot import them from test/.
 */
import { execFile } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { resolveFfprobe } from '../infra/binaries.js'
import type { SessionFile } from '../actors/recorder/session.js'

const run = promisify(execFile)

export interface ProbeResult {
  /** Container duration in seconds (NaN when ffprobe reports none). */
  duration: number
  /** codec_type of every stream, in stream order: ['video', 'audio']. */
  streams: string[]
}

let cached: Promise<string> | undefined

/** The ffprobe vigil would use (FFPROBE_PATH, beside ffmpeg, or PATH); throws when there is none. */
export function ffprobePath(): Promise<string> {
  cached ??= resolveFfprobe(process.env).then((r) => {
    if (!r) throw new Error('ffprobe not found: install the Debian package "ffmpeg" or set FFPROBE_PATH')
    return r.path
  })
  return cached
}

/**
 * Probes a media file: rejects when ffprobe cannot read it (exit code non-zero),
 * so "it probes" means ffprobe opened the container and found its streams.
 */
export async function ffprobe(file: string, timeoutMs = 20000): Promise<ProbeResult> {
  const bin = await ffprobePath()
  const { stdout } = await run(bin, ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', file], { timeout: timeoutMs })
  const j = JSON.parse(stdout) as { streams?: Array<{ codec_type?: string }>; format?: { duration?: string } }
  return { duration: Number(j.format?.duration ?? NaN), streams: (j.streams ?? []).map((s) => s.codec_type ?? 'unknown') }
}

/**
 * Seconds of footage a finished session says it holds: the pre-roll before the start
 * command (negative when footage began after it), the command-to-command duration, the
 * post-roll tail after a requested stop, minus the gaps, plus an event session's buffered
 * pre-roll files (docs/ARCHITECTURE.md, "what a
 * recording contains"). What the segments' durations must add up to.
 */
export function footageAccountedS(session: Pick<SessionFile, 'preRollMs' | 'durationMs' | 'postRollMs' | 'gaps' | 'preRollFiles'>): number {
  const gapsMs = session.gaps.reduce((n, g) => n + g.ms, 0)
  // Events mode: the buffered pre-roll moved in as pre-NNNNN.mp4, played before the seg-* files.
  const bufferedMs = (session.preRollFiles ?? []).reduce((n, f) => n + f.ms, 0)
  return (bufferedMs + (session.preRollMs ?? 0) + (session.durationMs ?? 0) + (session.postRollMs ?? 0) - gapsMs) / 1000
}

export async function readSessionJson(dir: string): Promise<SessionFile> {
  return JSON.parse(await readFile(join(dir, 'session.json'), 'utf8')) as SessionFile
}

export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^seg-\d{5,}\.mp4$/.test(f)).sort()
}

export interface ProbedSegment extends ProbeResult {
  file: string
  bytes: number
}

export async function probeSegments(dir: string, files?: string[]): Promise<ProbedSegment[]> {
  const out: ProbedSegment[] = []
  for (const file of files ?? (await segmentFiles(dir))) {
    const p = await ffprobe(join(dir, file))
    out.push({ file, bytes: (await stat(join(dir, file))).size, ...p })
  }
  return out
}
