/**
 * Issue 3, "Shown by" #3: SIGKILL the media server process (node-media-server in its
 * forked child) during a recording: the supervisor restarts it, the camera pushes
 * again, the recording resumes in the same session and the gap is recorded.
 */
import t from 'tap'
import { collect, startTestRig } from '../helpers/rig.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import {
  camStatusOrNull,
  fmt,
  must,
  probeSegments,
  readSessionJson,
  recStatus,
  sleep,
  stopRecording,
  waitBytes,
  waitCameraStreaming,
  type CamStatus,
  type SessionSummary,
} from '../integration/pipeline/common.js'

t.test('SIGKILL of the media server mid-recording: restarted, camera streams again, recording resumes in the same session', async (t) => {
  const r = await startTestRig(t, {
    node: 'mediakill',
    configure: (c) => {
      c.recorder.segmentS = 2
    },
  })
  const mediaStates = collect(r.client, `vigil.${r.node}.state.media`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'media-kill' })
  await waitBytes(r, 0, 20000)
  await sleep(3000)
  const before = await recStatus(r)
  const media = await r.child('media')
  t.equal(media.status, 'running')
  t.equal(media.pids.length, 1, `media child owns one process (${media.pids[0]})`)
  const restartsBefore = media.restarts
  const camBefore = (await camStatusOrNull(r))!
  const mediaPid = media.pids[0]!
  const killedAt = Date.now()
  process.kill(mediaPid, 'SIGKILL')

  await waitFor(async () => {
    const m = await r.child('media').catch(() => null)
    return m !== null && m.status === 'running' && m.restarts >= restartsBefore + 1 && m.pids.length === 1 && m.pids[0] !== mediaPid
  }, 60000, 'media restarted by the supervisor and running', 100)
  const mediaBackS = (Date.now() - killedAt) / 1000
  const after = await r.child('media')
  t.ok(after.restarts >= 1, `media restarts ${after.restarts}`)
  t.not(after.pids[0], mediaPid, `new media server process ${after.pids[0]}`)
  await waitFor(() => !isAlive(mediaPid), 5000, 'old media process reaped')
  t.ok(
    alerts.seen.some((a) => a.data.code === 'supervisor.child_restarting' && a.data.source === 'media'),
    'supervisor.child_restarting alert for media',
  )

  let cam: CamStatus | null = null
  await waitFor(async () => {
    cam = await camStatusOrNull(r)
    return cam?.state === 'streaming' && cam.pids.length === 1 && cam.pids[0] !== camBefore.pids[0]
  }, 60000, 'camera streaming again to the new media server', 100)
  const camBackS = (Date.now() - killedAt) / 1000

  const mid = await recStatus(r)
  t.equal(mid.session?.id, started.id, 'same session after the media restart')
  await waitBytes(r, Math.max(before.session!.bytes, mid.session!.bytes), 60000, 'bytes growing again after the media restart')
  const resumedS = (Date.now() - killedAt) / 1000
  await sleep(3000)
  const grown = await recStatus(r)
  t.equal(grown.session?.id, started.id, 'still the same session')
  t.ok(grown.session!.segments > before.session!.segments, `new segments after the restart (${before.session!.segments} → ${grown.session!.segments})`)

  const stopped = await stopRecording(r)
  t.equal(stopped.id, started.id)
  t.equal(stopped.state, 'finalized')
  const session = await readSessionJson(stopped.dir)
  t.ok(session.gaps.length >= 1, `gap(s) recorded: ${JSON.stringify(session.gaps)}`)
  t.ok(session.gaps.some((g) => Date.parse(g.at) >= killedAt - 1000 && Date.parse(g.at) <= killedAt + 15000), 'a gap opened at the kill')
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video'), `${p.file} probes (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
  const sumS = probed.reduce((n, p) => n + p.duration, 0)
  const states = mediaStates.seen.filter((m) => Date.parse(m.data.since as string) >= killedAt - 50).map((m) => m.data.state)
  t.comment(
    `media running again ${fmt(mediaBackS)} s after SIGKILL (states ${states.join(' → ')}), camera streaming ${fmt(camBackS)} s, ` +
      `recording bytes growing ${fmt(resumedS)} s; session ${session.durationMs} ms, media ${fmt(sumS)} s in ${probed.length} segments, ` +
      `gaps ${session.gaps.map((g) => `${g.ms} ms (${g.reason})`).join('; ')}`,
  )
})
