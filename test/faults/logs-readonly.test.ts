/**
 * Fault: the log dir is read-only (a real tmpfs mounted `ro`, so writes fail with
 * EROFS even for root — the way a card the kernel remounted read-only after errors
 * looks). Linux refuses to remount a filesystem read-only while files on it are open
 * for writing (EBUSY), so the rig starts on the read-only dir, records, and the dir
 * is remounted read-write mid-run.
 * The rig must: start, serve commands and record (recordings are elsewhere), drop log
 * lines and count them, publish ONE `logs.write_failed` warning for the episode, and
 * once the dir is writable resume on its own and publish `logs.write_recovered`.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { collect, startTestRig } from '../helpers/rig.js'
import { waitFor } from '../helpers/wait.js'
import { must, probeSegments, readSessionJson, sleep, stopRecording, waitBytes, waitCameraStreaming, type SessionSummary } from '../integration/pipeline/common.js'

const run = promisify(execFile)

interface LogsStatus {
  healthy: boolean
  dropped: number
  files: Array<{ file: string; dropped: number; healthy: boolean; lines: number }>
}

/** A data dir whose logs/ is its own small tmpfs, mounted read-only; unmounted in teardown. Null when mounting is impossible here. */
async function dataDirWithReadOnlyLogs(t: Test): Promise<{ dataDir: string; logs: string } | { reason: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-rolog-'))
  const logs = join(dataDir, 'logs')
  await mkdir(logs)
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', logs])
    await run('mount', ['-o', 'remount,ro', logs])
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true })
    return { reason: `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root / CAP_SYS_ADMIN` }
  }
  t.teardown(async () => {
    await run('umount', [logs]).catch(() => run('umount', ['-l', logs]).catch(() => undefined))
    await rm(dataDir, { recursive: true, force: true })
  })
  return { dataDir, logs }
}

t.test('read-only log dir: rig starts and records, one logs.write_failed (EROFS), recovery once remounted rw', async (t) => {
  const m = await dataDirWithReadOnlyLogs(t)
  if ('reason' in m) {
    t.comment(`skipped: ${m.reason}`)
    t.pass('no tmpfs here; the read-only fault needs CAP_SYS_ADMIN')
    return
  }
  // Teardown order is LIFO: the rig (registered after the mount) stops before the unmount.
  const r = await startTestRig(t, { node: 'rolog', dataDir: m.dataDir })
  const alerts = collect(r.client, `vigil.${r.node}.alert.>`)
  await r.ready(['media', 'camera', 'recorder', 'logs'])
  await waitCameraStreaming(r)
  const started = await must<SessionSummary>(r, 'recorder', 'start', { name: 'ro-logs' })
  await waitBytes(r, 0, 20_000)
  // Every command writes a commands.jsonl line: drive some through the fault.
  for (let i = 0; i < 10; i++) {
    const s = await r.cmd('recorder', 'status')
    t.ok(s.ok, `recorder.status ${i + 1} answered with the log dir read-only`)
    await sleep(100)
  }
  await waitFor(() => alerts.seen.some((a) => a.data['code'] === 'logs.write_failed'), 15_000, 'logs.write_failed published')
  const failed = alerts.seen.filter((a) => a.data['code'] === 'logs.write_failed')
  t.equal(failed[0]!.subject, `vigil.${r.node}.alert.warning.logs`)
  t.match(failed[0]!.data['details'], { code: 'EROFS' }, 'the alert names the cause (EROFS)')
  const broken = await must<LogsStatus>(r, 'logs', 'status')
  t.notOk(broken.healthy, 'logs.status: unhealthy')
  t.ok(broken.dropped > 0, `logs.status: ${broken.dropped} lines dropped, counted`)

  // More failures in the same episode: the count grows, no second alert.
  for (let i = 0; i < 5; i++) await r.cmd('recorder', 'status')
  await waitFor(async () => (await must<LogsStatus>(r, 'logs', 'status')).dropped > broken.dropped, 10_000, 'dropped count grows')
  t.equal(alerts.seen.filter((a) => a.data['code'] === 'logs.write_failed').length, 1, 'one warning for the episode')

  // The recording went on the whole time, in the same session.
  const rec = await waitBytes(r, 0, 5_000)
  t.equal(rec.session?.id, started.id, 'still recording the same session')

  // Writable again: vigil resumes by itself (it retries at most every 5 s, on the next line).
  await run('mount', ['-o', 'remount,rw', m.logs])
  await waitFor(async () => {
    await r.cmd('recorder', 'status')
    return (await must<LogsStatus>(r, 'logs', 'status')).healthy
  }, 30_000, 'logs healthy again', 500)
  await waitFor(() => alerts.seen.some((a) => a.data['code'] === 'logs.write_recovered'), 10_000, 'logs.write_recovered published')
  const commandsAfter = (await readFile(join(m.logs, 'commands.jsonl'), 'utf8')).split('\n').filter(Boolean).length
  t.ok(commandsAfter > 0, `commands.jsonl written again (${commandsAfter} lines)`)

  const stopped = await stopRecording(r)
  t.equal(stopped.id, started.id)
  const session = await readSessionJson(stopped.dir)
  t.equal(session.state, 'finalized', 'the recording finalized normally')
  t.same(session.gaps, [], 'no gap: the log fault never touched the recording')
  for (const p of await probeSegments(stopped.dir, session.segments.map((s) => s.file))) t.ok(p.streams.includes('video'), `${p.file} plays (${p.duration.toFixed(2)} s)`)
})
