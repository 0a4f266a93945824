/**
 * Issue 5, "Shown by" #4 at rig level: SIGKILL of the audio ffmpeg (the pid audio.status
 * reports) raises audio.down, the supervisor restarts the audio child, and sound events
 * arrive again from the new meter.
 * SIGSTOP of it: no level for levelTimeoutMs (audio.machine.ts, 5 s) → failed → audio.down,
 * the frozen ffmpeg is killed (not left stopped), restarted with a new pid, sounds again.
 */
import t, { type Test } from 'tap'
import { startTestRig, collect } from '../helpers/rig.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { must, waitCameraStreaming } from '../integration/pipeline/common.js'
import { secs } from '../integration/monitor/common.js'
import { waitProcState } from '../helpers/procs.js'

interface AudioStatus {
  state: string
  detector: string | null
  levelDb: number | null
  pid: number | null
  sounds: number
  source: string
}

/** A rig whose audio meter hears the synthetic camera: sounds, alerts and audio states collected, the meter listening. */
async function listeningRig(t: Test, node: string) {
  const r = await startTestRig(t, {
    node,
    configure: (c) => {
      c.audio.cooldownMs = 1000
    },
  })
  const sounds = collect(r.client, `vigil.${r.node}.event.sound`)
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  const states = collect(r.client, `vigil.${r.node}.state.audio`)
  t.teardown(() => {
    sounds.unsubscribe()
    alerts.unsubscribe()
    states.unsubscribe()
  })
  await r.ready()
  await waitCameraStreaming(r)
  await waitFor(() => sounds.seen.length >= 1, 30000, 'a first sound event', 200)
  let before!: AudioStatus
  await waitFor(async () => {
    before = await must<AudioStatus>(r, 'audio', 'status')
    return before.state === 'listening' && before.pid !== null
  }, 10000, 'audio listening with a pid', 100)
  const childBefore = await r.child('audio')
  t.ok(childBefore.pids.includes(before.pid!), `supervisor.status lists the same ffmpeg pid (${before.pid})`)
  return { r, sounds, alerts, states, before, childBefore }
}

t.test('SIGKILL of the audio ffmpeg: audio.down, restart, sound events again', async (t) => {
  const { r, sounds, alerts, before, childBefore } = await listeningRig(t, 'monaudio')
  t.comment(`before: audio.status ${JSON.stringify(before)}; supervisor audio restarts ${childBefore.restarts}, pids ${childBefore.pids.join(',')}; sounds seen ${sounds.seen.length}`)

  const pid = before.pid!
  const soundsAtKill = sounds.seen.length
  const alertsAtKill = alerts.seen.length
  const t0 = Date.now()
  process.kill(pid, 'SIGKILL')
  await waitFor(() => !isAlive(pid), 5000, 'the killed ffmpeg is gone')

  await waitFor(() => alerts.seen.slice(alertsAtKill).some((a) => a.data['code'] === 'audio.down'), 10000, 'audio.down alert', 50)
  const down = alerts.seen.slice(alertsAtKill).find((a) => a.data['code'] === 'audio.down')!
  t.comment(`audio.down after ${secs(Date.now() - t0)} s on ${down.subject}: ${String(down.data['message'])}`)
  t.equal(down.data['source'], 'audio')

  let after!: AudioStatus
  await waitFor(async () => {
    after = await must<AudioStatus>(r, 'audio', 'status')
    return after.state === 'listening' && after.pid !== null && after.pid !== pid
  }, 20000, 'a new meter listening', 100)
  const childAfter = await r.child('audio')
  t.comment(`restarted after ${secs(Date.now() - t0)} s: audio.status ${JSON.stringify(after)}; supervisor audio restarts ${childAfter.restarts}, pids ${childAfter.pids.join(',')}`)
  t.ok(childAfter.restarts >= 1, `supervisor.status audio restarts ${childAfter.restarts} >= 1`)
  t.not(after.pid, pid, `a new ffmpeg (${pid} → ${after.pid})`)

  await waitFor(() => sounds.seen.length > soundsAtKill, 30000, 'a sound event after the restart', 200)
  const again = sounds.seen[soundsAtKill]!
  t.comment(`sound again ${secs(Date.now() - t0)} s after the kill: ${JSON.stringify(again.data)}`)
  t.ok(Date.parse(again.data['at'] as string) > t0, 'the new sound is from after the kill')
  const up = alerts.seen.slice(alertsAtKill).find((a) => a.data['code'] === 'audio.up')
  t.comment(`audio.up: ${up ? String(up.data['message']) : 'none'}`)
  t.ok(up, 'audio.up announces the recovery')
})

