/**
 * Issue 13 (hygiene) finding 1: camera and audio sources whose URL carries credentials
 * (with `@` in the password) point at a port where nothing listens. ffmpeg echoes the URL
 * on stderr when it fails; that reason becomes camera.device_error / audio.down, the
 * alert list of GET /api/v1/alerts, status replies and log lines. None may carry the secret.
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { startTestRig, collect } from '../helpers/rig.js'
import { freePort } from '../helpers/natsServer.js'
import { waitFor } from '../helpers/wait.js'

// Fragments of the two passwords and user names; none may appear anywhere.
const FORBIDDEN = ['c4m@pw', 'm1c@pw', 'pw@127', 'camuser', 'micuser']

function leaks(text: string): string[] {
  return FORBIDDEN.filter((f) => text.includes(f))
}

t.test('source credentials stay out of alerts, /api/v1/alerts, status and the log', async (t) => {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'))
      done()
    },
  })
  const log = pino({ level: 'debug' }, sink)
  const closed = await freePort()
  const r = await startTestRig(t, {
    node: 'secrets',
    log,
    configure: (c) => {
      c.camera.source = `rtsp://camuser:c4m@pw@127.0.0.1:${closed}/stream`
      c.audio.source = `rtmp://micuser:m1c@pw@127.0.0.1:${closed}/live/mic`
    },
  })
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  t.teardown(() => alerts.unsubscribe())

  const has = (code: string) => alerts.seen.some((a) => a.data['code'] === code)
  await waitFor(() => has('audio.down') && has('camera.device_error'), 30000, 'audio.down and camera.device_error', 100)
  // The reasons came from ffmpeg's stderr, which names the URL.
  const down = alerts.seen.find((a) => a.data['code'] === 'audio.down')!
  const device = alerts.seen.find((a) => a.data['code'] === 'camera.device_error')!
  t.comment(`audio.down: ${String(down.data['message'])}`)
  t.comment(`camera.device_error: ${String(device.data['message'])}`)
  t.match(String(down.data['message']), /127\.0\.0\.1/, 'the audio reason is ffmpeg\'s line about the URL')
  t.match(String(device.data['message']), /127\.0\.0\.1|refused/i, 'the camera reason is ffmpeg\'s')

  t.same(leaks(JSON.stringify(alerts.seen)), [], 'NATS alerts')

  const res = await fetch(`http://127.0.0.1:${r.rig.ports.web}/api/v1/alerts`)
  t.equal(res.status, 200)
  const body = await res.text()
  t.match(body, /audio\.down/)
  t.same(leaks(body), [], 'GET /api/v1/alerts')

  for (const [actor, verb] of [['audio', 'status'], ['camera', 'status'], ['supervisor', 'status']] as const) {
    const reply = await r.cmd(actor, verb)
    t.same(leaks(JSON.stringify(reply)), [], `${actor}.${verb}`)
  }
  const state = await fetch(`http://127.0.0.1:${r.rig.ports.web}/api/v1/state`)
  t.same(leaks(await state.text()), [], 'GET /api/v1/state')

  const logged = lines.join('')
  t.ok(logged.length > 0)
  t.same(leaks(logged), [], 'the log')
})
