/**
 * Faults of the recorder's own ffmpeg (the pid supervisor.status lists for `recorder`).
 * - SIGKILL mid-recording: the machine sees FFMPEG.EXITED, keeps the session, opens a
 *   gap and spawns a new ffmpeg after `reconnectMs` (recorder.machine.ts `reconnecting`):
 *   same session, numbering continues, the gap is written to session.json, the segment
 *   open at the kill still plays and is announced (`segment.closed`), footage is kept.
 *   The recorder's published state stays `recording` (the respawn is faster than the
 *   stall watchdog); one warning `recorder.capture_killed` says the capture was killed.
 * - SIGSTOP mid-recording: no new bytes → `stalled` published and warning
 *   `recorder.stall` after stallWarnMs, then at stallStopMs the auto-stop with the
 *   critical `recorder.stall`, session state `stalled` with the stall as a gap (from the
 *   last growth, so the frozen seconds are not counted as recorded); the frozen ffmpeg is
 *   ended (SIGTERM + SIGCONT: not left stopped, and it writes the fragment it held), what
 *   was written before the freeze plays, and a new recording starts.
 */
import t from 'tap'
import { collect, startTestRig, type TestRig } from '../helpers/rig.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import {
  fmt,
  must,
  probeSegments,
  readSessionJson,
  recStatus,
  segmentFiles,
  sleep,
  stopRecording,
  waitBytes,
  waitCameraStreaming,
  type SessionSummary,
} from '../integration/pipeline/common.js'
import { footageKept, ffmpegsMentioning, snapshotSegments } from './footage.js'
import { waitProcState } from '../helpers/procs.js'

const recorderPid = async (r: TestRig): Promise<number | null> => {
  const c = await r.child('recorder').catch(() => null)
  return c && c.pids.length === 1 ? c.pids[0]! : null
}

/** Waits until a new segment file appears, then `intoMs` more: the fault then hits a segment with that much in it. */
async function intoNewSegment(dir: string, intoMs: number): Promise<void> {
  const n = (await segmentFiles(dir)).length
  await waitFor(async () => (await segmentFiles(dir)).length > n, 30000, 'a new segment file', 100)
  await sleep(intoMs)
}

