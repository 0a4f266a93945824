/**
 * Issue 15, "Shown by": retention on by default (DESIGN.md §9.3). The real rig in manual
 * mode (the default) records into a small tmpfs with the recorder's thresholds scaled down
 * and NO retention configured: the free-space target is the default minFreeBytes +
 * max(256 MiB, 5 % of the disk), so the tmpfs is a little over 256 MiB and an operator's
 * ballast file leaves free space just above it. Seeded sessions of this rig:
 *   A: 40 days old → deleted by age (maxAgeDays default 30) when the recorder starts;
 *   B, C, D: hours old; E: sorts after D but claims a start in 1970 (a clock jump) → kept
 *   by age, deleted by free space in its id turn.
 * Then repeated start/stop recordings: the recording never stops for disk, the oldest
 * sessions go first (B, C, D, E, then the first recorded ones), the current one never,
 * and the ballast (not a session) stays.
 * Needs root (mount -t tmpfs); skipped otherwise. About 40 s.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startTestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'
import { systemDisk } from '../../../infra/disk.js'
import { listOwnedSessions, writeSession, SESSION_SCHEMA_VERSION } from '../../../actors/recorder/session.js'
import { formatIdTime } from '../../../actors/recorder/sessionId.js'
import { keepFreeBytesFor } from '../../../machines/recordingMode.machine.js'
import { must, recStatus, waitCameraStreaming, type RecStatus } from './common.js'
import { cannotMountTmpfs } from '../../helpers/tmpfs.js'

const run = promisify(execFile)
const KiB = 1024
const MiB = 1024 * KiB
const TMPFS_MIB = 272
const MIN_FREE = 4 * MiB
const STOP_BELOW = 2 * MiB
const SEED_BYTES = 64 * KiB
/** Free space left above the default target before recording starts. */
const MARGIN = 96 * KiB
const HOUR = 3600_000
const DAY = 24 * HOUR
const NODE = 'keeprig'

const skip = await cannotMountTmpfs()

async function seed(recordings: string, idAt: number, startedAt: number, tag: string): Promise<string> {
  const id = `${formatIdTime(idAt)}-${tag.repeat(6)}`
  const dir = join(recordings, id)
  await mkdir(dir, { mode: 0o700 })
  await writeFile(join(dir, 'seg-00001.mp4'), Buffer.alloc(SEED_BYTES, 1))
  const at = new Date(startedAt).toISOString()
  await writeSession(dir, {
    schemaVersion: SESSION_SCHEMA_VERSION,
    node: NODE,
    name: `seed-${tag}`,
    id,
    startedAt: at,
    startedMono: 0,
    state: 'finalized',
    stopReason: 'stopped by request',
    stoppedAt: at,
    durationMs: 1000,
    segments: [{ file: 'seg-00001.mp4', bytes: SEED_BYTES, startedAt: at }],
    gaps: [],
  })
  return id
}

async function fill(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w')
  const chunk = Buffer.alloc(MiB, 7)
  try {
    for (let left = bytes; left > 0; left -= chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, left))
  } finally {
    await fh.close()
  }
}

