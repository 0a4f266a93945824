import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { resolveFfprobe } from '../../infra/binaries.js'

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
