import type { CameraSource } from '../../infra/sources.js'

/**
 * The camera's single ffmpeg process, as argv. One decode of the source feeds:
 *
 * | output | where | what |
 * | --- | --- | --- |
 * | live stream | `-f flv <rtmpUrl>` | H.264 (1 s keyframe interval) + AAC, pushed to the media server; the recorder and the preview read it there |
 * | motion frames | fd 3 (`pipe:3`) | raw 8-bit grey frames, small and slow (160x90 @ 5 fps): motion detection and the frame watchdog |
 * | snapshots | fd 4 (`pipe:4`), optional | MJPEG at 1 fps: the latest colour still, ready for `camera.snapshot` and motion snapshots without another process |
 *
 * stdin stays a pipe: `q` there is ffmpeg's own orderly stop (outputs finalized).
 */

export const MOTION_FD = 3
export const SNAPSHOT_FD = 4

export type PreviewLevel = 'full' | 'low' | 'off'

export interface FrameSize {
  width: number
  height: number
}

export interface MotionFrameSpec extends FrameSize {
  fps: number
}

export interface SnapshotSpec {
  /** Width of the JPEG; height keeps the aspect (even). */
  width: number
  fps: number
}

export interface FfmpegArgsOptions {
  source: CameraSource
  width: number
  height: number
  fps: number
  rtmpUrl: string
  /** The source already carries H.264 (probed or configured): stream-copy it, no re-encode. */
  copyVideo?: boolean
  /** The source already carries AAC: stream-copy it. */
  copyAudio?: boolean
  motion?: MotionFrameSpec
  /** null: no snapshot output (and no fd 4). */
  snapshot?: SnapshotSpec | null
  /** ffmpeg's -loglevel: 'error' keeps the stderr tail about failures, not per-frame chatter. */
  logLevel?: 'error' | 'warning' | 'info'
}

export const DEFAULT_MOTION: MotionFrameSpec = { width: 160, height: 90, fps: 5 }
export const DEFAULT_SNAPSHOT: SnapshotSpec = { width: 640, fps: 1 }

/** Bytes of one grey frame on fd 3 (one byte per pixel). */
export function motionFrameBytes(motion: FrameSize = DEFAULT_MOTION): number {
  return motion.width * motion.height
}

const even = (n: number) => Math.max(2, Math.round(n / 2) * 2)

/** The encoded size: even width and height, as yuv420p requires. */
export function encodedSize(width: number, height: number): FrameSize {
  return { width: even(width), height: even(height) }
}

/**
 * Synthetic sound: a quiet 440 Hz tone (about -43 dBFS) with a 0.6 s burst of loud noise
 * (about -11 dBFS) every 10 s, so the sound detector sees real events in the demo rig.
 */
export const TEST_AUDIO = "aevalsrc=exprs='0.01*sin(2*PI*440*t)+if(lt(mod(t\\,10)\\,0.6)\\,0.5*(2*random(0)-1)\\,0)':s=44100:c=mono"

