import t from 'tap'
import { join } from 'node:path'
import { createRecorderActor } from '../../../actors/recorder/index.js'
import { readSession } from '../../../actors/recorder/session.js'
import { startMediaServer, type RunningMediaServer } from '../../helpers/media.js'
import { FFMPEG, ffprobe, ProcessOwner, recorderDeps, sleep, tempDir, waitFor } from './fixtures.js'

/** The camera's job, reduced: push testsrc2 + tone as H.264/AAC FLV to the media server. */
function camera(processes: ProcessOwner, media: RunningMediaServer) {
  return processes.spawn(
    FFMPEG,
    [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15',
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', media.rtmpUrl(),
    ],
    { name: 'test-camera' },
  )
}

for (const via of ['rtmp', 'http-flv'] as const) {
  t.test(`through the real media server (${via}): records, survives a media restart in the same session`, async (t) => {
    const processes = new ProcessOwner()
    t.teardown(() => processes.killAll())
    let media = await startMediaServer({ processes })
    t.teardown(() => media.stop())
    const ports = media.ports
    let cam = camera(processes, media)
    const dir = await tempDir(t)
    // A function: the URL is read at every ffmpeg spawn, as the runtime does with picked ports.
    const rec = createRecorderActor(
      recorderDeps({ recordingsDir: dir, inputUrl: () => (via === 'rtmp' ? media.rtmpUrl() : media.flvUrl()), processes }),
    )
    t.teardown(() => rec.actor.stop())
    rec.actor.start()
    await waitFor(() => rec.status().state === 'idle', 5000, 'idle')
    await sleep(1000) // the camera is publishing
    const started = await rec.start({ name: via })
    await waitFor(() => (rec.status().session?.bytes ?? 0) > 0, 15_000, 'first bytes')
    await sleep(3000)

    await cam.stop(2000)
    await media.stop()
    await sleep(1500)
    media = await startMediaServer({ processes, ports })
    cam = camera(processes, media)
    const before = rec.status().session?.bytes ?? 0
    await waitFor(() => (rec.status().session?.bytes ?? 0) > before, 20_000, 'bytes after the media restart')
    await sleep(3000)
    t.equal(rec.status().session?.id, started.id, 'same session across the media restart')

    const summary = await rec.stop()
    t.equal(summary.state, 'finalized')
    const session = await readSession(summary.dir)
    t.ok((session?.gaps.length ?? 0) >= 1, `gap recorded: ${JSON.stringify(session?.gaps)}`)
    const files = (session?.segments ?? []).map((s) => s.file)
    t.same(files.map((f) => Number(f.slice(4, 9))), files.map((_, i) => i + 1), `numbering continues: ${files.join(' ')}`)
    for (const f of files) {
      const p = await ffprobe(join(summary.dir, f))
      t.ok(p.streams.includes('video') && p.streams.includes('audio'), `${f}: ${p.streams.join(',')} ${p.duration.toFixed(2)} s`)
    }
    await cam.stop(2000)
    t.same(rec.pids(), [])
  })
}
