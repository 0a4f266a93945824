import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'

export interface EncodeDeps {
  ffmpegPath: string
  processes: ProcessOwner
  log: Logger
  /** A stuck encoder is killed after this long. */
  timeoutMs?: number
}

export function grayJpegArgs(width: number, height: number): string[] {
  return [
    '-hide_banner', '-nostats', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${width}x${height}`, '-i', 'pipe:0',
    '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2pipe', 'pipe:1',
  ]
}

/**
 * One grey frame → one JPEG, through a one-shot ffmpeg (stdin → stdout: nothing touches
 * the disk, so every write failure is the snapshot store's to report). Used when the
 * camera offers no JPEG of its own.
 */
export function encodeGrayJpeg(deps: EncodeDeps, gray: Uint8Array, width: number, height: number): Promise<Buffer> {
  if (gray.length !== width * height) return Promise.reject(new RangeError(`a ${width}x${height} grey frame is ${width * height} bytes, got ${gray.length}`))
  const proc = deps.processes.spawn(deps.ffmpegPath, grayJpegArgs(width, height), { name: 'ffmpeg-snapshot', stdin: 'pipe', log: deps.log })
  const chunks: Buffer[] = []
  proc.stdout?.on('data', (c: Buffer) => chunks.push(c))
  // EPIPE when ffmpeg could not start: the exit below says why.
  proc.stdin?.on('error', () => {})
  proc.stdin?.end(gray)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      proc.signal('SIGKILL')
      reject(new Error(`snapshot encoder took longer than ${deps.timeoutMs ?? 5000} ms`))
    }, deps.timeoutMs ?? 5000)
  })
  const done = proc.exited.then((exit) => {
    const jpeg = Buffer.concat(chunks)
    if (!exit.normal || jpeg.length === 0) throw new Error(`snapshot encoder ${exit.reason}: ${proc.stderrTail() || 'no output'}`)
    return jpeg
  })
  return Promise.race([done, timeout]).finally(() => clearTimeout(timer))
}
