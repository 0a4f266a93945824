import { VigilError } from '../../infra/errors.js'

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
    `unsupported audio.source ${JSON.stringify(redact(s))}: expected camera, testsrc, alsa:<device>, a stream URL (rtmp://, rtsp://, http://) or file:/path`,
  )
}

/** `rtsp://user:secret@cam/…` → `rtsp://***@cam/…`: status replies and logs never show a password. */
export function redact(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@')
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
      return redact(source.url)
    case 'file':
      return `file:${source.path}`
  }
}
