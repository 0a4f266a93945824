/**
 * Issue 3, "Shown by" #3: SIGKILL the media server process (node-media-server in its
 * forked child) during a recording: the supervisor restarts it, the camera pushes
 * again, the recording resumes in the same session and the gap is recorded.
 * SIGSTOP it: its heartbeats stop, media goes `failed` after `media.heartbeatTimeoutMs`
 * (DESIGN §9.5: it leaves `running` in ≤ 3 s), the frozen server is killed (not left
 * stopped) and the supervisor starts a new one at once; the recording resumes in the same
 * session, its gap ending within RECORDER_RESUMES_WITHIN_S of the camera streaming again.
 * Both: the footage kept covers the recorded time but for ~1 s at the fault (footage.ts).
 */
import t from 'tap'
import { join } from 'node:path'
import { collect, startTestRig, type TestRig } from '../helpers/rig.js'
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
import { ffmpegsMentioning, footageKept, snapshotSegments } from './footage.js'
import { processesMentioning, waitProcState } from '../helpers/procs.js'

/** The warm spare is forked 5 s after the server is ready: the faults here hit a rig that has one. */
async function waitSpare(r: TestRig): Promise<void> {
  const servers = async () => (await processesMentioning(join(r.rig.dirs.root, 'media'))).filter((p) => p.cmd.includes('server.ts') && !p.cmd.startsWith('setpriv'))
  await waitFor(async () => (await servers()).length >= 2, 30000, 'the media server and its warm spare', 200)
  await sleep(2000) // loaded, as a spare is after its first seconds
}