t.test('no retention configured, manual mode, small tmpfs: the oldest sessions go, the current one never, the recording never stops for disk', { skip }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-keep-'))
  const recordings = join(dataDir, 'recordings')
  await mkdir(recordings, { mode: 0o700 })
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m,mode=0700`, 'tmpfs', recordings])
  let rigExited: Promise<unknown> | null = null
  t.teardown(async () => {
    if (rigExited) await rigExited
    await run('umount', [recordings]).catch((err: unknown) => t.comment(`umount failed: ${String(err)}`))
    await rm(dataDir, { recursive: true, force: true })
  })

  const now = Date.now()
  const A = await seed(recordings, now - 40 * DAY, now - 40 * DAY, 'a')
  const B = await seed(recordings, now - 3 * HOUR, now - 3 * HOUR, 'b')
  const C = await seed(recordings, now - 2 * HOUR, now - 2 * HOUR, 'c')
  const D = await seed(recordings, now - 1 * HOUR, now - 1 * HOUR, 'd')
  const E = await seed(recordings, now - HOUR / 2, Date.UTC(1970, 0, 1), 'e')
  const disk = await systemDisk.free(recordings)
  const target = keepFreeBytesFor({ keepFreeBytes: null, minFreeBytes: MIN_FREE }, disk.totalBytes)
  t.equal(target, MIN_FREE + 256 * MiB, `the default target on a ${TMPFS_MIB} MiB disk: minFreeBytes + 256 MiB (5 % is less)`)
  const ballast = join(recordings, 'operator-ballast.bin')
  await fill(ballast, disk.freeBytes - target - MARGIN)
  t.comment(`free ${Math.round((await systemDisk.free(recordings)).freeBytes / KiB)} KiB, target ${Math.round(target / KiB)} KiB`)

  const r = await startTestRig(t, {
    node: NODE,
    dataDir,
    configure: (c) => {
      t.equal(c.recorder.mode, 'manual', 'the default mode')
      t.same(c.recorder.retention, { maxSessions: 0, maxBytes: 0, maxAgeDays: 30 }, 'no retention configured: the defaults')
      c.recorder.minFreeBytes = MIN_FREE
      c.recorder.stopBelowBytes = STOP_BELOW
      // The governor's disk levels (1 GiB critical) are not the subject and would stop every recording here.
      c.governor.diskBytes = { warn: 0, degrade: 0, critical: 0 }
    },
  })
  rigExited = r.rig.exited
  const stopped: Array<{ id: string; stopReason: string; state: string }> = []
  const alerts: string[] = []
  const sub = r.rig.feed.subscribe((item) => {
    if (item.type === 'event' && item.kind === 'recording.stopped') stopped.push(item.payload as never)
    if (item.type === 'alert' && item.alert.source === 'recorder' && item.alert.severity !== 'info') alerts.push(`${item.alert.code}: ${item.alert.message}`)
  })
  t.teardown(() => sub.unsubscribe())
  await r.ready(['media', 'camera', 'recorder'])
  const present = async () => (await listOwnedSessions(recordings)).map((s) => s.session.id)
  const atStart = await present()
  t.notOk(atStart.includes(A), 'A (40 days old) was deleted by age when the recorder started')
  t.ok(atStart.includes(E), 'E (start implausible: a clock jump) was not deleted by age')
  t.same(atStart, [B, C, D, E], 'B–E kept')
  await waitCameraStreaming(r)

  const known = [B, C, D, E]
  const violations: string[] = []
  let minFree = Number.POSITIVE_INFINITY
  let cycles = 0
  const gone = async () => {
    const on = new Set(await present())
    return known.filter((id) => !on.has(id))
  }
  /** One poll: the active session's dir is there, and what is gone is the oldest (a prefix in id order). */
  const check = async (status: RecStatus | null) => {
    minFree = Math.min(minFree, (await systemDisk.free(recordings)).freeBytes)
    const g = await gone()
    const sorted = [...known].sort()
    if (g.some((id, i) => id !== sorted[i])) violations.push(`not oldest first: gone ${g.join(',')}`)
    const active = status?.session?.id
    if (active && !(await stat(join(recordings, active)).then(() => true, () => false))) violations.push(`the current session ${active} was deleted`)
  }
  const t0 = performance.now()
  // Repeated recordings until B–E and at least one recorded session are gone (about 30 s at the test camera's rate).
  const doneEnough = async () => {
    const g = await gone()
    return [B, C, D, E].every((id) => g.includes(id)) && g.length >= 5
  }
  while (!(await doneEnough())) {
    if (performance.now() - t0 > 50_000) break
    const started = await must<{ id: string }>(r, 'recorder', 'start', { name: `cycle-${++cycles}` })
    known.push(started.id)
    await waitFor(async () => {
      const s = await recStatus(r)
      await check(s)
      return (s.session?.bytes ?? 0) > 96 * KiB || s.state !== 'recording'
    }, 30_000, `cycle ${cycles} recorded 96 KiB`, 250)
    await must(r, 'recorder', 'stop', {}, { timeoutMs: 20_000 })
    await check(null)
  }
  // The last deletions follow the last probe (every second): let the machine catch up.
  await waitFor(doneEnough, 10_000, 'B–E and a recorded session deleted', 250).catch(() => undefined)
  const g = await gone()
  t.comment(`retention figures: ${JSON.stringify({ cycles, seconds: +((performance.now() - t0) / 1000).toFixed(1), gone: g.length, onDisk: (await present()).length, minFreeKiB: Math.round(minFree / KiB), targetKiB: Math.round(target / KiB) })}`)
  t.ok([B, C, D, E].every((id) => g.includes(id)), 'the seeded sessions went, oldest first (E in its id turn)')
  t.ok(g.length >= 5, `recorded sessions were deleted too (${g.length - 4})`)
  t.same(violations, [], 'oldest first, never the current session')
  t.ok(stopped.length === cycles && stopped.every((s) => s.stopReason === 'stopped by request' && s.state === 'finalized'), 'every recording ended by request, none for disk')
  t.same(alerts, [], 'no disk_full (or other) alert from the recorder')
  t.ok(minFree > STOP_BELOW, `free space never came near stopBelowBytes (min ${Math.round(minFree / KiB)} KiB)`)
  t.ok((await readdir(recordings)).includes('operator-ballast.bin'), "the operator's file (not a session) is untouched")
  t.equal((await r.child('recorder')).restarts, 0, 'the recorder never restarted')
})
