/**
 * Why did the camera's ffmpeg stop? Its exit and the tail of its stderr, sorted into
 * what the camera machine does next: a device problem (retried, but the operator must
 * look), an output problem (the media server), or a crash.
 */
export type FailureKind = 'device' | 'output' | 'crash'

export interface FfmpegFailure {
  kind: FailureKind
  message: string
}

/** The source is missing, busy, refusing or broken: retried, but the operator must look. */
const DEVICE_PATTERNS = [
  /No such file or directory/i,
  /Device or resource busy/i,
  /Connection refused/i,
  /Input\/output error/i,
  /Permission denied/i,
  /Connection timed out/i,
  /No route to host/i,
  /Network is unreachable/i,
  /Server returned 4\d\d/i,
  /401 Unauthorized/i,
  /404 Not Found/i,
  /Invalid data found when processing input/i,
  /Inappropriate ioctl for device/i,
]

/** The push to the media server failed: the media actor's problem, not the camera's. */
const OUTPUT_PATTERNS = [/rtmp:\/\//i, /av_interleaved_write_frame/i, /Error (writing trailer|muxing)/i, /Broken pipe/i]

/**
 * A copied stream the live stream's container (FLV: H.264 and AAC) cannot carry, e.g. an
 * H.265 camera with `camera.videoCodec` copy (its default for rtsp://). Retrying cannot
 * help; the message says which setting does.
 */
const UNCOPYABLE = /(Video|Audio) codec (\S+) not compatible with flv/i

/** `[video4linux2,v4l2 @ 0x55…] [error] Cannot open …` → `Cannot open …` */
function stripPrefixes(line: string): string {
  return line.replace(/^(\[[^\]]*\]\s*)+/, '').trim()
}

function isSummaryLine(line: string): boolean {
  return !/^\[[^\]]* @ 0x[0-9a-f]+\]/i.test(line.trim())
}

/**
 * Classifies an ffmpeg exit from its stderr tail. Prefers ffmpeg's own summary line
 * (`/dev/video99: No such file or directory`) over the component lines above it.
 */
export function classifyFfmpegExit(exit: { reason: string; stderr: string }, sawFrame: boolean): FfmpegFailure {
  const raw = exit.stderr.split('\n').filter((l) => l.trim().length > 0)
  const find = (patterns: RegExp[]) => {
    const hits = raw.filter((l) => patterns.some((p) => p.test(l)))
    const best = hits.find(isSummaryLine) ?? hits[0]
    return best === undefined ? undefined : stripPrefixes(best)
  }
  const uncopyable = raw.map((l) => UNCOPYABLE.exec(l)).find((m) => m !== null)
  if (uncopyable) {
    const [, kind, codec] = uncopyable
    const field = kind!.toLowerCase() === 'video' ? 'camera.videoCodec' : 'camera.audioCodec'
    return {
      kind: 'device',
      message: `camera source failed: the camera sends ${codec} ${kind!.toLowerCase()}, which the live stream (FLV: H.264 and AAC) cannot carry as it is; set ${field} to "encode"`,
    }
  }
  const output = find(OUTPUT_PATTERNS)
  if (output !== undefined) return { kind: 'output', message: `media server unreachable: ${output}` }
  const device = find(DEVICE_PATTERNS)
  if (device !== undefined) return { kind: 'device', message: `camera source failed: ${device}` }
  const last = raw.length ? stripPrefixes(raw[raw.length - 1]!) : ''
  if (!sawFrame) {
    return { kind: 'device', message: `ffmpeg ${exit.reason} before the first frame${last ? `: ${last}` : ''}` }
  }
  return { kind: 'crash', message: `ffmpeg ${exit.reason}${last ? `: ${last}` : ''}` }
}
