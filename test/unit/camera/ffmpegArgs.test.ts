import t from 'tap'
import { buildFfmpegArgs, encodedSize, motionFrameBytes, type FfmpegArgsOptions } from '../../../actors/camera/ffmpegArgs.js'
import { parseCameraSource } from '../../../infra/sources.js'

const RTMP = 'rtmp://127.0.0.1:1935/live/cam'
const base = (source: string, extra: Partial<FfmpegArgsOptions> = {}): string[] =>
  buildFfmpegArgs({ source: parseCameraSource(source), width: 1280, height: 720, fps: 15, rtmpUrl: RTMP, ...extra })

/** The value after a flag (first occurrence from `from`). */
const after = (args: string[], flag: string, from = 0) => {
  const i = args.indexOf(flag, from)
  return i < 0 ? undefined : args[i + 1]
}
const graph = (args: string[]) => after(args, '-filter_complex') ?? ''
/** The argv of the output that ends with `target`. */
const outputSlice = (args: string[], target: string) => {
  const end = args.indexOf(target)
  let start = end - 1
  while (start > 0 && !/^(rtmp:|pipe:)/.test(args[start - 1]!) && args[start - 1] !== graph(args)) start--
  return args.slice(start, end + 1)
}

t.test('testsrc: moving picture and bursty sound, real time, rendered at size', async (t) => {
  const args = base('testsrc')
  t.equal(args.filter((a) => a === '-re').length, 1, 'the lavfi input paced to real time')
  t.equal(args.filter((a) => a === '-i').length, 1, 'picture and sound from one input: they are read in step (no bursts)')
  const input = args[args.indexOf('-i') + 1]!
  t.match(input, /^testsrc2=size=1280x720:rate=15\[out0\];/)
  t.match(input.split(';')[1], /^aevalsrc=.*mod\(t.*random.*\[out1\]$/, 'tone plus periodic noise bursts')
  t.equal(after(outputSlice(args, RTMP), '-map', 1), '0:a:0', 'the sound is the same input\'s')
  t.notMatch(graph(args), /\[rec\]scale/, 'no scaling of a generated picture')
  t.notOk(args.includes('-nostdin'), 'stdin kept for q')
})

t.test('encode: libx264 veryfast/zerolatency, 1 s keyframes, yuv420p, aac, flv to the media server', async (t) => {
  const args = base('testsrc')
  const live = outputSlice(args, RTMP)
  t.equal(after(live, '-c:v'), 'libx264')
  t.equal(after(live, '-preset'), 'veryfast')
  t.equal(after(live, '-tune'), 'zerolatency')
  t.equal(after(live, '-pix_fmt'), 'yuv420p')
  t.equal(after(live, '-g'), '15', 'GOP = fps: a keyframe per second')
  t.equal(after(live, '-keyint_min'), '15')
  t.equal(after(live, '-sc_threshold'), '0', 'no extra keyframes on scene cuts')
  t.equal(after(live, '-c:a'), 'aac')
  t.equal(after(live, '-f'), 'flv')
  t.equal(after(live, '-map'), '[vout]')
  t.equal(after(base('testsrc', { fps: 25 }), '-g'), '25')
})

t.test('motion frames: small grey raw video on fd 3', async (t) => {
  const args = base('testsrc')
  const out = outputSlice(args, 'pipe:3')
  t.same(out, ['-map', '[motion]', '-an', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:3'])
  t.match(graph(args), /\[mot\]fps=5,scale=160:90,format=gray\[motion\]/)
  t.equal(motionFrameBytes(), 160 * 90)
  const custom = base('testsrc', { motion: { width: 320, height: 180, fps: 2 } })
  t.match(graph(custom), /fps=2,scale=320:180,format=gray/)
})

t.test('snapshots: 1 fps MJPEG on fd 4, or none', async (t) => {
  const args = base('testsrc')
  t.same(outputSlice(args, 'pipe:4'), ['-map', '[snap]', '-an', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2pipe', 'pipe:4'])
  t.match(graph(args), /\[snp\]fps=1,scale=640:-2,format=yuvj420p\[snap\]/)
  t.match(graph(args), /^\[0:v:0\]split=3\[rec\]\[mot\]\[snp\]/)
  const none = base('testsrc', { snapshot: null })
  t.notOk(none.includes('pipe:4'))
  t.match(graph(none), /^\[0:v:0\]split=2\[rec\]\[mot\];/)
})

t.test('v4l2: capture at the configured size, scaled to it, silent audio track', async (t) => {
  const args = base('v4l2:/dev/video0')
  t.same(args.slice(args.indexOf('v4l2') - 1, args.indexOf('v4l2') + 7), ['-f', 'v4l2', '-framerate', '15', '-video_size', '1280x720', '-i', '/dev/video0'])
  t.ok(args.includes('anullsrc=r=44100:cl=mono'))
  t.notOk(args.includes('-re'), 'a live device paces itself')
  t.match(graph(args), /\[rec\]scale=1280:720,format=yuv420p\[vout\]/)
  t.equal(after(args, '-c:v'), 'libx264')
  t.equal(after(base('v4l2:/dev/video0', { copyVideo: true }), '-c:v'), 'libx264', 'a raw device cannot be copied')
})

t.test('rtsp: tcp transport and a socket timeout; optional audio', async (t) => {
  const args = base('rtsp://user:pw@10.0.0.9:554/stream1')
  t.equal(after(args, '-rtsp_transport'), 'tcp')
  t.equal(after(args, '-timeout'), '5000000')
  t.equal(after(args, '-fpsprobesize'), '0', 'no frame-rate probing: a reconnect streams ~1 s sooner')
  t.ok(args.indexOf('-fpsprobesize') < args.indexOf('-i'), 'an input option')
  t.equal(after(args, '-i'), 'rtsp://user:pw@10.0.0.9:554/stream1')
  t.equal(after(args, '-map', args.indexOf('[vout]')), '0:a:0?', 'audio when the camera has it')
  t.equal(after(args, '-c:v'), 'libx264')
})

t.test('copy when the source is already H.264: no re-encode, still decoded for motion', async (t) => {
  const rtsp = base('rtsp://cam/stream', { copyVideo: true })
  t.same(outputSlice(rtsp, RTMP).slice(4, 6), ['-map', '0:a:0?'], 'the camera\'s sound, when it has some')
  t.equal(after(outputSlice(rtsp, RTMP), '-c:a'), 'aac', 'encoded unless copyAudio (G.711 fits neither FLV nor MP4)')
  const args = base('rtsp://cam/stream', { copyVideo: true, copyAudio: true })
  const live = outputSlice(args, RTMP)
  t.same(live.slice(0, 4), ['-map', '0:v:0', '-c:v', 'copy'])
  t.notOk(args.includes('libx264'))
  t.notOk(live.includes('-g'), 'the source decides keyframes when copying')
  t.equal(after(live, '-c:a'), 'copy')
  t.match(graph(args), /^\[0:v:0\]split=2\[mot\]\[snp\];/)
  t.notMatch(graph(args), /\[rec\]/)
  const noSnap = base('file:/clips/a.mp4', { copyVideo: true, snapshot: null })
  t.match(graph(noSnap), /^\[0:v:0\]null\[mot\];/)
})

t.test('file: looped forever at real time', async (t) => {
  const args = base('file:/clips/nap.mp4')
  t.same(args.slice(args.indexOf('-stream_loop'), args.indexOf('-stream_loop') + 5), ['-stream_loop', '-1', '-re', '-i', '/clips/nap.mp4'])
})

t.test('the encode is at the configured size, made even for yuv420p', async (t) => {
  t.same(encodedSize(1280, 720), { width: 1280, height: 720 })
  t.same(encodedSize(641, 359), { width: 642, height: 360 }, 'even sizes for yuv420p')
})

t.test('quiet, machine-readable stderr', async (t) => {
  const args = base('testsrc')
  t.same(args.slice(0, 4), ['-hide_banner', '-nostats', '-loglevel', 'error'])
})
