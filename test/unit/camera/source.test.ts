import t from 'tap'
import { cameraCodecProblems, cameraCodecs, describeSource, parseCameraSource, redactCredentials } from '../../../infra/sources.js'
import { VigilError } from '../../../infra/errors.js'

t.test('parses every documented source form', async (t) => {
  t.same(parseCameraSource('testsrc'), { kind: 'testsrc' })
  t.same(parseCameraSource('v4l2:/dev/video0'), { kind: 'v4l2', device: '/dev/video0' })
  t.same(parseCameraSource('rtsp://u:p@cam:554/s'), { kind: 'rtsp', url: 'rtsp://u:p@cam:554/s' })
  t.same(parseCameraSource('rtsps://cam/s'), { kind: 'rtsp', url: 'rtsps://cam/s' })
  t.same(parseCameraSource('file:/clips/a.mp4'), { kind: 'file', path: '/clips/a.mp4' })
})

t.test('rejects anything else with BAD_REQUEST, without leaking credentials', async (t) => {
  for (const bad of ['webcam', 'v4l2:video0', 'file:', 'http://u:secret@x/y', '']) {
    const err = t.throws(() => parseCameraSource(bad)) as VigilError
    t.equal(err.code, 'BAD_REQUEST', bad)
    t.notMatch(err.message, /secret/)
  }
})

t.test('redacts credentials in URLs anywhere in a text', async (t) => {
  t.equal(redactCredentials('rtsp://admin:hunter2@10.0.0.9:554/s'), 'rtsp://***@10.0.0.9:554/s')
  t.equal(redactCredentials('[error] rtsp://admin:hunter2@cam/s: Connection refused'), '[error] rtsp://***@cam/s: Connection refused')
  t.equal(redactCredentials('rtsp://cam/s'), 'rtsp://cam/s')
  t.equal(describeSource(' rtsp://a:b@cam/x '), 'rtsp://***@cam/x')
  t.equal(describeSource('testsrc'), 'testsrc')
})

t.test('codecs: an RTSP camera is copied by default, its sound encoded; copy refused for raw sources', async (t) => {
  const rtsp = parseCameraSource('rtsp://cam/s')
  t.same(cameraCodecs(rtsp), { copyVideo: true, copyAudio: false }, 'rtsp: copy H.264, encode the sound (it may be G.711)')
  t.same(cameraCodecs(rtsp, { videoCodec: 'encode' }), { copyVideo: false, copyAudio: false }, 'an H.265 camera: encode')
  t.same(cameraCodecs(rtsp, { audioCodec: 'copy' }), { copyVideo: true, copyAudio: true }, 'a camera that sends AAC')
  const file = parseCameraSource('file:/clips/a.mp4')
  t.same(cameraCodecs(file), { copyVideo: false, copyAudio: false }, 'a file may hold anything: encoded unless asked')
  t.same(cameraCodecs(file, { videoCodec: 'copy', audioCodec: 'copy' }), { copyVideo: true, copyAudio: true })
  for (const raw of ['testsrc', 'v4l2:/dev/video0']) {
    const source = parseCameraSource(raw)
    t.same(cameraCodecs(source), { copyVideo: false, copyAudio: false }, `${raw}: encoded`)
    t.same(cameraCodecProblems(source, {}), [])
    const problems = cameraCodecProblems(source, { videoCodec: 'copy', audioCodec: 'copy' })
    t.equal(problems.length, 2, `${raw}: one line per field`)
    t.match(problems[0], /^camera\.videoCodec: "copy" needs an rtsp:\/\/ or file: source/)
    t.match(problems[1], /^camera\.audioCodec: "copy" needs an rtsp:\/\/ or file: source/)
    const err = t.throws(() => cameraCodecs(source, { videoCodec: 'copy' })) as VigilError
    t.equal(err.code, 'BAD_REQUEST')
  }
})