t.test('SIGKILL of the recorder ffmpeg mid-recording: new ffmpeg, same session, gap recorded, open segment kept', async (t) => {
  const r = await startTestRig(t, {
    node: 'reckill',
    configure: (c) => {
      // Long segments: losing the one open at the kill would cost seconds, not the allowance.
      c.recorder.segmentS = 6
    },
  })
  const recStates = collect(r.client, `vigil.${r.node}.state.recorder`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  const closed = collect(r.client, `vigil.${r.node}.event.segment.closed`)
  t.teardown(() => {
    recStates.unsubscribe()
    alerts.unsubscribe()
    closed.unsubscribe()
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000) // warm: the media server holds a GOP

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'recorder-kill' })
  await waitBytes(r, 0, 20000)
  // Kill 4 s into the second segment: the open segment then holds ~4 s.
  await intoNewSegment(started.dir, 4000)
  const before = await recStatus(r)
  const oldPid = (await recorderPid(r))!
  t.ok(oldPid, `supervisor.status lists the recorder ffmpeg (${oldPid})`)
  t.same(
    (await ffmpegsMentioning(started.dir)).map((p) => p.pid),
    [oldPid],
    'exactly one process writes the session dir: that ffmpeg',
  )
  const onDisk = await snapshotSegments(started.dir)
  const openAtKill = onDisk.at(-1)!
  const statesAtKill = recStates.seen.length
  const alertsAtKill = alerts.seen.length
  const killedAt = Date.now()
  process.kill(oldPid, 'SIGKILL')
  t.comment(`killed ${oldPid} with ${onDisk.map((s) => `${s.file}=${s.bytes}`).join(' ')} on disk (open: ${openAtKill.file})`)

  let newPid: number | null = null
  await waitFor(async () => {
    newPid = await recorderPid(r)
    return newPid !== null && newPid !== oldPid
  }, 30000, 'a new recorder ffmpeg', 100)
  const respawnS = (Date.now() - killedAt) / 1000
  await waitFor(() => !isAlive(oldPid), 5000, 'the killed ffmpeg reaped')
  const mid = await recStatus(r)
  t.equal(mid.session?.id, started.id, 'recorder.status: the same session after the respawn')
  await waitBytes(r, Math.max(before.session!.bytes, mid.session!.bytes), 30000, 'bytes growing from the new ffmpeg')
  const resumedS = (Date.now() - killedAt) / 1000
  t.comment(`new recorder ffmpeg ${newPid} ${fmt(respawnS)} s after the SIGKILL, bytes growing again ${fmt(resumedS)} s after it`)

  // The segment open at the kill is closed and announced once the exit is seen.
  await waitFor(() => closed.seen.some((m) => m.data['file'] === openAtKill.file), 10000, `segment.closed for ${openAtKill.file}`, 100)
  t.pass(`segment.closed published for ${openAtKill.file}, the segment open at the kill`)
  await sleep(4000)
  const grown = await recStatus(r)
  t.equal(grown.session?.id, started.id, 'still the same session')
  t.ok(grown.session!.segments > onDisk.length, `numbering continues in new files (${onDisk.length} → ${grown.session!.segments} segments)`)
  t.same((await ffmpegsMentioning(started.dir)).map((p) => p.pid), [newPid], 'one ffmpeg writes the session: the new one')

  // What is published: the recorder stays `recording` (no stall, no idle); one warning names the kill.
  const statesSince = recStates.seen.slice(statesAtKill).map((m) => m.data['state'])
  t.same(statesSince, [], `no recorder state change published for a respawn within the stall window (${statesSince.join(' → ') || 'none'})`)
  const recAlerts = alerts.seen.slice(alertsAtKill).filter((a) => a.data['source'] === 'recorder')
  t.same(recAlerts.map((a) => a.data['code']), ['recorder.capture_killed'], 'one recorder alert: capture_killed (no stall, no stop)')
  t.equal(recAlerts[0]!.subject, `vigil.${r.node}.alert.warning.recorder`)
  t.match(recAlerts[0]!.data['details'], { session: started.id, reason: /killed by SIGKILL/ })

  const stopped = await stopRecording(r)
  t.equal(stopped.id, started.id)
  t.equal(stopped.state, 'finalized')
  const session = await readSessionJson(stopped.dir)
  t.equal(session.state, 'finalized')
  const gap = session.gaps.find((g) => /ffmpeg killed by SIGKILL/.test(g.reason))
  t.ok(gap, `a gap for the kill in session.json: ${JSON.stringify(session.gaps)}`)
  if (gap) {
    const at = Date.parse(gap.at)
    t.ok(at >= killedAt - 2500 && at <= killedAt + 2500, `the gap opens at the kill (${at - killedAt} ms from it)`)
  }
  const probed = await probeSegments(stopped.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video') && p.duration > 0, `${p.file} plays (${p.streams.join(',')}, ${fmt(p.duration)} s)`)
  const open = probed.find((p) => p.file === openAtKill.file)
  t.ok(open && open.duration >= 2, `the segment open at the kill plays with its ${fmt(open?.duration ?? 0)} s`)
  await footageKept(t, { dir: stopped.dir, session, probed, faults: 1, before: onDisk })

  await waitFor(async () => (await ffmpegsMentioning(r.dataDir)).length === 0, 15000, 'no recorder ffmpeg left after the stop')
  t.pass('no ffmpeg left writing under the data dir')
})

t.test('SIGSTOP of the recorder ffmpeg: stall warning, auto-stop with a critical alert, frozen ffmpeg ended, new recording works', async (t) => {
  const stallWarnMs = 3000
  const stallStopMs = 6000
  const r = await startTestRig(t, {
    node: 'recstop',
    configure: (c) => {
      c.recorder.segmentS = 4
      c.recorder.stallWarnMs = stallWarnMs
      c.recorder.stallStopMs = stallStopMs
    },
  })
  const recStates = collect(r.client, `vigil.${r.node}.state.recorder`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  const events = collect(r.client, `vigil.${r.node}.event.recording.>`)
  t.teardown(() => {
    recStates.unsubscribe()
    alerts.unsubscribe()
    events.unsubscribe()
  })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'recorder-stop' })
  await waitBytes(r, 0, 20000)
  await intoNewSegment(started.dir, 2000)
  const pid = (await recorderPid(r))!
  t.ok(pid, `the recorder ffmpeg ${pid}`)
  t.teardown(() => {
    // Whatever happened, never leave a stopped process behind.
    if (isAlive(pid)) {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
    }
  })
  const onDisk = await snapshotSegments(started.dir)
  const stoppedAt = Date.now()
  process.kill(pid, 'SIGSTOP')
  t.equal(await waitProcState(pid, 'T'), 'T', `ffmpeg ${pid} is stopped (state T)`)

  await waitFor(() => alerts.seen.some((a) => a.data['code'] === 'recorder.stall' && a.data['severity'] === 'warning'), stallWarnMs + 20000, 'warning recorder.stall')
  const warnS = (Date.now() - stoppedAt) / 1000
  const warning = alerts.seen.find((a) => a.data['code'] === 'recorder.stall' && a.data['severity'] === 'warning')!
  t.equal(warning.subject, `vigil.${r.node}.alert.warning.recorder`, 'warning on vigil.<node>.alert.warning.recorder')
  t.match(warning.data, { node: r.node, source: 'recorder', severity: 'warning', code: 'recorder.stall' })
  await waitFor(() => recStates.seen.some((m) => m.data['state'] === 'stalled'), 5000, 'state stalled published')
  t.pass('state `stalled` published on vigil.<node>.state.recorder')

  await waitFor(() => alerts.seen.some((a) => a.data['code'] === 'recorder.stall' && a.data['severity'] === 'critical'), stallStopMs + 20000, 'critical recorder.stall (auto-stop)')
  const critS = (Date.now() - stoppedAt) / 1000
  const critical = alerts.seen.find((a) => a.data['code'] === 'recorder.stall' && a.data['severity'] === 'critical')!
  t.equal(critical.subject, `vigil.${r.node}.alert.critical.recorder`)
  t.match(critical.data, { source: 'recorder', severity: 'critical', details: { session: started.id } })

  await waitFor(() => events.seen.some((e) => e.subject.endsWith('recording.stopped') && e.data['id'] === started.id), 30000, 'recording.stopped event')
  const stoppedEv = events.seen.find((e) => e.subject.endsWith('recording.stopped') && e.data['id'] === started.id)!
  const endS = (Date.now() - stoppedAt) / 1000
  t.match(stoppedEv.data, { state: 'stalled', stopReason: 'no new bytes for stallStopMs' }, 'recording.stopped says stalled')
  await waitFor(async () => (await recStatus(r)).state === 'idle', 10000, 'recorder idle after the auto-stop')
  const path = recStates.seen.map((m) => m.data['state'])
  t.comment(
    `after SIGSTOP: warning ${fmt(warnS)} s (stallWarnMs ${stallWarnMs}), critical ${fmt(critS)} s (stallStopMs ${stallStopMs}), ` +
      `session stopped ${fmt(endS)} s; recorder states published ${path.join(' → ')}`,
  )
  t.same(path.slice(-4), ['recording', 'stalled', 'stopping', 'idle'], 'published: recording → stalled → stopping → idle')

  // The frozen ffmpeg is not left stopped: the recorder ends it on the way out (SIGTERM, then
  // SIGCONT so a stopped process can act on it; SIGKILL after the grace if it still will not).
  await waitFor(() => !isAlive(pid), 15000, `the frozen ffmpeg ${pid} ended by the recorder`)
  t.pass(`frozen ffmpeg ${pid} is gone (${fmt((Date.now() - stoppedAt) / 1000)} s after the SIGSTOP)`)
  t.same(await ffmpegsMentioning(r.dataDir), [], 'no recorder ffmpeg left')

  const session = await readSessionJson(started.dir)
  t.equal(session.state, 'stalled', 'session.json state stalled')
  t.equal(session.stopReason, 'no new bytes for stallStopMs')
  const probed = await probeSegments(started.dir, session.segments.map((s) => s.file))
  for (const p of probed) t.ok(p.streams.includes('video') && p.duration > 0, `${p.file} plays (${fmt(p.duration)} s)`)
  // The stall is the recorder's own gap: from the last bytes to the stop.
  const stall = session.gaps.find((g) => /stall/.test(g.reason))
  t.ok(stall, `the stall is a gap in session.json: ${JSON.stringify(session.gaps)}`)
  if (stall) {
    const at = Date.parse(stall.at)
    t.ok(at >= stoppedAt - 2500 && at <= stoppedAt + 2500, `the stall gap opens at the freeze (${at - stoppedAt} ms from it)`)
  }
  await footageKept(t, { dir: started.dir, session, probed, faults: 1, before: onDisk })
  // Woken to act on its SIGTERM, ffmpeg wrote the fragment it held when it froze (a SIGKILL would lose it).
  const openAtFreeze = onDisk.at(-1)!
  const finalBytes = session.segments.find((s) => s.file === openAtFreeze.file)?.bytes ?? 0
  t.ok(finalBytes > openAtFreeze.bytes, `${openAtFreeze.file}, open at the freeze, got its buffered fragment on the way out (${openAtFreeze.bytes} → ${finalBytes} B)`)

  // The recorder records again.
  const again = await must<SessionSummary>(r, 'recorder', 'start', { name: 'after-stall' })
  t.not(again.id, started.id, 'a new session')
  await waitBytes(r, 0, 30000, 'the new recording gets bytes')
  await sleep(2000)
  const second = await stopRecording(r)
  t.equal(second.state, 'finalized')
  const secondProbed = await probeSegments(second.dir)
  t.ok(secondProbed.length >= 1 && secondProbed.every((p) => p.streams.includes('video')), `the new session plays (${secondProbed.map((p) => `${p.file} ${fmt(p.duration)} s`).join(', ')})`)
})
