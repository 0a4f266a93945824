/**
 * Issue 5, "Shown by" #1: the synthetic rig (testsrc camera with its bursts of sound,
 * audio metered from the camera's live stream) for up to 30 s shows a sound event,
 * a motion event and a saved snapshot that is a JPEG; camera.snapshot over NATS saves
 * one too.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startTestRig, collect } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { must, waitCameraStreaming } from '../pipeline/common.js'
import { hex, isJpeg, secs } from './common.js'

t.test('synthetic rig: sound, motion, snapshot.saved and a JPEG on disk within 30 s', async (t) => {
  const r = await startTestRig(t, { node: 'monsyn' })
  const sound = collect(r.client, `vigil.${r.node}.event.sound`)
  const motion = collect(r.client, `vigil.${r.node}.event.motion`)
  const saved = collect(r.client, `vigil.${r.node}.event.snapshot.saved`)
  t.teardown(() => {
    sound.unsubscribe()
    motion.unsubscribe()
    saved.unsubscribe()
  })
  await r.ready()
  await waitCameraStreaming(r)
  const t0 = Date.now()
  await waitFor(() => sound.seen.length >= 1 && motion.seen.length >= 1 && saved.seen.length >= 1, 30000, 'a sound, a motion and a snapshot.saved event', 200)
  const tookMs = Date.now() - t0
  t.comment(`after camera streaming: ${secs(tookMs)} s; sound ${sound.seen.length}, motion ${motion.seen.length}, snapshot.saved ${saved.seen.length}`)
  t.ok(sound.seen.length >= 1, 'a sound event')
  t.ok(motion.seen.length >= 1, 'a motion event')
  const s0 = sound.seen[0]!.data
  t.comment(`first sound: ${JSON.stringify(s0)}`)
  t.equal(s0['source'], 'camera', 'the sound came from the camera stream')
  t.ok(typeof s0['db'] === 'number' && (s0['db'] as number) > (s0['thresholdDb'] as number), `sound level ${String(s0['db'])} dBFS above the threshold ${String(s0['thresholdDb'])}`)
  const m0 = motion.seen[0]!.data
  t.comment(`first motion: ${JSON.stringify(m0)}`)
  t.ok(typeof m0['score'] === 'number' && (m0['score'] as number) > 0, 'motion has a score')

  const file = saved.seen[0]!.data['file'] as string
  t.ok(typeof file === 'string' && file.length > 0, `snapshot.saved names a file: ${file}`)
  const bytes = await readFile(join(r.dataDir, 'snapshots', file))
  t.comment(`snapshot ${file}: ${bytes.length} bytes, starts ${hex(bytes)}`)
  t.ok(isJpeg(bytes), 'the saved snapshot starts with FF D8 FF')
  t.equal(bytes.length, saved.seen[0]!.data['bytes'], 'the event gives its size')

  const cmd = await must<{ file: string; bytes: number }>(r, 'camera', 'snapshot')
  const viaCmd = await readFile(join(r.dataDir, 'snapshots', cmd.file))
  t.comment(`camera.snapshot → ${cmd.file}: ${viaCmd.length} bytes, starts ${hex(viaCmd)}`)
  t.ok(isJpeg(viaCmd), 'camera.snapshot saved a JPEG')
  t.equal(viaCmd.length, cmd.bytes, 'its reply gives its size')
  const files = await readdir(join(r.dataDir, 'snapshots'))
  t.ok(files.includes(file) && files.includes(cmd.file), `snapshots/ holds both (${files.length} files)`)
})
