/**
 * Issue 5, "Shown by" #3 at rig level: the governor with disk thresholds above the real
 * free space goes CRITICAL while a recording runs: the recording is force-stopped and
 * its session finalized, the governor.level alert is folded (count grows, one alert),
 * the camera's preview goes 'off' and its ffmpeg (the encode the recording shares) is
 * never restarted.
 *
 * The governor samples at once when it starts, before any recording can run, so the rig
 * starts with disk thresholds at 0 (never low) and CPU/memory thresholds out of reach
 * (a busy test box must not move the level); once a recording runs, the disk thresholds
 * in the rig's config are raised above the real free space and the operator's
 * `supervisor.restart governor` starts a governor that reads them.
 */
import { statfs } from 'node:fs/promises'
import t from 'tap'
import type { Config } from '../../../infra/config/schema.js'
import { startTestRig, collect } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { camStatus, must, readSessionJson, recStatus, sleep, waitBytes, waitCameraStreaming, type SessionSummary } from '../pipeline/common.js'
import { secs } from './common.js'

interface GovStatus {
  state: string
  level: string | null
  preview: string | null
  samples: { diskFreeBytes: number | null }
}
interface AlertRow {
  id: string
  code: string
  source: string
  severity: string
  count: number
  message: string
}

t.test('governor at rig level: disk low → CRITICAL, recording force-stopped, alert folded, preview off, camera encode untouched', async (t) => {
  let config!: Config
  const r = await startTestRig(t, {
    node: 'mongov',
    configure: (c) => {
      config = c
      c.governor.sampleMs = 500
      c.governor.diskBytes = { warn: 0, degrade: 0, critical: 0 }
      c.governor.cpuPercent = { warn: 10000, degrade: 10001, critical: 10002 }
      c.governor.memoryPercent = { warn: 10000, degrade: 10001, critical: 10002 }
    },
  })
  const alertsSeen = collect(r.client, `vigil.${r.node}.alert.>`)
  const stopped = collect(r.client, `vigil.${r.node}.event.recording.stopped`)
  t.teardown(() => {
    alertsSeen.unsubscribe()
    stopped.unsubscribe()
  })
  await r.ready()
  const cam = await waitCameraStreaming(r)
  const camPid = cam.pids[0]!
  const gov0 = await must<GovStatus>(r, 'governor', 'status')
  t.comment(`before: governor ${gov0.level}, preview ${gov0.preview}, disk free ${gov0.samples.diskFreeBytes}; camera pid ${camPid}, previewLevel ${(await camStatus(r) as unknown as { previewLevel: string }).previewLevel}`)
  t.equal(gov0.level, 'NORMAL', 'NORMAL with the disk thresholds at 0')

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'governed' })
  await waitBytes(r, 0, 20000, 'the recording is flowing')
  await sleep(1500)
  const rec0 = await recStatus(r)
  t.equal(rec0.state, 'recording', `recording ${started.id}: ${rec0.session?.bytes} bytes`)

  const free = (await statfs(r.dataDir)).bavail * (await statfs(r.dataDir)).bsize
  config.governor.diskBytes = { warn: free * 4, degrade: free * 3, critical: free * 2 }
  t.comment(`real free space ${free} bytes; disk thresholds now warn ${free * 4}, degrade ${free * 3}, critical ${free * 2}`)
  const t0 = Date.now()
  await must(r, 'supervisor', 'restart', { child: 'governor' })

  let gov!: GovStatus
  await waitFor(async () => {
    gov = await must<GovStatus>(r, 'governor', 'status')
    return gov.level === 'CRITICAL'
  }, 10000, 'governor CRITICAL', 100)
  t.comment(`CRITICAL ${secs(Date.now() - t0)} s after the restart: ${JSON.stringify(gov)}`)
  t.equal(gov.preview, 'off', 'the governor turns the preview off')

  await waitFor(async () => (await recStatus(r)).state === 'idle', 20000, 'recorder idle', 200)
  t.comment(`recorder idle ${secs(Date.now() - t0)} s after the restart`)
  await waitFor(() => stopped.seen.length >= 1, 10000, 'recording.stopped event')
  const summary = stopped.seen[0]!.data as unknown as SessionSummary
  t.equal(summary.id, started.id, 'recording.stopped for the running session')
  const session = await readSessionJson(started.dir)
  t.comment(`session.json: state ${session.state}, segments ${session.segments.length}, durationMs ${session.durationMs}`)
  t.not(session.state, 'recording', `session finalized (${session.state})`)
  t.ok(session.segments.length >= 1, 'with its segments')

  // Fold: a second governor instance reaches CRITICAL again within the 60 s window.
  await must(r, 'supervisor', 'restart', { child: 'governor' })
  await waitFor(async () => {
    const list = await must<{ alerts: AlertRow[] }>(r, 'alerts', 'list')
    return list.alerts.some((a) => a.code === 'governor.level' && a.count >= 2)
  }, 10000, 'governor.level folded to count 2', 100)
  const list = await must<{ alerts: AlertRow[]; counts: Record<string, number> }>(r, 'alerts', 'list')
  const levelAlerts = list.alerts.filter((a) => a.code === 'governor.level')
  t.comment(`alerts.list governor.level: ${JSON.stringify(levelAlerts.map((a) => ({ id: a.id, severity: a.severity, count: a.count, message: a.message })))}`)
  t.equal(levelAlerts.length, 1, 'one governor.level alert kept')
  t.equal(levelAlerts[0]!.severity, 'critical')
  t.ok(levelAlerts[0]!.count >= 2, `its count grew to ${levelAlerts[0]!.count}`)
  const published = alertsSeen.seen.filter((s) => s.data['code'] === 'governor.level')
  t.comment(`published governor.level: ${published.map((s) => `${s.subject} id=${String(s.data['id']).slice(0, 8)} count=${String(s.data['count'])}`).join('; ')}`)
  t.ok(published.length >= 2 && published.every((s) => s.data['id'] === levelAlerts[0]!.id), 'every publication is the same alert (same id)')
  t.same(published.map((s) => s.data['count']), published.map((_, i) => i + 1), 'published with a growing count')
  t.ok(published.every((s) => s.subject === `vigil.${r.node}.alert.critical.governor`), 'on vigil.<node>.alert.critical.governor')
  const recStopped = alertsSeen.seen.filter((s) => s.data['code'] === 'governor.recording_stopped')
  t.equal(recStopped.length, 1, `governor.recording_stopped published once: ${String(recStopped[0]?.data['message'])}`)

  const camAfter = (await camStatus(r)) as unknown as { state: string; pids: number[]; previewLevel: string; restarts: number; framesSeen: number }
  t.comment(`camera after: ${JSON.stringify(camAfter)}`)
  t.equal(camAfter.previewLevel, 'off', "camera.status previewLevel 'off'")
  t.equal(camAfter.state, 'streaming')
  t.same(camAfter.pids, [camPid], `camera ffmpeg pid unchanged (${camPid})`)
  t.equal(camAfter.restarts, cam.restarts, 'no camera restart')
  t.ok(camAfter.framesSeen > cam.framesSeen, `the camera still delivers frames (${cam.framesSeen} → ${camAfter.framesSeen})`)
})