t.test('SIGKILL of the media server mid-recording: restarted, camera streams again, recording resumes in the same session', async (t) => {
  const r = await startTestRig(t, {
    node: 'mediakill',
    configure: (c) => {
      c.recorder.segmentS = 2
      c.media.warmSpare = true // the default: the restart activates the waiting spare
    },
  })
  const mediaStates = collect(r.client, `vigil.${r.node}.state.media`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  await waitSpare(r)
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
  const onDisk = await snapshotSegments(started.dir)
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
  // A gap starts at the last growth the recorder saw (it polls every second), so just before the kill.
  t.ok(session.gaps.some((g) => Date.parse(g.at) >= killedAt - 2500 && Date.parse(g.at) <= killedAt + 15000), 'a gap opened at the kill')
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video'), `${p.file} probes (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
  const sumS = probed.reduce((n, p) => n + p.duration, 0)
  const states = mediaStates.seen.filter((m) => Date.parse(m.data.since as string) >= killedAt - 50).map((m) => m.data.state)
  t.comment(
    `media running again ${fmt(mediaBackS)} s after SIGKILL (states ${states.join(' → ')}), camera streaming ${fmt(camBackS)} s, ` +
      `recording bytes growing ${fmt(resumedS)} s; session ${session.durationMs} ms, media ${fmt(sumS)} s in ${probed.length} segments, ` +
      `gaps ${session.gaps.map((g) => `${g.ms} ms (${g.reason})`).join('; ')}`,
  )
  await footageKept(t, { dir: stopped.dir, session, probed, faults: 1, before: onDisk })
})

/** Waits until a new segment file appears, then `intoMs` more. */
async function intoNewSegment(r: TestRig, intoMs: number): Promise<void> {
  const n = (await recStatus(r)).session?.segments ?? 0
  await waitFor(async () => ((await recStatus(r)).session?.segments ?? 0) > n, 30000, 'a new segment', 100)
  await sleep(intoMs)
}

/** DESIGN §9.5: a frozen media server leaves `running` in ≤ 3 s; twice that here, for a loaded 2-core CI box. */
const LEAVES_RUNNING_WITHIN_S = 6
/**
 * After the camera streams to the new media server, the recorder needs a new ffmpeg, its 1 s
 * analysis, a first whole fragment (1 s GOP) and its 1 s growth poll before the gap closes:
 * measured 3.0–3.2 s on a loaded 2-core box. The freeze must add nothing after that.
 */
const RECORDER_RESUMES_WITHIN_S = 5

t.test('SIGSTOP of the media server mid-recording: heartbeat silence → failed in ≤ 3 s, frozen server killed, restarted, recording resumes with a short gap', async (t) => {
  // The defaults (heartbeat timeout 1.5 s, probe 2 s × 3): the figures are what a rig out of the box does.
  let heartbeatTimeoutMs = 0
  const r = await startTestRig(t, {
    node: 'mediastop',
    configure: (c) => {
      c.recorder.segmentS = 4
      c.media.warmSpare = true
      heartbeatTimeoutMs = c.media.heartbeatTimeoutMs
    },
  })
  const mediaStates = collect(r.client, `vigil.${r.node}.state.media`)
  const recStates = collect(r.client, `vigil.${r.node}.state.recorder`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  t.teardown(() => {
    mediaStates.unsubscribe()
    recStates.unsubscribe()
    alerts.unsubscribe()
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  await waitSpare(r)
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'media-stop' })
  await waitBytes(r, 0, 20000)
  await intoNewSegment(r, 2000)
  const before = await recStatus(r)
  const media = await r.child('media')
  t.equal(media.pids.length, 1, `media child owns one process (${media.pids[0]})`)
  const mediaPid = media.pids[0]!
  const restartsBefore = media.restarts
  t.teardown(() => {
    // Whatever happened, never leave a stopped process behind.
    if (isAlive(mediaPid)) {
      process.kill(mediaPid, 'SIGCONT')
      process.kill(mediaPid, 'SIGKILL')
    }
  })
  const onDisk = await snapshotSegments(started.dir)
  const statesAtStop = mediaStates.seen.length
  const stoppedAt = Date.now()
  process.kill(mediaPid, 'SIGSTOP')
  t.equal(await waitProcState(mediaPid, 'T'), 'T', `media server ${mediaPid} is stopped (state T)`)

  // `failed` is the media machine's final state: the supervisor publishes the restart that follows.
  const restarting = () =>
    alerts.seen.find((a) => a.data['code'] === 'supervisor.child_restarting' && a.data['source'] === 'media')
  await waitFor(() => restarting() !== undefined, 60000, 'supervisor.child_restarting for media', 50)
  const alertS = (Date.now() - stoppedAt) / 1000
  const alert = restarting()!
  t.match(String(alert.data['message']), /media server silent for \d+\.\d s \(frozen\?\)/, 'the restart says the server went silent')
  t.equal(alert.subject, `vigil.${r.node}.alert.warning.media`, 'on vigil.<node>.alert.warning.media')
  await waitFor(() => mediaStates.seen.slice(statesAtStop).some((m) => m.data['state'] !== 'running'), 10000, 'media left running (published)', 50)
  // When the rig says media left `running` (its own clock: the rig runs in this process), not when the test heard of it.
  const left = mediaStates.seen.slice(statesAtStop).find((m) => m.data['state'] !== 'running')!
  const leftRunningS = (Date.parse(String(left.data['since'])) - stoppedAt) / 1000
  t.comment(
    `media left running ${fmt(leftRunningS)} s after SIGSTOP (→ ${String(left.data['state'])}; heartbeat timeout ${heartbeatTimeoutMs} ms), ` +
      `restart alert heard ${fmt(alertS)} s: ${String(alert.data['message'])}`,
  )
  t.ok(leftRunningS <= LEAVES_RUNNING_WITHIN_S, `left running within ${LEAVES_RUNNING_WITHIN_S} s (${fmt(leftRunningS)} s; DESIGN §9.5: ≤ 3 s)`)
  t.ok(leftRunningS * 1000 >= heartbeatTimeoutMs - 300, `not before the heartbeat timeout (${fmt(leftRunningS)} s; the last beat may precede the SIGSTOP by up to 250 ms)`)
  await waitFor(() => mediaStates.seen.slice(statesAtStop).some((m) => m.data['state'] === 'restarting'), 10000, 'media restarting published', 50)

  await waitFor(async () => {
    const m = await r.child('media').catch(() => null)
    return m !== null && m.status === 'running' && m.restarts >= restartsBefore + 1 && m.pids.length === 1 && m.pids[0] !== mediaPid
  }, 60000, 'media restarted by the supervisor and running', 100)
  const mediaBackS = (Date.now() - stoppedAt) / 1000
  const after = await r.child('media')
  t.not(after.pids[0], mediaPid, `a new media server process ${after.pids[0]} (restarts ${after.restarts})`)
  await waitFor(() => !isAlive(mediaPid), 5000, `the frozen media server ${mediaPid} killed`)
  t.pass(`the SIGSTOPped media server ${mediaPid} is gone, not left stopped`)
  const path = mediaStates.seen.slice(statesAtStop).map((m) => m.data['state'])
  t.ok(path.includes('restarting') && path.at(-1) === 'running', `media states published: ${path.join(' → ')}`)

  let cam: CamStatus | null = null
  await waitFor(async () => {
    cam = await camStatusOrNull(r)
    return cam?.state === 'streaming'
  }, 60000, 'camera streaming to the new media server', 100)
  const camBackS = (Date.now() - stoppedAt) / 1000
  const mid = await recStatus(r)
  t.equal(mid.session?.id, started.id, 'same session after the media restart')
  await waitBytes(r, Math.max(before.session!.bytes, mid.session!.bytes), 60000, 'bytes growing again after the media restart')
  const resumedS = (Date.now() - stoppedAt) / 1000
  await sleep(3000)
  const grown = await recStatus(r)
  t.equal(grown.session?.id, started.id, 'still the same session')
  t.ok(grown.session!.segments > before.session!.segments, `new segments after the restart (${before.session!.segments} → ${grown.session!.segments})`)
  const recPath = recStates.seen.map((m) => m.data['state'])
  t.notOk(recPath.includes('idle') && recPath.lastIndexOf('idle') > recPath.indexOf('recording'), `the recorder never left the session (states ${recPath.join(' → ')})`)

  const stopped = await stopRecording(r)
  t.equal(stopped.id, started.id)
  t.equal(stopped.state, 'finalized')
  const session = await readSessionJson(stopped.dir)
  t.ok(session.gaps.length >= 1, `gap(s) recorded: ${JSON.stringify(session.gaps)}`)
  // The recorder's ffmpeg flushes its last fragment when the frozen server is killed (its
  // connection closes) — before its own read timeout (rw_timeout 2 s) — and the gap starts
  // at that growth, so about leftRunningS after the SIGSTOP; a read timeout that comes
  // first on a busy machine opens it a little earlier.
  const gap = session.gaps.find((g) => Date.parse(g.at) >= stoppedAt - 2500 && Date.parse(g.at) <= stoppedAt + 12000)
  t.ok(gap, `a gap opens at the freeze (${session.gaps.map((g) => `${Date.parse(g.at) - stoppedAt} ms from it, ${g.ms} ms long`).join(', ')})`)
  // DESIGN §9.5 / issue 16: a frozen media server costs no more than the time to notice it
  // + 1 s; asserted generously (2×), as the fault suite does. What makes it hold: the warm
  // spare serves tens of ms after the frozen one is killed (no node start), the camera
  // publishes again at once, and the gap is measured from ffmpeg's progress (the old run's
  // live edge → the new run's first footage), not from two 1 s polls of the files.
  const gapBoundS = 2 * (leftRunningS + 1)
  const gapS = (gap?.ms ?? Infinity) / 1000
  t.ok(gapS <= gapBoundS, `footage gap ${fmt(gapS)} s ≤ 2 × (noticed ${fmt(leftRunningS)} s + 1 s) = ${fmt(gapBoundS)} s`)
  t.ok(camBackS <= RECORDER_RESUMES_WITHIN_S + leftRunningS, `camera streaming again ${fmt(camBackS)} s after the freeze`)
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video') && p.duration > 0, `${p.file} plays (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
  t.comment(
    `media left running ${fmt(leftRunningS)} s, running again ${fmt(mediaBackS)} s, camera streaming ${fmt(camBackS)} s, ` +
      `recording bytes growing ${fmt(resumedS)} s after the SIGSTOP; ` +
      `footage gap ${fmt(gapS)} s opening ${gap ? fmt((Date.parse(gap.at) - stoppedAt) / 1000) : '?'} s after it ` +
      `(target noticed + 1 s = ${fmt(leftRunningS + 1)} s, asserted ≤ ${fmt(gapBoundS)} s); ` +
      `alerts ${alerts.seen.map((a) => `${String(a.data['severity'])} ${String(a.data['code'])}`).join(', ')}`,
  )
  // The seconds between the freeze and that flush count as recorded though no media came:
  // allowed here (the time the freeze took to notice), the segments on disk before the
  // freeze are checked one by one instead.
  await footageKept(t, {
    dir: stopped.dir,
    session,
    probed,
    faults: 1,
    before: onDisk,
    extra: { s: Math.ceil(leftRunningS * 10) / 10, why: 'frozen source: the gap opens when the frozen server is killed' },
  })
  await waitFor(async () => (await ffmpegsMentioning(started.dir)).length === 0, 15000, 'no recorder ffmpeg left after the stop')
  t.pass('no recorder ffmpeg left')
})
