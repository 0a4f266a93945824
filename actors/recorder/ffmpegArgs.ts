import { join } from 'node:path'

export interface RecorderFfmpegOptions {
  /** The live stream to copy: `rtmp://127.0.0.1:1935/live/cam`, an HTTP-FLV or mpegts URL. */
  inputUrl: string
  sessionDir: string
  segmentS: number
  /** First segment number of this run: a session resumed after a source loss keeps counting. */
  startNumber: number
  /**
   * Network read timeout, the last resort against a read that never ends. A frozen media
   * server is noticed by its heartbeat and a frozen or restarting camera by the camera
   * actor, which tell the recorder; through a camera restart ffmpeg must read on (the
   * media server continues the stream when the camera is back), so this is longer than a
   * camera's restart or an RTSP camera's short reboot. Measured with ffmpeg 5.1 on RTMP
   * (source SIGSTOPped): 2000 ms → exit (code 0, "Input/output error") ~4 s after the last
   * packet, 3000 ms ~9 s. Default 8000 ms.
   */
  readTimeoutMs?: number
  /**
   * How long ffmpeg may analyse the input before writing the first segment header.
   * The default (5 s) kept an RTMP/FLV input in probing for ~3 s: a stop in that
   * window ends ffmpeg before any output exists, so a short recording was lost
   * whole. At 1 s the header is out after ~1.3 s (measured, ffmpeg 5.1) and both
   * streams are still found: the media server sends the AVC/AAC sequence headers
   * first, and the camera's GOP is one second.
   */
  analyzeMs?: number
}

export const SEGMENT_PATTERN = 'seg-%05d.mp4'

/**
 * ffmpeg copies the stream (no re-encode: the recorder must not compete with the
 * camera for CPU) into fragmented MP4 segments. The choices, verified with ffmpeg
 * 5.1 + ffprobe (test/integration/recorder: RTMP from a one-shot ffmpeg server, RTMP
 * and HTTP-FLV from node-media-server; mpegts over HTTP checked by hand):
 *
 * - `-f segment -segment_format mp4 -segment_time S`: the segment muxer cuts at the
 *   first keyframe after S seconds, so every segment starts decodable; with copy it
 *   cannot cut anywhere else (the camera's GOP bounds the error, ~1 s at -g fps).
 * - `movflags=+frag_keyframe+empty_moov+default_base_moof` (passed through
 *   `-segment_format_options`, where the inner mp4 muxer sees it): the moov goes at
 *   the start with no samples, then one moof+mdat per keyframe. A plain MP4 writes
 *   its index at the end, so SIGKILL or power loss would leave a whole segment
 *   unplayable; fragmented, a kill loses at most the fragment being written (~1 s).
 *   Verified: a SIGKILLed run's open segment still probes with both streams.
 *   `default_base_moof` makes fragments self-relative (what browsers/MSE expect).
 * - `flush_packets=1` (same option string, so the inner mp4 muxer gets it; a global
 *   `-flush_packets` does not reach it): without it a finished fragment stays in the
 *   muxer's I/O buffer and nothing but the 28-byte ftyp reaches the disk until the
 *   segment closes, so a SIGKILL lost the whole open segment (10 s by default) and
 *   the bytes the stall watchdog watches only moved once per segment. With it each
 *   fragment is written at its keyframe (measured, ffmpeg 5.1: the file grows every
 *   second; a SIGKILL after 6 s leaves 6.0 s that play).
 * - `-reset_timestamps 1`: each segment starts at t=0, so each plays on its own and
 *   ffprobe durations add up to the recording.
 * - `-segment_start_number N` + `seg-%05d.mp4`: numbering continues across ffmpeg runs
 *   of the same session (source lost and back) instead of overwriting seg-00001.
 * - `-map 0:v -map 0:a?`: video is required, audio is taken when the camera has it
 *   (a rig without a microphone still records).
 * - `-progress pipe:1 -stats_period 0.5`: how much output timeline exists, twice a
 *   second, on stdout. The recording's first footage is the GOP the media server hands
 *   a new reader, from before the start command; the progress is how the recorder
 *   measures that pre-roll (session.json `preRollMs`) instead of guessing it.
 * - `-nostdin`: ffmpeg must not read the terminal; it dies with us through the
 *   process owner's pdeathsig, and SIGTERM makes it finish the open fragment.
 */
export function recorderFfmpegArgs(o: RecorderFfmpegOptions): string[] {
  if (!Number.isInteger(o.startNumber) || o.startNumber < 1) throw new Error(`bad segment start number ${o.startNumber}`)
  if (!(o.segmentS > 0)) throw new Error(`bad segment length ${o.segmentS}`)
  const readTimeoutUs = Math.round((o.readTimeoutMs ?? 8000) * 1000)
  const analyzeUs = Math.round((o.analyzeMs ?? 1000) * 1000)
  // The segment muxer expands % in the whole path: a literal % in the dir must be doubled.
  const output = join(o.sessionDir.replace(/%/g, '%%'), SEGMENT_PATTERN)
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel', 'warning',
    '-progress', 'pipe:1',
    '-stats_period', '0.5',
    '-rw_timeout', String(readTimeoutUs),
    '-analyzeduration', String(analyzeUs),
    '-i', o.inputUrl,
    '-map', '0:v',
    '-map', '0:a?',
    '-c', 'copy',
    '-f', 'segment',
    '-segment_time', String(o.segmentS),
    '-reset_timestamps', '1',
    '-segment_start_number', String(o.startNumber),
    '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof:flush_packets=1',
    output,
  ]
}
