import type { AudioSource } from '../../infra/sources.js'

/**
 * The level meter's ffmpeg, as argv. The audio is resampled to a fixed rate and cut
 * into windows of `windowMs`; astats measures each window on its own (reset=1) and
 * ametadata prints the result to stdout, unbuffered (direct=1: without it the lines
 * arrive in 4 KiB lumps, seconds late):
 *
 *   frame:12   pts:19200   pts_time:1.2
 *   lavfi.astats.Overall.Peak_level=-5.86
 *   lavfi.astats.Overall.RMS_level=-10.61
 *
 * Nothing is encoded or written: the output is the null muxer.
 */

export const METER_SAMPLE_RATE = 16000

/**
 * Synthetic sound: a quiet 440 Hz tone (about -43 dBFS RMS) with a 1 s burst of loud
 * noise (about -11 dBFS) every 4 s, starting at once, so the demo and the tests hear
 * sounds soon after start.
 */
export const TEST_SOUND = `aevalsrc=exprs='0.01*sin(2*PI*440*t)+if(lt(mod(t\\,4)\\,1)\\,0.5*(2*random(0)-1)\\,0)':s=${METER_SAMPLE_RATE}:c=mono`

/** A source whose `camera` kind has been resolved to the camera's stream URL. */
export type ResolvedAudioSource = Exclude<AudioSource, { kind: 'camera' }>

function inputArgs(source: ResolvedAudioSource): string[] {
  switch (source.kind) {
    case 'testsrc':
      // -re: lavfi renders as fast as the CPU allows; levels must come in real time.
      return ['-re', '-f', 'lavfi', '-i', TEST_SOUND]
    case 'alsa':
      return ['-f', 'alsa', '-i', source.device]
    case 'url':
      // RTSP over TCP: UDP through Wi-Fi loses packets. The socket timeout (µs) turns a
      // silent server into an exit instead of a hang (the level watchdog backs it up).
      // A short probe: the default 5 s of analysis delays the first level, and the
      // start watchdog, for nothing (the meter needs only the audio's format).
      return /^rtsps?:/i.test(source.url)
        ? ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-analyzeduration', '1000000', '-i', source.url]
        : ['-analyzeduration', '1000000', '-i', source.url]
    case 'file':
      return ['-stream_loop', '-1', '-re', '-i', source.path]
  }
}

export function meterFilter(windowMs: number, sampleRate = METER_SAMPLE_RATE): string {
  const samples = Math.max(1, Math.round((sampleRate * windowMs) / 1000))
  return [
    `aresample=${sampleRate}`,
    `asetnsamples=n=${samples}:p=0`,
    'astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level+Peak_level',
    'ametadata=mode=print:file=-:direct=1',
  ].join(',')
}

export function buildMeterArgs(source: ResolvedAudioSource, windowMs: number): string[] {
  return [
    '-hide_banner', '-nostats', '-nostdin', '-loglevel', 'error',
    ...inputArgs(source),
    '-vn', '-sn', '-dn', '-map', '0:a:0',
    '-af', meterFilter(windowMs),
    '-f', 'null', '-',
  ]
}
