import t from 'tap'
import { describeSource, parseCameraSource, redactCredentials } from '../../../infra/sources.js'
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
