import t from 'tap'
import { recorderFfmpegArgs } from '../../../actors/recorder/ffmpegArgs.js'
import { progressOutMs } from '../../../actors/recorder/capture.js'

const base = { inputUrl: 'rtmp://127.0.0.1:1935/live/cam', sessionDir: '/var/rec/20240101T000000Z-abcdef', segmentS: 10, startNumber: 1 }

const valueOf = (args: string[], flag: string) => args[args.indexOf(flag) + 1]

t.test('copy into fragmented mp4 segments', async (t) => {
  const args = recorderFfmpegArgs(base)
  t.equal(valueOf(args, '-i'), 'rtmp://127.0.0.1:1935/live/cam')
  t.equal(valueOf(args, '-c'), 'copy', 'no re-encode')
  t.equal(valueOf(args, '-f'), 'segment')
  t.equal(valueOf(args, '-segment_time'), '10')
  t.equal(valueOf(args, '-reset_timestamps'), '1')
  t.equal(valueOf(args, '-segment_format'), 'mp4')
  t.equal(valueOf(args, '-segment_format_options'), 'movflags=+frag_keyframe+empty_moov+default_base_moof:flush_packets=1')
  t.equal(valueOf(args, '-segment_start_number'), '1')
  t.equal(args.at(-1), '/var/rec/20240101T000000Z-abcdef/seg-%05d.mp4')
  t.ok(args.includes('-nostdin'))
  t.equal(valueOf(args, '-progress'), 'pipe:1', 'progress on stdout: the recorder measures the pre-roll from it')
  t.ok(args.indexOf('-rw_timeout') < args.indexOf('-i'), 'an input option goes before -i')
  t.ok(args.indexOf('-analyzeduration') < args.indexOf('-i'), 'an input option goes before -i')
  t.equal(valueOf(args, '-analyzeduration'), '1000000', 'a short probe: the first header within ~1 s')
  t.same(args.filter((a, i) => args[i - 1] === '-map'), ['0:v', '0:a?'], 'video required, audio when present')
})

t.test('a resumed session continues numbering', async (t) => {
  const args = recorderFfmpegArgs({ ...base, startNumber: 7, segmentS: 4 })
  t.equal(valueOf(args, '-segment_start_number'), '7')
  t.equal(valueOf(args, '-segment_time'), '4')
})

t.test('a % in the dir is escaped for the segment pattern; bad numbers are refused', async (t) => {
  t.equal(recorderFfmpegArgs({ ...base, sessionDir: '/data/100%/x' }).at(-1), '/data/100%%/x/seg-%05d.mp4')
  t.throws(() => recorderFfmpegArgs({ ...base, startNumber: 0 }))
  t.throws(() => recorderFfmpegArgs({ ...base, segmentS: 0 }))
  t.equal(valueOf(recorderFfmpegArgs({ ...base, readTimeoutMs: 1500 }), '-rw_timeout'), '1500000', 'microseconds')
})

t.test('progress lines: out_time_us in ms, anything else null', async (t) => {
  t.equal(progressOutMs('out_time_us=1319000'), 1319)
  t.equal(progressOutMs('out_time_us=N/A'), null, 'before the first packet')
  t.equal(progressOutMs('out_time_ms=1319000'), null, 'the misnamed µs field is not read')
  t.equal(progressOutMs('progress=continue'), null)
})
