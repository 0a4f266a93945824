/**
 * Issue 3, "Shown by" #4: the data dir on a small, REAL tmpfs mounted by the test.
 * (a) free below recorder.minFreeBytes → recorder.start answers DISK_FULL (507), stays idle.
 * (b) a recording that fills the disk past recorder.stopBelowBytes stops itself: state
 *     disk_full, critical alert recorder.disk_full, the last segment still plays, the
 *     supervisor keeps running; space back → idle again.
 * (c) the same with no threshold (stopBelowBytes 0): ffmpeg itself hits ENOSPC.
 * Skipped, with the reason, only where a tmpfs cannot be mounted (no CAP_SYS_ADMIN).
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, rmdir, writeFile, unlink, readdir } from 'node:fs/promises'
import { statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { httpStatusByCode } from '../../infra/errors.js'
import { collect, startTestRig, type TestRig } from '../helpers/rig.js'
import { waitFor } from '../helpers/wait.js'
import { ffprobe } from '../helpers/ffprobe.js'
import { fmt, must, probeSegments, readSessionJson, recStatus, sleep, waitBytes, waitCameraStreaming, type SessionSummary } from '../integration/pipeline/common.js'
import { footageKept, snapshotSegments } from './footage.js'

// The whole file took 45.5 s in CI on this machine (two shared cores), 114 s run by itself while
// CI ran: the suite's 300 s (package.json) would be under 3x that. A hang guard only, so 360 s.
t.setTimeout(360_000)

const run = promisify(execFile)
const MiB = 1024 * 1024

/** Mounts a tmpfs of `sizeMiB` on a fresh temp dir; unmounted (and the dir removed) in teardown. Null when mounting is impossible. */
async function mountTmpfs(t: Test, sizeMiB: number): Promise<{ dir: string; reason?: undefined } | { dir: null; reason: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-tmpfs-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir])
  } catch (err) {
    await rmdir(dir).catch(() => undefined)
    return { dir: null, reason: `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root / CAP_SYS_ADMIN` }
  }
  // Registered before the rig: teardowns run last-in first-out, so the rig is gone first.
  t.teardown(async () => {
    for (let i = 0; ; i++) {
      try {
        await run('umount', [dir])
        break
      } catch (err) {
        if (i >= 20) {
          // Still busy after 10 s: detach it so nothing is left mounted, and say so.
          await run('umount', ['-l', dir]).catch(() => undefined)
          t.comment(`umount ${dir} needed -l: ${(err as Error).message.split('\n')[0]}`)
          break
        }
        await sleep(500)
      }
    }
    await rmdir(dir).catch(() => undefined)
  })
  return { dir }
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir)
  return s.bavail * s.bsize
}

const fmtMiB = (n: number) => `${(n / MiB).toFixed(2)} MiB`

/** A filler file that leaves about `leave` bytes free on the filesystem of `dir`. */
async function fillTo(dir: string, leave: number): Promise<{ path: string; bytes: number }> {
  const path = join(dir, 'filler.bin')
  const bytes = Math.max(0, freeBytes(dir) - leave)
  await writeFile(path, Buffer.alloc(bytes, 0x5a))
  return { path, bytes }
}

async function supervisorRunning(r: TestRig): Promise<{ state: string; children: Array<{ id: string; status: string; state: string }> }> {
  return must(r, 'supervisor', 'status')
}

/** A rig on the tmpfs with the recorder's disk thresholds under test. */
function diskRig(t: Test, node: string, dataDir: string, recorder: { minFreeBytes: number; stopBelowBytes: number; segmentS?: number }) {
  return startTestRig(t, {
    node,
    dataDir,
    configure: (c) => {
      // The recorder's own disk thresholds are the subject: the governor's (1 GiB critical by
      // default, far above this tmpfs) would stop every recording the moment it starts.
      c.governor.diskBytes = { warn: 0, degrade: 0, critical: 0 }
      Object.assign(c.recorder, recorder)
      // The last guard (refused start, stop for disk) is the subject: free-space retention,
      // on by default since issue 15, would delete the finished sessions these tests read.
      c.recorder.retention.keepFreeBytes = 0
    },
  })
}

