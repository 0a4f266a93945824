/**
 * Issue 3, "Shown by" #2: faults of the camera's ffmpeg during a recording.
 * - SIGKILL: the camera is restarted (back to `streaming`, new pid) and the recording
 *   continues in the SAME session, more segments and bytes later, the gap written
 *   to session.json.
 * - SIGSTOP: the frame watchdog sees `stalled` (frameTimeoutMs 2 s; bounded here at 6 s,
 *   a hang guard), alert `camera.stalled`, the wedged ffmpeg is killed and the camera
 *   streams again with a new pid.
 * Both: the footage kept covers the recorded time but for ~1 s at the fault, and the
 * segments on disk before it survive and play (footage.ts).
 */
import t from 'tap'
import { collect, startTestRig, type TestRig } from '../helpers/rig.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import {
  camStatus,
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
  type RecStatus,
  type SessionSummary,
} from '../integration/pipeline/common.js'
import { footageKept, snapshotSegments } from './footage.js'

const rigFor = (t: Parameters<typeof startTestRig>[0], node: string) =>
  startTestRig(t, {
    node,
    configure: (c) => {
      c.recorder.segmentS = 2
    },
  })

/** Records while `fn` runs; fails the test the moment recorder.status shows another session. */
function watchSession(r: TestRig, id: string) {
  const seen = new Set<string>()
  const states: string[] = []
  let stop = false
  const loop = (async () => {
    while (!stop) {
      const reply = await r.cmd<RecStatus>('recorder', 'status', {}, { timeoutMs: 3000 })
      if (reply.ok) {
        if (reply.result.session) seen.add(reply.result.session.id)
        if (states.at(-1) !== reply.result.state) states.push(reply.result.state)
      }
      await sleep(100)
    }
  })()
  return {
    seen,
    states,
    async end() {
      stop = true
      await loop
      return { sameSession: seen.size === 1 && seen.has(id), ids: [...seen], states }
    },
  }
}

t.test('SIGKILL of the camera ffmpeg mid-recording: camera streams again, same session continues, gap recorded', async (t) => {
  const r = await rigFor(t, 'camkill')
  const camStates = collect(r.client, `vigil.${r.node}.state.camera`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000) // warm: the media server holds a GOP

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'camera-kill' })
  const watch = watchSession(r, started.id)
  await waitBytes(r, 0, 20000)
  await sleep(3000)
  const before = await recStatus(r)
  const cam = await camStatus(r)
  const sup = await r.child('camera')
  t.equal(cam.pids.length, 1, `camera.status has the ffmpeg pid ${cam.pids[0]}`)
  t.same(sup.pids, cam.pids, 'supervisor.status names the same pid for the camera child')
  const oldPid = cam.pids[0]!
  const onDisk = await snapshotSegments(started.dir)
  const killedAt = Date.now()
  process.kill(oldPid, 'SIGKILL')

  let back: CamStatus | null = null
  await waitFor(async () => {
    back = await camStatusOrNull(r)
    return back?.state === 'streaming' && back.pids.length === 1 && back.pids[0] !== oldPid
  }, 30000, 'camera streaming again with a new ffmpeg', 100)
  const backS = (Date.now() - killedAt) / 1000
  await waitFor(() => !isAlive(oldPid), 5000, 'the killed ffmpeg reaped')
  const camPath = camStates.seen.filter((m) => Date.parse(m.data.since as string) >= killedAt - 50).map((m) => m.data.state)
  t.comment(`camera back to streaming ${fmt(backS)} s after SIGKILL (pid ${oldPid} → ${back!.pids[0]}), states published: ${camPath.join(' → ')}`)
  t.ok(camPath.includes('reconnecting'), 'the camera went through reconnecting')
  t.equal(camPath.at(-1), 'streaming', 'and its last published state is streaming')

  // The recording goes on in the same session: bytes grow past what they were after the camera came back.
  const atBack = await recStatus(r)
  t.equal(atBack.session?.id, started.id, 'recorder.status: same session after the camera restart')
  const later = await waitBytes(r, Math.max(before.session!.bytes, atBack.session!.bytes), 30000, 'bytes growing again after the camera restart')
  const resumedS = (Date.now() - killedAt) / 1000
  await sleep(3000)
  const grown = await recStatus(r)
  t.equal(grown.session?.id, started.id, 'still the same session')
  t.ok(grown.session!.segments > before.session!.segments, `more segments later (${before.session!.segments} before the kill → ${grown.session!.segments})`)
  t.ok(grown.session!.bytes > later.session!.bytes, `bytes keep growing (${before.session!.bytes} before → ${grown.session!.bytes})`)

  const stopped = await stopRecording(r)
  const w = await watch.end()
  t.ok(w.sameSession, `one session id through the whole fault (${w.ids.join(', ')}); recorder states seen: ${w.states.join(' → ')}`)
  t.equal(stopped.id, started.id)
  t.equal(stopped.state, 'finalized')
  const session = await readSessionJson(stopped.dir)
  t.equal(session.state, 'finalized')
  t.ok(session.gaps.length >= 1, `gap(s) in session.json: ${JSON.stringify(session.gaps)}`)
  const gapAt = session.gaps.map((g) => Date.parse(g.at))
  // A gap starts at the last growth the recorder saw (it polls every second), so just before the kill.
  t.ok(gapAt.some((at) => at >= killedAt - 2500 && at <= killedAt + 10000), 'a gap opened at the kill')
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video'), `${p.file} probes: ${p.streams.join(',')} ${fmt(p.duration)} s`)
  const sumS = probed.reduce((n, p) => n + p.duration, 0)
  const gapS = session.gaps.reduce((n, g) => n + g.ms, 0) / 1000
  t.comment(
    `recording resumed (bytes grew) ${fmt(resumedS)} s after the kill; session ${session.durationMs} ms, media ${fmt(sumS)} s in ${probed.length} segments, ` +
      `gaps ${session.gaps.map((g) => `${g.ms} ms (${g.reason})`).join('; ')} = ${fmt(gapS)} s`,
  )
  const f = await footageKept(t, { dir: stopped.dir, session, probed, faults: 1, before: onDisk })
  // DESIGN.md §9.5: the fault costs no more than the camera's own downtime + 0.5 s, as
  // ffprobe sees it (recorded − kept) and as session.json lists it; asserted at 2x.
  const boundS = 2 * (backS + 0.5)
  const missingS = f.recordedS - f.keptS
  t.comment(`downtime ${fmt(backS)} s: footage missing (ffprobe) ${fmt(missingS)} s, session.json gap ${fmt(gapS)} s; target downtime + 0.5 = ${fmt(backS + 0.5)} s, asserted ≤ ${fmt(boundS)} s`)
  t.ok(missingS <= boundS, `footage missing ${fmt(missingS)} s ≤ 2 × (downtime ${fmt(backS)} s + 0.5 s)`)
  t.ok(gapS <= boundS, `session.json gap ${fmt(gapS)} s ≤ 2 × (downtime ${fmt(backS)} s + 0.5 s)`)
})

