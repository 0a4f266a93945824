import t from 'tap'
import { buildMeterArgs, meterFilter, TEST_SOUND } from '../../../actors/audio/ffmpegArgs.js'
import { describeAudioSource, parseAudioSource } from '../../../infra/sources.js'
import { VigilError } from '../../../infra/errors.js'

t.test('sources', async (t) => {
  t.same(parseAudioSource('camera'), { kind: 'camera' })
  t.same(parseAudioSource(' testsrc '), { kind: 'testsrc' })
  t.same(parseAudioSource('alsa:default'), { kind: 'alsa', device: 'default' })
  t.same(parseAudioSource('alsa:hw:1,0'), { kind: 'alsa', device: 'hw:1,0' })
  t.same(parseAudioSource('rtmp://127.0.0.1:1935/live/cam'), { kind: 'url', url: 'rtmp://127.0.0.1:1935/live/cam' })
  t.same(parseAudioSource('file:/clips/a.mp4'), { kind: 'file', path: '/clips/a.mp4' })
  for (const bad of ['', 'alsa:', 'mic', 'file:', '/dev/snd']) {
    let caught: unknown
    try {
      parseAudioSource(bad)
    } catch (err) {
      caught = err
    }
    t.ok(caught instanceof VigilError && caught.code === 'BAD_REQUEST', `${JSON.stringify(bad)} is refused`)
  }
  t.equal(describeAudioSource(parseAudioSource('rtsp://admin:secret@cam/s1')), 'rtsp://***@cam/s1')
})

t.test('the filter measures 100 ms windows at 16 kHz and prints unbuffered', async (t) => {
  t.equal(
    meterFilter(100),
    'aresample=16000,asetnsamples=n=1600:p=0,astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=RMS_level+Peak_level,ametadata=mode=print:file=-:direct=1',
  )
  t.match(meterFilter(50), /asetnsamples=n=800:/)
})

t.test('argv per source', async (t) => {
  const synth = buildMeterArgs({ kind: 'testsrc' }, 100)
  t.same(synth.slice(0, 5), ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'error'])
  t.same(synth.slice(5, 9), ['-re', '-f', 'lavfi', '-i'])
  t.equal(synth[9], TEST_SOUND)
  t.same(synth.slice(-3), ['-f', 'null', '-'])
  t.ok(synth.includes('-vn'))
  t.same(synth.slice(synth.indexOf('-map'), synth.indexOf('-map') + 2), ['-map', '0:a:0'])

  const alsa = buildMeterArgs({ kind: 'alsa', device: 'default' }, 100)
  t.same(alsa.slice(5, 9), ['-f', 'alsa', '-i', 'default'])
  const rtsp = buildMeterArgs({ kind: 'url', url: 'rtsp://cam/s' }, 100)
  t.same(rtsp.slice(5, 13), ['-rtsp_transport', 'tcp', '-timeout', '5000000', '-analyzeduration', '1000000', '-i', 'rtsp://cam/s'])
  const rtmp = buildMeterArgs({ kind: 'url', url: 'rtmp://127.0.0.1:1935/live/cam' }, 100)
  t.same(rtmp.slice(5, 9), ['-analyzeduration', '1000000', '-i', 'rtmp://127.0.0.1:1935/live/cam'])
  const file = buildMeterArgs({ kind: 'file', path: '/a.mp4' }, 100)
  t.same(file.slice(5, 10), ['-stream_loop', '-1', '-re', '-i', '/a.mp4'])
})

t.test('the synthetic source escapes its commas for the filter graph', async (t) => {
  t.match(TEST_SOUND, /^aevalsrc=exprs='.*mod\(t\\,4\)\\,1\).*':s=16000:c=mono$/)
})
