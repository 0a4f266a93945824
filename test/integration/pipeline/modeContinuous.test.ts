/**
 * Issue 14, recording modes, continuous: the real rig recording into a small tmpfs (the
 * recordings dir alone; a few MiB) with recorder.mode = continuous and short sessions. It
 * rolls sessions and keeps recording while the free-space retention deletes the oldest;
 * the recorder never stops (no disk_full, no restart, no long gap between sessions).
 *
 * CI: until 2 sessions were deleted (about 45 s). The 10-minute run (docs/BENCHMARKS.md):
 *   VIGIL_CONTINUOUS_MINUTES=10 npx tap --disable-coverage --timeout 1200 test/integration/pipeline/modeContinuous.test.ts
 * Needs root (mount -t tmpfs); skipped otherwise.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startTestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { systemDisk } from '../../../infra/disk.js'
import { listOwnedSessions } from '../../../actors/recorder/session.js'
import { fmt, probeSegments, recStatus, waitCameraStreaming } from './common.js'
import { cannotMountTmpfs } from '../../helpers/tmpfs.js'

const run = promisify(execFile)
const KiB = 1024
const TMPFS_KIB = 2560
const MINUTES = Number(process.env.VIGIL_CONTINUOUS_MINUTES ?? 0)
const SESSION_S = 10

const skip = await cannotMountTmpfs()

t.test('continuous mode on a small tmpfs: sessions roll, retention deletes the oldest, the recorder never stops', { skip }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-continuous-'))
  const recordings = join(dataDir, 'recordings')
  await mkdir(recordings, { mode: 0o700 })
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_KIB}k,mode=0700`, 'tmpfs', recordings])
  let rigExited: Promise<unknown> | null = null
  t.teardown(async () => {
    // After the rig (its own teardown stops it; this waits for that, so nothing holds the mount).
    if (rigExited) await rigExited
    await run('umount', [recordings]).catch((err: unknown) => t.comment(`umount failed: ${String(err)}`))
    await rm(dataDir, { recursive: true, force: true })
  })
  const r = await startTestRig(t, {
    dataDir,
    configure: (c) => {
      c.recorder.mode = 'continuous'
      c.recorder.continuousSessionS = SESSION_S
      c.recorder.minFreeBytes = 768 * KiB
      c.recorder.stopBelowBytes = 512 * KiB
      c.recorder.retention.keepFreeBytes = 1536 * KiB
    },
  })
  rigExited = r.rig.exited
  const started: Array<{ id: string; startedAt: string }> = []
  const stopped: Array<{ id: string; stoppedAt: string; state: string; stopReason: string }> = []
  const critical: string[] = []
  const sub = r.rig.feed.subscribe((item) => {
    if (item.type === 'event' && item.kind === 'recording.started') started.push(item.payload as never)
    if (item.type === 'event' && item.kind === 'recording.stopped') stopped.push(item.payload as never)
    if (item.type === 'alert' && item.alert.source === 'recorder' && item.alert.severity !== 'info') critical.push(`${item.alert.code}: ${item.alert.message}`)
  })
  t.teardown(() => sub.unsubscribe())
  await waitCameraStreaming(r)
  await waitFor(async () => (await recStatus(r)).state === 'recording', 30000, 'continuous mode recording on its own', 200)
  const t0 = performance.now()

  let minFree = Number.POSITIVE_INFINITY
  let samples = 0
  let notRecording = 0
  const present = async () => (await listOwnedSessions(recordings)).map((s) => s.session.id)
  const deletedNow = async () => {
    const on = new Set(await present())
    return started.filter((s) => !on.has(s.id)).length
  }
  const sample = async () => {
    minFree = Math.min(minFree, (await systemDisk.free(recordings)).freeBytes)
    samples++
    if ((await recStatus(r)).state !== 'recording') notRecording++
  }
  const untilMs = MINUTES > 0 ? MINUTES * 60_000 : 0
  await waitFor(
    async () => {
      await sample()
      const elapsed = performance.now() - t0
      return untilMs > 0 ? elapsed >= untilMs : (await deletedNow()) >= 2 && started.length >= 4
    },
    untilMs > 0 ? untilMs + 120_000 : 150_000,
    untilMs > 0 ? `${MINUTES} minutes of continuous recording` : 'sessions rolled and 2 deleted',
    500,
  )
  const elapsedS = (performance.now() - t0) / 1000
  const status = await recStatus(r)
  const deleted = await deletedNow()
  const rec = await r.child('recorder')
  // Between sessions: from a session's end to the next one's start.
  const gapsS = started.slice(1).map((s, i) => (Date.parse(s.startedAt) - Date.parse(stopped[i]?.stoppedAt ?? s.startedAt)) / 1000)
  const maxGapS = gapsS.length ? Math.max(...gapsS) : 0
  const figures = {
    minutes: +(elapsedS / 60).toFixed(2),
    tmpfsKiB: TMPFS_KIB,
    sessionS: SESSION_S,
    sessionsMade: started.length,
    sessionsDeleted: deleted,
    sessionsOnDisk: (await present()).length,
    minFreeKiB: Math.round(minFree / KiB),
    stopBelowKiB: 512,
    keepFreeKiB: 1536,
    samplesNotRecording: `${notRecording}/${samples}`,
    maxGapBetweenSessionsS: +maxGapS.toFixed(2),
    stopReasons: [...new Set(stopped.map((s) => s.stopReason))],
    recorderRestarts: rec.restarts,
    alerts: critical,
  }
  t.comment(`continuous figures: ${JSON.stringify(figures)}`)
  t.equal(status.state, 'recording', 'still recording at the end')
  t.ok(started.length >= 4, `sessions rolled (${started.length} made in ${fmt(elapsedS)} s)`)
  t.ok(deleted >= 2, `retention deleted the oldest (${deleted})`)
  t.same(critical, [], 'no disk_full, stall or capture alert from the recorder')
  t.equal(rec.restarts, 0, 'the recorder child never restarted')
  t.ok(stopped.every((s) => s.state === 'finalized'), 'every session ended finalized (rollover), none disk_full')
  t.ok(minFree > 512 * KiB, `free space never reached stopBelowBytes (min ${Math.round(minFree / KiB)} KiB)`)
  t.ok(maxGapS <= 3, `at most ${fmt(maxGapS)} s between a session's end and the next one's start`)
  t.ok(notRecording <= Math.ceil(samples / 4), `recorder.status said recording in all but ${notRecording} of ${samples} samples (rollovers)`)
  // The newest finished session plays: the recording kept going through the deletions.
  const finished = stopped.at(-1)
  const onDisk = await listOwnedSessions(recordings)
  const last = onDisk.find((s) => s.session.id === finished?.id)
  if (last) {
    const probed = await probeSegments(last.dir, last.session.segments.map((s) => s.file))
    const sumS = probed.reduce((n, p) => n + p.duration, 0)
    t.ok(sumS >= SESSION_S - 2, `the newest finished session holds ${fmt(sumS)} s of footage`)
  }
})