t.test('SIGSTOP of the camera ffmpeg: stalled, camera.stalled alert, recovered with a new ffmpeg', async (t) => {
  const r = await rigFor(t, 'camstop')
  const camStates = collect(r.client, `vigil.${r.node}.state.camera`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  // While recording, so the recorder's side of a frozen publisher is exercised as well.
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'camera-stop' })
  await waitBytes(r, 0, 20000)
  await sleep(2000)
  const cam = await camStatus(r)
  const pid = cam.pids[0]!
  const onDisk = await snapshotSegments(started.dir)
  t.teardown(() => {
    // Whatever happened, never leave a stopped process behind.
    if (isAlive(pid)) process.kill(pid, 'SIGCONT')
  })
  const stoppedAt = Date.now()
  process.kill(pid, 'SIGSTOP')
  try {
    await waitFor(() => camStates.seen.some((m) => m.data.state === 'stalled'), 15000, 'camera state stalled published', 20)
  } finally {
    if (isAlive(pid)) process.kill(pid, 'SIGCONT')
  }
  const stalled = camStates.seen.find((m) => m.data.state === 'stalled')!
  const detectS = (Date.parse(stalled.data.since as string) - stoppedAt) / 1000
  t.comment(`stalled ${fmt(detectS, 3)} s after SIGSTOP (by the published state's since)`)
  // Measured 1.83 s in CI (1.84-2.0 s before; bench max 1.90 s) for the 2 s frameTimeoutMs: the
  // exact timing is the unit test's (SimulatedClock) and the benchmark's; here 3x that, so a
  // loaded machine's late timer is not a failure and a watchdog that never fires still is.
  t.ok(detectS <= 6, `stall detected within 6 s (${fmt(detectS, 3)} s)`)
  t.equal(stalled.subject, `vigil.${r.node}.state.camera`)

  await waitFor(() => alerts.seen.some((a) => a.data.code === 'camera.stalled'), 10000, 'camera.stalled alert')
  const alert = alerts.seen.find((a) => a.data.code === 'camera.stalled')!
  t.equal(alert.subject, `vigil.${r.node}.alert.warning.camera`, 'alert on vigil.<node>.alert.warning.camera')
  t.match(alert.data, { node: r.node, source: 'camera', severity: 'warning', code: 'camera.stalled' })

  let back: CamStatus | null = null
  await waitFor(async () => {
    back = await camStatusOrNull(r)
    return back?.state === 'streaming' && back.pids.length === 1 && back.pids[0] !== pid
  }, 30000, 'camera streaming again with a new ffmpeg', 100)
  const recoveredS = (Date.now() - stoppedAt) / 1000
  await waitFor(() => !isAlive(pid), 10000, 'the stopped ffmpeg is gone (killed by the camera)')
  t.pass(`the SIGSTOPped ffmpeg ${pid} was killed; new ffmpeg ${back!.pids[0]}`)
  const path = camStates.seen.filter((m) => Date.parse(m.data.since as string) >= stoppedAt - 50).map((m) => m.data.state)
  t.comment(`recovered to streaming ${fmt(recoveredS)} s after SIGSTOP; states: ${path.join(' → ')}`)

  // The recording survived in the same session.
  const before = await recStatus(r)
  t.equal(before.session?.id, started.id, 'same session after the stall')
  await waitBytes(r, before.session!.bytes, 30000, 'bytes growing after the stall')
  const stopped = await stopRecording(r)
  t.equal(stopped.id, started.id)
  const session = await readSessionJson(stopped.dir)
  t.ok(session.gaps.length >= 1, `gap recorded for the stall: ${JSON.stringify(session.gaps)}`)
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video'), `${p.file} probes`)
  await footageKept(t, { dir: stopped.dir, session, probed, faults: 1, before: onDisk })
})