t.test('(a) below minFreeBytes: recorder.start answers DISK_FULL (507) and the recorder stays idle', async (t) => {
  const m = await mountTmpfs(t, 16)
  if (!m.dir) return t.plan(0, m.reason)
  // minFreeBytes: above the whole tmpfs
  const r = await diskRig(t, 'diskpre', m.dir, { minFreeBytes: 64 * MiB, stopBelowBytes: 8 * MiB })
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  const free = freeBytes(m.dir)
  const reply = await r.cmd('recorder', 'start', { name: 'refused' })
  t.equal(reply.ok, false, 'start refused')
  if (!reply.ok) {
    t.equal(reply.error.code, 'DISK_FULL')
    t.equal(httpStatusByCode[reply.error.code], 507, 'DISK_FULL is the 507 code')
    t.match(reply.error.details, { minFreeBytes: 64 * MiB })
    const reported = (reply.error.details as { freeBytes: number }).freeBytes
    t.ok(reported <= 16 * MiB && Math.abs(reported - free) < 2 * MiB, `free bytes reported ${fmtMiB(reported)} (statfs now ${fmtMiB(free)})`)
    t.comment(`DISK_FULL: ${reply.error.message}`)
  }
  await sleep(1500)
  t.same(await recStatus(r), { state: 'idle', session: null }, 'recorder stays idle, no session')
  t.same(await readdir(join(m.dir, 'recordings')), [], 'no session dir was made')
  t.equal((await supervisorRunning(r)).state, 'running')
})

t.test('(b) a recording that fills the disk past stopBelowBytes stops itself; last segment plays; supervisor keeps running; space back → idle', async (t) => {
  const m = await mountTmpfs(t, 48)
  if (!m.dir) return t.plan(0, m.reason)
  const r = await diskRig(t, 'diskfill', m.dir, { minFreeBytes: 20 * MiB, stopBelowBytes: 10 * MiB, segmentS: 2 })
  const critical = collect(r.client, `vigil.${r.node}.alert.critical.recorder`)
  const info = collect(r.client, `vigil.${r.node}.alert.info.recorder`)
  const recStates = collect(r.client, `vigil.${r.node}.state.recorder`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)

  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'fills-the-disk' })
  await waitBytes(r, 0, 20000)
  await sleep(2500) // at least one whole segment before the disk fills
  const beforeFull = await snapshotSegments(started.dir)
  // Leave a little above the stop threshold: the recording itself crosses it.
  const filler = await fillTo(m.dir, 10 * MiB + 384 * 1024)
  const filledAt = Date.now()
  t.comment(`filler ${fmtMiB(filler.bytes)}, free now ${fmtMiB(freeBytes(m.dir))}, stopBelowBytes ${fmtMiB(10 * MiB)}`)

  await waitFor(async () => (await recStatus(r)).state === 'disk_full', 90000, 'recorder state disk_full', 200)
  const stopS = (Date.now() - filledAt) / 1000
  t.pass(`recorder stopped itself: disk_full ${fmt(stopS)} s after the filler`)
  t.ok(recStates.seen.some((s) => s.data.state === 'disk_full'), 'state disk_full published on vigil.<node>.state.recorder')

  await waitFor(() => critical.seen.some((a) => a.data.code === 'recorder.disk_full'), 10000, 'critical alert recorder.disk_full')
  const alert = critical.seen.find((a) => a.data.code === 'recorder.disk_full')!
  t.equal(alert.subject, `vigil.${r.node}.alert.critical.recorder`)
  t.match(alert.data, { node: r.node, source: 'recorder', severity: 'critical', code: 'recorder.disk_full', details: { session: started.id } })
  t.comment(`alert: ${alert.data.message as string} ${JSON.stringify(alert.data.details)}`)

  // The session was finalized as disk_full and its segments play, the last one included.
  const session = await readSessionJson(started.dir)
  t.equal(session.state, 'disk_full', 'session.json state disk_full')
  t.ok(session.segments.length >= 1, `${session.segments.length} segments`)
  const last = session.segments.at(-1)!
  const probe = await ffprobe(join(started.dir, last.file))
  t.ok(probe.streams.includes('video'), `last segment ${last.file} plays: ${probe.streams.join(',')} ${fmt(probe.duration)} s`)
  for (const s of session.segments.slice(0, -1)) {
    const p = await ffprobe(join(started.dir, s.file))
    t.ok(p.streams.includes('video'), `${s.file} plays (${fmt(p.duration)} s)`)
  }
  // Stopped by the threshold, before any write failed: nothing recorded is lost.
  await footageKept(t, { dir: started.dir, session, probed: await probeSegments(started.dir, session.segments.map((s) => s.file)), faults: 1, before: beforeFull })

  const sup = await supervisorRunning(r)
  t.equal(sup.state, 'running', 'supervisor still running')
  t.ok(sup.children.every((c) => c.status === 'running'), `every child running: ${sup.children.map((c) => `${c.id}=${c.state}`).join(' ')}`)
  const refused = await r.cmd('recorder', 'start', { name: 'while-full' })
  t.equal(refused.ok ? 'ok' : refused.error.code, 'DISK_FULL', 'start while disk_full answers DISK_FULL')

  // Space comes back: the recorder leaves disk_full once free >= minFreeBytes.
  await unlink(filler.path)
  const freedAt = Date.now()
  await waitFor(async () => (await recStatus(r)).state === 'idle', 30000, 'recorder idle again after the filler is deleted', 200)
  t.pass(`idle again ${fmt((Date.now() - freedAt) / 1000)} s after the filler was deleted (free ${fmtMiB(freeBytes(m.dir))})`)
  await waitFor(() => info.seen.some((a) => a.data.code === 'recorder.disk_ok'), 5000, 'info alert recorder.disk_ok')
  const again = await must<SessionSummary>(r, 'recorder', 'start', { name: 'after-space-back' })
  await waitBytes(r, 0, 20000)
  const done = await must<SessionSummary>(r, 'recorder', 'stop', {}, { timeoutMs: 30000 })
  t.equal(done.id, again.id, 'a new recording works once space is back')
})