t.test('SIGSTOP of the audio ffmpeg: level watchdog → audio.down, frozen ffmpeg killed, restarted, sound events again', async (t) => {
  const { r, sounds, alerts, states, before, childBefore } = await listeningRig(t, 'monaudiostop')

  const pid = before.pid!
  t.teardown(() => {
    // Whatever happened, never leave a stopped process behind.
    if (isAlive(pid)) {
      process.kill(pid, 'SIGCONT')
      process.kill(pid, 'SIGKILL')
    }
  })
  const alertsAtStop = alerts.seen.length
  const statesAtStop = states.seen.length
  const t0 = Date.now()
  process.kill(pid, 'SIGSTOP')
  t.equal(await waitProcState(pid, 'T'), 'T', `ffmpeg ${pid} is stopped (state T)`)
  // Sounds already parsed may still land; after that, nothing until the restart.
  await new Promise((res) => setTimeout(res, 500))
  const soundsAtStop = sounds.seen.length

  await waitFor(() => alerts.seen.slice(alertsAtStop).some((a) => a.data['code'] === 'audio.down'), 30000, 'audio.down alert', 50)
  const downS = (Date.now() - t0) / 1000
  const down = alerts.seen.slice(alertsAtStop).find((a) => a.data['code'] === 'audio.down')!
  t.comment(`audio.down ${secs(Date.now() - t0)} s after SIGSTOP on ${down.subject}: ${String(down.data['message'])}`)
  t.equal(down.subject, `vigil.${r.node}.alert.warning.audio`, 'on vigil.<node>.alert.warning.audio')
  t.match(down.data, { source: 'audio', code: 'audio.down' })
  t.match(String(down.data['message']), /no audio level/, 'the alert names the level watchdog')
  t.ok(downS >= 2, `not before the level watchdog could fire (${downS.toFixed(2)} s)`)

  await waitFor(() => !isAlive(pid), 15000, `the frozen ffmpeg ${pid} killed`)
  t.pass(`the SIGSTOPped ffmpeg ${pid} is gone (${secs(Date.now() - t0)} s after the SIGSTOP), not left stopped`)

  let after!: AudioStatus
  await waitFor(async () => {
    after = await must<AudioStatus>(r, 'audio', 'status')
    return after.state === 'listening' && after.pid !== null && after.pid !== pid
  }, 30000, 'a new meter listening', 100)
  const childAfter = await r.child('audio')
  t.comment(`restarted after ${secs(Date.now() - t0)} s: audio.status ${JSON.stringify(after)}; supervisor audio restarts ${childAfter.restarts}, pids ${childAfter.pids.join(',')}`)
  t.ok(childAfter.restarts > childBefore.restarts, `supervisor.status audio restarts ${childBefore.restarts} → ${childAfter.restarts}`)
  t.not(after.pid, pid, `a new ffmpeg (${pid} → ${after.pid})`)
  t.same(childAfter.pids, [after.pid], 'the supervisor lists only the new ffmpeg')
  const path = states.seen.slice(statesAtStop).map((m) => m.data['state'])
  t.comment(`audio states published after the SIGSTOP: ${path.join(' → ')}`)
  t.equal(path.at(-1), 'listening', 'the last published audio state is listening')

  await waitFor(() => sounds.seen.length > soundsAtStop, 30000, 'a sound event after the restart', 200)
  const again = sounds.seen[soundsAtStop]!
  t.comment(`sound again ${secs(Date.now() - t0)} s after the SIGSTOP: ${JSON.stringify(again.data)}`)
  t.ok(Date.parse(again.data['at'] as string) > t0, 'the new sound is from after the freeze')
  const up = alerts.seen.slice(alertsAtStop).find((a) => a.data['code'] === 'audio.up')
  t.ok(up, `audio.up announces the recovery${up ? `: ${String(up.data['message'])}` : ''}`)
})
