/**
 * `camera.source` and `audio.source` as the operator writes them: parsed once at
 * config load (a bad one is a config error listing every problem) and again by the
 * actors that run them. Credentials in URLs never reach a status reply or a log.
 */
import { VigilError } from './errors.js'
import { redactCredentials } from './redaction.js'

// The one redaction lives in redaction.ts; camera and audio code import it from here too.
export { redactCredentials }
/** `camera.source` as the operator writes it: `testsrc`, `v4l2:/dev/videoN`, `rtsp://…`, `file:/path`. */
export type CameraSource =
  | { kind: 'testsrc' }
  | { kind: 'v4l2'; device: string }
  | { kind: 'rtsp'; url: string }
  | { kind: 'file'; path: string }

/** Throws BAD_REQUEST for anything else, naming the accepted forms. */
export function parseCameraSource(source: string): CameraSource {
  const s = source.trim()
  if (s === 'testsrc') return { kind: 'testsrc' }
  if (s.startsWith('v4l2:')) {
    const device = s.slice('v4l2:'.length)
    if (device.startsWith('/')) return { kind: 'v4l2', device }
  } else if (/^rtsps?:\/\/./i.test(s)) {
    return { kind: 'rtsp', url: s }
  } else if (s.startsWith('file:')) {
    const path = s.slice('file:'.length)
    if (path.length > 0) return { kind: 'file', path }
  }
  throw new VigilError(
    'BAD_REQUEST',
    `unsupported camera.source ${JSON.stringify(redactCredentials(s))}: expected testsrc, v4l2:/dev/videoN, rtsp://… or file:/path`,
  )
}

export type CodecChoice = 'copy' | 'encode'

/** What the camera's ffmpeg does with the source's video and audio (actors/camera/ffmpegArgs.ts). */
export interface CameraCodecs {
  copyVideo: boolean
  copyAudio: boolean
}

/**
 * `camera.videoCodec` / `camera.audioCodec` against the source. An RTSP camera already
 * sends H.264: copying it costs no encode (the box only decodes it for motion and
 * snapshots) and keeps the camera's own quality, so copy is its default. Audio is
 * encoded unless the operator says the camera sends AAC: many cameras send G.711 or
 * G.726, which FLV (the live stream) or MP4 (the recording) cannot carry, and an AAC
 * encode of one mono track is cheap. testsrc and v4l2 give raw pictures: nothing to copy.
 */
export function cameraCodecs(source: CameraSource, choice: { videoCodec?: CodecChoice; audioCodec?: CodecChoice } = {}): CameraCodecs {
  const problems = cameraCodecProblems(source, choice)
  if (problems.length > 0) throw new VigilError('BAD_REQUEST', problems.join('; '))
  return {
    copyVideo: (choice.videoCodec ?? (source.kind === 'rtsp' ? 'copy' : 'encode')) === 'copy',
    copyAudio: choice.audioCodec === 'copy',
  }
}

/** One line per field that asks to copy what the source cannot give (config load lists them). */
export function cameraCodecProblems(source: CameraSource, choice: { videoCodec?: CodecChoice; audioCodec?: CodecChoice }): string[] {
  const encoded = source.kind === 'rtsp' || source.kind === 'file'
  if (encoded) return []
  const problems: string[] = []
  if (choice.videoCodec === 'copy') {
    problems.push(`camera.videoCodec: "copy" needs an rtsp:// or file: source; ${source.kind} gives raw pictures, which must be encoded (use "encode" or leave it out)`)
  }
  if (choice.audioCodec === 'copy') {
    problems.push(`camera.audioCodec: "copy" needs an rtsp:// or file: source; ${source.kind} has no encoded sound to copy (use "encode" or leave it out)`)
  }
  return problems
}

/** What `camera.status` shows as the source. */
export function describeSource(source: string): string {
  return redactCredentials(source.trim())
}

/** `audio.source` as the operator writes it. */
export type AudioSource =
  | { kind: 'camera' }
  | { kind: 'testsrc' }
  | { kind: 'alsa'; device: string }
  | { kind: 'url'; url: string }
  | { kind: 'file'; path: string }

const URL_SOURCE = /^(rtmps?|rtsps?|https?|srt|udp|tcp):\/\/./i

/** Throws BAD_REQUEST for anything else, naming the accepted forms. */
export function parseAudioSource(source: string): AudioSource {
  const s = source.trim()
  if (s === 'camera') return { kind: 'camera' }
  if (s === 'testsrc') return { kind: 'testsrc' }
  if (s.startsWith('alsa:') && s.length > 'alsa:'.length) return { kind: 'alsa', device: s.slice('alsa:'.length) }
  if (URL_SOURCE.test(s)) return { kind: 'url', url: s }
  if (s.startsWith('file:') && s.length > 'file:'.length) return { kind: 'file', path: s.slice('file:'.length) }
  throw new VigilError(
    'BAD_REQUEST',
    `unsupported audio.source ${JSON.stringify(redactCredentials(s))}: expected camera, testsrc, alsa:<device>, a stream URL (rtmp://, rtsp://, http://) or file:/path`,
  )
}

export function describeAudioSource(source: AudioSource): string {
  switch (source.kind) {
    case 'camera':
      return 'camera'
    case 'testsrc':
      return 'testsrc'
    case 'alsa':
      return `alsa:${source.device}`
    case 'url':
      return redactCredentials(source.url)
    case 'file':
      return `file:${source.path}`
  }
}
