/**
 * Issue 3, "Shown by" #1: record 5 s from the synthetic camera through the whole
 * rig (camera ffmpeg → node-media-server → recorder ffmpeg), every segment probes
 * with video and audio, and the segment durations add up to the footage the session
 * says it holds within one second: its (monotonic) duration from the start command to
 * the stop command, plus the measured pre-roll (the media server's cached GOP, from
 * before the start command) and the post-roll tail (docs/ARCHITECTURE.md, "What a
 * recording contains").
 */
import t from 'tap'
import { startTestRig, collect, type TestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { fmt, footageAccountedS, must, probeSegments, readSessionJson, sleep, stopRecording, waitBytes, waitCameraStreaming, type SessionSummary } from './common.js'

interface Measured {
  stopped: SessionSummary
  session: Awaited<ReturnType<typeof readSessionJson>>
  probed: Awaited<ReturnType<typeof probeSegments>>
  sumS: number
  durationS: number
  /** preRollMs + durationMs + postRollMs of session.json, in s: the footage it says it holds. */
  footageS: number
  diffS: number
  wallS: number
  firstBytesS: number
}

/** recorder.start, ~5 s, recorder.stop; probes what was kept. */
async function record5s(r: TestRig, name: string): Promise<Measured & { started: SessionSummary }> {
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name })
  const startedAt = performance.now()
  // Generous hang bound only: bytes must start flowing.
  await waitBytes(r, 0, 20000, 'first recorded bytes')
  const firstBytesS = (performance.now() - startedAt) / 1000
  await sleep(Math.max(0, 5000 - (performance.now() - startedAt)))
  const stopped = await stopRecording(r)
  const wallS = (performance.now() - startedAt) / 1000
  const session = await readSessionJson(stopped.dir)
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  const sumS = probed.reduce((n, p) => n + p.duration, 0)
  const durationS = (session.durationMs ?? NaN) / 1000
  const footageS = footageAccountedS(session)
  return { started, stopped, session, probed, sumS, durationS, footageS, diffS: Math.abs(sumS - footageS), wallS, firstBytesS }
}

const describe = (m: Measured) =>
  `wall ${fmt(m.wallS)} s (start reply → stop reply), session preRollMs ${m.session.preRollMs} durationMs ${m.session.durationMs} ` +
  `postRollMs ${m.session.postRollMs}, segments ${m.probed.map((p) => `${p.file}=${fmt(p.duration)}s`).join(' ')}, sum ${fmt(m.sumS)} s, ` +
  `|sum - footage| ${fmt(m.diffS)} s, first bytes seen by recorder.status after ${fmt(m.firstBytesS)} s`

t.test('record 5 s from the synthetic camera: segments probe, durations add up, session finalized, events published', async (t) => {
  const r = await startTestRig(t, {
    node: 'rec5',
    configure: (c) => {
      c.recorder.segmentS = 2 // several segments in 5 s: segment.closed is exercised too
    },
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)

  // Cold: the camera has only just reported `streaming`; the session is measured from the
  // start command to the stop command, and the recorder's post-roll covers the stream's delay.
  const cold = await record5s(r, 'cold')
  t.comment(`cold start (recording begun as the camera reached streaming): ${describe(cold)}`)
  for (const p of cold.probed) t.ok(p.streams.includes('video') && p.streams.includes('audio'), `cold ${p.file}: ${p.streams.join(',')}`)
  t.ok(cold.diffS <= 1, `cold start: segment durations (${fmt(cold.sumS)} s) within 1 s of the footage session.json accounts for (${fmt(cold.footageS)} s)`)

  // Warm: the rig has been streaming for a while (the media server holds a GOP).
  await sleep(3000)
  const events = collect(r.client, `vigil.${r.node}.event.>`)
  const m = await record5s(r, 'five-seconds')
  const { started, stopped, session, probed } = m
  t.comment(`warm: ${describe(m)}`)
  t.equal(started.state, 'recording', 'start replies with the recording session')
  t.match(started.id, /^\d{8}T\d{6}Z-[a-z2-7]{6}$/i, `session id ${started.id}`)
  t.equal(started.name, 'five-seconds')
  t.equal(stopped.id, started.id, 'stop replies with the same session')
  t.equal(stopped.state, 'finalized')
  t.equal(stopped.deleted, false)
  t.ok(stopped.durationMs !== null && stopped.durationMs >= 4500, `durationMs ${stopped.durationMs}`)

  t.equal(session.state, 'finalized', 'session.json finalized')
  t.equal(session.id, started.id)
  t.equal(session.name, 'five-seconds')
  t.equal(session.schemaVersion, 1)
  t.equal(session.node, r.node)
  t.equal(session.durationMs, stopped.durationMs, 'session.json durationMs = stop reply durationMs')
  t.ok(session.stoppedAt, 'stoppedAt written')
  t.ok(session.segments.length >= 1, `${session.segments.length} segment(s) listed`)
  for (const p of probed) {
    t.ok(p.streams.includes('video'), `${p.file}: video stream (${p.streams.join(',')})`)
    t.ok(p.streams.includes('audio'), `${p.file}: audio stream`)
    t.ok(p.duration > 0, `${p.file}: ${fmt(p.duration)} s`)
  }
  for (const s of session.segments) {
    t.equal(s.bytes, probed.find((p) => p.file === s.file)!.bytes, `${s.file}: bytes in session.json match the file`)
  }
  t.type(session.preRollMs, 'number', `pre-roll measured: ${session.preRollMs} ms`)
  t.ok(Math.abs(session.preRollMs!) <= 3000, 'pre-roll within a few GOPs of the command (a sign error or a stray clock would be far off)')
  t.equal(session.postRollMs, 300, 'the rig\'s post-roll tail is recorded')
  t.ok(m.diffS <= 1, `segment durations (${fmt(m.sumS)} s) within 1 s of the footage session.json accounts for (${fmt(m.footageS)} s = pre-roll + duration + post-roll)`)

  // Events, on vigil.<node>.event.<kind>, in order.
  await waitFor(() => events.seen.some((e) => e.subject.endsWith('.recording.stopped')), 5000, 'recording.stopped event')
  // The recorder's own events: motion and snapshot.saved from the moving test picture
  // interleave with them on the same subject tree and say nothing of the recording.
  const recorderKinds = new Set(['recording.started', 'recording.stopped', 'segment.closed'])
  const own = events.seen.filter((e) => recorderKinds.has(e.subject.slice(`vigil.${r.node}.event.`.length)))
  const kinds = own.map((e) => e.subject.slice(`vigil.${r.node}.event.`.length))
  t.equal(kinds[0], 'recording.started', `first recorder event recording.started (saw ${kinds.join(', ')})`)
  t.equal(kinds.at(-1), 'recording.stopped', 'last recorder event recording.stopped')
  t.match(own[0]!.data, { node: r.node, id: started.id, name: 'five-seconds' })
  t.ok(own[0]!.traceId, 'events carry Vigil-Trace-Id')
  t.match(own.at(-1)!.data, { id: started.id, state: 'finalized', durationMs: session.durationMs, segments: session.segments.length })
  const closed = own.filter((e) => e.subject.endsWith('.segment.closed'))
  t.same(closed.map((e) => e.data.file as string).sort(), session.segments.map((s) => s.file), `segment.closed once per kept segment: ${closed.map((e) => e.data.file).join(', ')}`)
  for (const e of closed) t.equal(e.data.session, started.id)
  events.unsubscribe()

  const after = await must<{ state: string; session: unknown }>(r, 'recorder', 'status')
  t.same(after, { state: 'idle', session: null }, 'recorder idle after the stop')
})