t.test('(c) no threshold: ffmpeg hits ENOSPC, the recorder stops itself, the last segment plays', async (t) => {
  const m = await mountTmpfs(t, 32)
  if (!m.dir) return t.plan(0, m.reason)
  // stopBelowBytes: only ENOSPC can stop it
  const r = await diskRig(t, 'diskenospc', m.dir, { minFreeBytes: 4 * MiB, stopBelowBytes: 0, segmentS: 2 })
  const critical = collect(r.client, `vigil.${r.node}.alert.critical.recorder`)
  await r.ready(['media', 'camera', 'recorder'])
  await waitCameraStreaming(r)
  await sleep(2000)
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'enospc' })
  await waitBytes(r, 0, 20000)
  await sleep(2500)
  const beforeFull = await snapshotSegments(started.dir)
  const filler = await fillTo(m.dir, 256 * 1024)
  const filledAt = Date.now()
  t.comment(`filler ${fmtMiB(filler.bytes)}, free now ${fmtMiB(freeBytes(m.dir))}`)
  await waitFor(async () => (await recStatus(r)).state === 'disk_full', 90000, 'recorder state disk_full after ENOSPC', 200)
  t.pass(`disk_full ${fmt((Date.now() - filledAt) / 1000)} s after the filler (free ${freeBytes(m.dir)} bytes)`)
  await waitFor(() => critical.seen.some((a) => a.data.code === 'recorder.disk_full'), 10000, 'critical alert recorder.disk_full')
  const alert = critical.seen.find((a) => a.data.code === 'recorder.disk_full')!
  t.comment(`alert: ${alert.data.message as string}`)

  // What is on disk: session.json may not have been rewritten (no space even for it).
  const session = await readSessionJson(started.dir)
  const files = (await readdir(started.dir)).filter((f) => f.endsWith('.mp4')).sort()
  t.comment(`session.json state on disk: ${session.state}; segment files: ${files.join(', ')}`)
  t.ok(files.length >= 1, 'segments on disk')
  const last = files.at(-1)!
  const probe = await ffprobe(join(started.dir, last))
  t.ok(probe.streams.includes('video'), `last segment ${last} plays: ${probe.streams.join(',')} ${fmt(probe.duration)} s`)
  t.equal((await supervisorRunning(r)).state, 'running', 'supervisor still running')
  await rm(filler.path)
  await waitFor(async () => (await recStatus(r)).state === 'idle', 30000, 'idle once space is back', 200)
  t.pass('idle again once the filler is gone')
  // The final session.json the full disk refused is written once there is space again.
  const final = await readSessionJson(started.dir)
  t.equal(final.state, 'disk_full', `session.json finalized as disk_full once space is back (was ${session.state})`)
  t.same(final.segments.map((s) => s.file), files, 'with its real segment list')
  t.ok(final.durationMs !== null && final.durationMs > 0, `durationMs ${final.durationMs}`)
  // ENOSPC costs the fragment that could not be written, no more.
  await footageKept(t, { dir: started.dir, session: final, probed: await probeSegments(started.dir, files), faults: 1, before: beforeFull })
})
