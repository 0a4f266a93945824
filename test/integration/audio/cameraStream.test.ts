import t from 'tap'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { createAudioActor, TEST_SOUND, type AudioDeps } from '../../../actors/audio/index.js'
import { startMediaServer } from '../../helpers/media.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'

t.test('source "camera": levels and a sound from the live RTMP stream on the media server', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const media = await startMediaServer({ processes })
  t.teardown(() => media.stop())
  // What the camera pushes, reduced to a small video and the synthetic bursts.
  processes.spawn(
    FFMPEG,
    [
      '-hide_banner', '-nostats', '-loglevel', 'error',
      '-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x36:rate=5',
      '-re', '-f', 'lavfi', '-i', TEST_SOUND,
      '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '5', '-c:a', 'aac', '-b:a', '32k',
      '-f', 'flv', media.rtmpUrl(),
    ],
    { name: 'ffmpeg-fake-camera' },
  )
  const sounds: Array<Record<string, unknown>> = []
  const deps: AudioDeps = {
    config: { source: 'camera', thresholdDb: -30, minMs: 300, cooldownMs: 1000 },
    ffmpegPath: FFMPEG,
    processes,
    log: silentLogger(),
    cameraUrl: () => media.rtmpUrl(),
    alert: () => {},
    publishEvent: (_kind, payload) => sounds.push(payload),
    timing: { startTimeoutMs: 15000 },
  }
  // The stream may not be published yet when the first meter starts: retry like the supervisor would.
  let actor = createAudioActor(deps)
  const deadline = Date.now() + 30000
  for (;;) {
    actor.start()
    await waitFor(() => actor.getSnapshot().hasTag('ready') || actor.getSnapshot().status === 'done', 20000, 'listening or failed')
    if (actor.getSnapshot().hasTag('ready') || Date.now() > deadline) break
    await new Promise((r) => setTimeout(r, 500))
    actor = createAudioActor(deps)
  }
  t.ok(actor.getSnapshot().hasTag('ready'), 'listening')
  await waitFor(() => sounds.length >= 1, 30000, 'a sound from the stream')
  t.equal(sounds[0]!['source'], 'camera')
  const pid = actor.getSnapshot().context.pid!
  actor.send({ type: 'STOP' })
  await waitFor(() => actor.getSnapshot().status === 'done', 5000, 'stopped')
  t.same(actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  await waitFor(() => !isAlive(pid), 5000, 'the meter is gone')
})