function inputArgs(source: CameraSource, o: FfmpegArgsOptions, size: FrameSize): { args: string[]; audio: string | null } {
  switch (source.kind) {
    case 'testsrc':
      return {
        // -re: lavfi renders as fast as the CPU allows; the rig needs real time.
        // Rendered at the encoded size: nothing to scale. Picture and sound from ONE lavfi
        // input: with two inputs, the 1 fps snapshot branch made ffmpeg read the picture up
        // to a second ahead of the sound, and the FLV muxer held the video until the sound
        // caught up, so the live stream left in bursts of up to a second (a reader stopped by
        // SIGTERM waited 150–1000 ms for the next burst; 30–160 ms from one input).
        args: ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${size.width}x${size.height}:rate=${o.fps}[out0];${TEST_AUDIO}[out1]`],
        audio: '0:a:0',
      }
    case 'v4l2':
      return {
        // A capture device carries no sound; a silent track keeps every stream shaped
        // the same (the preview player and the recorder expect audio).
        args: [
          '-f', 'v4l2', '-framerate', String(o.fps), '-video_size', `${o.width}x${o.height}`, '-i', source.device,
          '-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono',
        ],
        audio: '1:a:0',
      }
    case 'rtsp':
      return {
        // TCP: UDP through NAT and Wi-Fi loses packets and smears frames. The socket
        // timeout (µs) turns a silent camera into an exit instead of a hang. No frame-rate
        // probing: it held the start ~1 s (2.1 s → 0.8-1.3 s to the first frame on loopback),
        // footage lost at every reconnect, and nothing here needs the guess (timestamps
        // come from RTP; the motion and snapshot branches resample by time).
        args: ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-fpsprobesize', '0', '-i', source.url],
        audio: '0:a:0?',
      }
    case 'file':
      return {
        args: ['-stream_loop', '-1', '-re', '-i', source.path],
        audio: '0:a:0?',
      }
  }
}

export function buildFfmpegArgs(o: FfmpegArgsOptions): string[] {
  const motion = o.motion ?? DEFAULT_MOTION
  const snapshot = o.snapshot === undefined ? DEFAULT_SNAPSHOT : o.snapshot
  const copyVideo = o.copyVideo === true && o.source.kind !== 'testsrc' && o.source.kind !== 'v4l2'
  const copyAudio = o.copyAudio === true && (o.source.kind === 'rtsp' || o.source.kind === 'file')
  const size = encodedSize(o.width, o.height)
  const { args: input, audio } = inputArgs(o.source, o, size)

  // One decode, split into the branches that need pixels; a copied stream needs no branch.
  const branches: string[] = []
  const chains: string[] = []
  if (!copyVideo) {
    branches.push('[rec]')
    // A device or stream may not deliver the configured size; the stream always has it.
    const scale = o.source.kind === 'testsrc' ? '' : `scale=${size.width}:${size.height},`
    chains.push(`[rec]${scale}format=yuv420p[vout]`)
  }
  branches.push('[mot]')
  chains.push(`[mot]fps=${motion.fps},scale=${motion.width}:${motion.height},format=gray[motion]`)
  if (snapshot) {
    branches.push('[snp]')
    chains.push(`[snp]fps=${snapshot.fps},scale=${even(snapshot.width)}:-2,format=yuvj420p[snap]`)
  }
  const split = branches.length > 1 ? `[0:v:0]split=${branches.length}${branches.join('')}` : `[0:v:0]null${branches[0]}`
  const graph = [split, ...chains].join(';')

  const gop = String(o.fps)
  const maxrateK = Math.max(300, Math.round((size.width * size.height * o.fps * 0.1) / 1000))
  const video = copyVideo
    ? ['-map', '0:v:0', '-c:v', 'copy']
    : [
        '-map', '[vout]',
        '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
        // A keyframe every second, never earlier on a scene cut: the recorder cuts
        // fragments at keyframes and a preview joins within a second.
        '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
        '-crf', '23', '-maxrate', `${maxrateK}k`, '-bufsize', `${2 * maxrateK}k`,
      ]
  const sound =
    audio === null ? ['-an'] : copyAudio ? ['-map', audio, '-c:a', 'copy'] : ['-map', audio, '-c:a', 'aac', '-b:a', '64k', '-ar', '44100', '-ac', '1']

  return [
    '-hide_banner', '-nostats', '-loglevel', o.logLevel ?? 'error',
    ...input,
    '-filter_complex', graph,
    // (a) the live stream
    ...video, ...sound,
    '-f', 'flv', '-flvflags', 'no_duration_filesize', o.rtmpUrl,
    // (b) motion / watchdog frames
    '-map', '[motion]', '-an', '-f', 'rawvideo', '-pix_fmt', 'gray', `pipe:${MOTION_FD}`,
    // (c) snapshots
    ...(snapshot ? ['-map', '[snap]', '-an', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2pipe', `pipe:${SNAPSHOT_FD}`] : []),
  ]
}
