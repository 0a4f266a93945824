/**
 * Issue 16 point 1, "start → first bytes ≤ 0.5 s": the warm start (`recorder.warmStartS`,
 * default 1). A buffer ffmpeg keeps the live stream in 1 s segments; a start by hand moves
 * the newest closed one into the session before it replies, so footage is on disk when the
 * reply arrives, and the bridge moves in what the buffer holds up to the recorder ffmpeg's
 * first keyframe. Shown here through the whole rig: the files are there at the reply, every
 * file plays, the footage has no hole between the buffered second and the recording, a
 * stop at once keeps the buffered second, and the buffer is the recorder child's process.
 */
import t from 'tap'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig } from '../../helpers/rig.js'
import { processesMentioning } from '../../helpers/procs.js'
import { waitFor } from '../../helpers/wait.js'
import { fmt, must, probeSegments, readSessionJson, sleep, stopRecording, waitCameraStreaming, type SessionSummary } from './common.js'

t.test('warm start: buffered footage in the session at the reply, no hole up to the recording, a stop at once keeps it', async (t) => {
  const r = await startTestRig(t, {
    node: 'warm',
    configure: (c) => {
      c.recorder.warmStartS = 1
      c.recorder.segmentS = 2
    },
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  const recordingsDir = r.rig.dirs.recordings
  // The buffer needs a closed segment or two (1 s each) before a start can take one.
  await waitFor(async () => (await readdir(join(recordingsDir, '.prebuffer')).catch(() => [] as string[])).filter((f) => f.startsWith('buf-')).length >= 3, 30000, 'buffered segments', 100)

  const writers = await processesMentioning(recordingsDir, { ffmpegOnly: true })
  t.equal(writers.length, 1, 'one process writes under the recordings dir while idle: the buffer ffmpeg')
  t.match(writers[0]?.cmd ?? '', /\.prebuffer\/buf-%06d\.mp4$/, 'its output is the hidden buffer dir')
  t.same((await r.child('recorder')).pids, writers.map((w) => w.pid), 'it is the recorder child’s process (the tree lists it, a kill of the child ends it)')

  const holes: number[] = []
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now()
    const started = await must<SessionSummary>(r, 'recorder', 'start', { name: `warm-${i}` })
    const replyMs = performance.now() - t0
    const atReply = await readdir(started.dir)
    const pre = atReply.filter((f) => f.startsWith('pre-'))
    const preBytes = pre.length ? (await stat(join(started.dir, pre[0]!))).size : 0
    t.ok(pre.length >= 1 && preBytes > 0, `trial ${i}: footage on disk when the reply came (${replyMs.toFixed(0)} ms): ${atReply.join(', ')} (${preBytes} B)`)
    // Long enough for the recorder's first keyframe, the bridge a second after it, and a segment or two.
    await sleep(4000 + i * 300)
    const stopped = await stopRecording(r)
    const session = await readSessionJson(stopped.dir)
    const preFiles = session.preRollFiles ?? []
    t.ok(preFiles.length >= 1, `trial ${i}: session.json lists the buffered files: ${preFiles.map((f) => `${f.file} ${f.ms} ms`).join(', ')}`)
    const files = (await readdir(stopped.dir)).filter((f) => f.endsWith('.mp4')).sort()
    t.same(files.filter((f) => f.startsWith('pre-')), preFiles.map((f) => f.file), `trial ${i}: every pre-* file on disk is listed, in play order`)
    const probed = await probeSegments(stopped.dir, files)
    for (const p of probed) t.ok(p.streams.includes('video') && p.streams.includes('audio'), `trial ${i} ${p.file}: ${p.duration.toFixed(2)} s, ${p.streams.join(',')}`)
    // The footage's wall-clock span: from where the first buffered file began (its mtime is where
    // it ended; renames keep it) to the stop plus the post-roll tail. What it does not hold is a hole.
    const first = preFiles[0]!
    const firstEndWall = (await stat(join(stopped.dir, first.file))).mtimeMs
    const spanS = (Date.parse(session.startedAt) + (session.durationMs ?? 0) + (session.postRollMs ?? 0) - (firstEndWall - first.ms)) / 1000
    const heldS = probed.reduce((n, p) => n + p.duration, 0)
    const holeS = spanS - heldS
    holes.push(holeS)
    t.comment(`trial ${i}: reply ${replyMs.toFixed(0)} ms; buffered ${preFiles.length} file(s) ${preFiles.reduce((n, f) => n + f.ms, 0)} ms; recorder preRollMs ${session.preRollMs}; span ${fmt(spanS)} s, held ${fmt(heldS)} s → not held ${fmt(holeS)} s`)
    // A second (the camera's GOP) is what a hole between the buffered second and the recording
    // costs; the rest is clock and probe rounding (the camera's frames are 67 ms apart).
    t.ok(holeS <= 0.6, `trial ${i}: no hole between the buffered footage and the recording (span − held ${fmt(holeS)} s ≤ 0.6 s)`)
    await sleep(1500)
  }
  t.comment(`span − held per trial: ${holes.map((h) => fmt(h)).join(', ')} s`)

  // A stop at once: the recorder ffmpeg wrote nothing, the buffered second is the recording.
  const quick = await must<SessionSummary>(r, 'recorder', 'start', { name: 'quick' })
  const quickStopped = await stopRecording(r)
  t.equal(quickStopped.id, quick.id)
  t.equal(quickStopped.deleted, false, 'a start stopped at once keeps its buffered second (not deleted as empty)')
  const quickSession = await readSessionJson(quickStopped.dir)
  t.ok((quickSession.preRollFiles ?? []).length >= 1, `listed: ${(quickSession.preRollFiles ?? []).map((f) => f.file).join(', ')}`)
  const quickProbe = await probeSegments(quickStopped.dir, (quickSession.preRollFiles ?? []).map((f) => f.file))
  t.ok(quickProbe.every((p) => p.streams.includes('video') && p.duration > 0.5), `the buffered second plays: ${quickProbe.map((p) => `${p.file} ${p.duration.toFixed(2)} s`).join(', ')}`)
})
