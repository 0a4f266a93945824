/**
 * Issue 3, "Shown by" #6: SIGKILL the whole supervisor (a real `vigil start`) in the
 * middle of a recording, start it again on the same data dir: the session left
 * `recording` is reconciled to `interrupted` with its real segment list, and its
 * segments play. Reports how much footage the kill cost.
 */
import t, { type Test } from 'tap'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NatsConnection } from '@nats-io/transport-node'
import { command } from '../../infra/nats/client.js'
import { parseSessionFile } from '../../actors/recorder/session.js'
import { startVigil, TEST_VIGIL_CONFIG } from '../helpers/vigilProcess.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { ffprobe } from '../helpers/ffprobe.js'
import { processesMentioning } from '../helpers/procs.js'
import { fmt, readSessionJson, sleep, type CamStatus, type RecStatus, type SessionSummary } from '../integration/pipeline/common.js'

// The whole file took 85.7 s in CI on this machine (two shared cores), 153 s run by itself while
// CI ran: the suite's 300 s (package.json) would be under 3x that. A hang guard only, so 480 s.
t.setTimeout(480_000)

type SupStatus = { state: string; children: Array<{ id: string; status: string; state: string; pids: number[] }> }

async function cmd<T>(nc: NatsConnection, node: string, actor: string, verb: string, args: Record<string, unknown> = {}): Promise<T> {
  const r = await command<T>(nc, node, actor, verb, args, { timeoutMs: 10000 })
  if (!r.ok) throw new Error(`${actor}.${verb}: ${r.error.code} ${r.error.message}`)
  return r.result
}

async function waitRunning(nc: NatsConnection, node: string): Promise<SupStatus> {
  let s: SupStatus | null = null
  await waitFor(async () => {
    s = await cmd<SupStatus>(nc, node, 'supervisor', 'status').catch(() => null)
    return s?.state === 'running' && ['media', 'camera', 'recorder'].every((id) => s!.children.find((c) => c.id === id)?.status === 'running')
  }, 60000, 'vigil running with media, camera, recorder', 200)
  await waitFor(async () => (await cmd<CamStatus>(nc, node, 'camera', 'status').catch(() => null))?.state === 'streaming', 60000, 'camera streaming', 100)
  return s!
}

async function configFile(t: Test, segmentS: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-crash-cfg-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'vigil.config.json')
  // Small camera (two shared cores); free-space thresholds a CI disk meets.
  await writeFile(
    file,
    JSON.stringify({ ...TEST_VIGIL_CONFIG, recorder: { segmentS, minFreeBytes: 64 * 1024 * 1024, stopBelowBytes: 32 * 1024 * 1024 } }),
  )
  return file
}

for (const segmentS of [10, 2]) {
  t.test(`SIGKILL of vigil mid-recording (segmentS ${segmentS}), restart on the same data dir: session interrupted, segments play`, async (t) => {
    const node = `crash${segmentS}`
    const cfg = await configFile(t, segmentS)
    const first = await startVigil(t, { node, env: { VIGIL_CONFIG: cfg } })
    const nc = await first.client()
    const before = await waitRunning(nc, node)
    await sleep(2000) // warm stream

    const started = await cmd<SessionSummary>(nc, node, 'recorder', 'start', { name: 'crash' })
    const startedAt = Date.now()
    await waitFor(async () => ((await cmd<RecStatus>(nc, node, 'recorder', 'status')).session?.bytes ?? 0) > 0, 20000, 'recorded bytes', 100)
    // The first bytes seen on disk (polled): from here on footage was recorded, not in flight.
    const firstBytesAt = Date.now()
    // 8 s: longer than the 6 s bound on the loss below, so losing the open 10 s segment still fails.
    await sleep(Math.max(0, 8000 - (Date.now() - startedAt)))
    const rec = await cmd<RecStatus>(nc, node, 'recorder', 'status')
    const sup = await cmd<SupStatus>(nc, node, 'supervisor', 'status')
    const pids = sup.children.flatMap((c) => c.pids)
    // The recorder child's processes: its capture ffmpeg (writing the session dir) and the warm-start buffer (default config).
    const recPids = sup.children.find((c) => c.id === 'recorder')!.pids
    const writers = await processesMentioning(started.dir, { ffmpegOnly: true })
    t.ok(writers.length === 1 && recPids.includes(writers[0]!.pid), `the recorder ffmpeg runs (recorder child pids ${recPids.join(',')}, writing the session: ${writers.map((w) => w.pid).join(',')})`)
    const killedAt = Date.now()
    first.child.kill('SIGKILL')
    t.same(await first.exited, { code: null, signal: 'SIGKILL' }, 'vigil killed')
    const recordedS = (killedAt - startedAt) / 1000
    await waitFor(() => pids.every((p) => !isAlive(p)), 10000, `children of the killed vigil gone (${pids.join(',')})`)
    t.pass(`no child outlived the supervisor (${pids.join(', ')})`)

    const dir = started.dir
    t.equal(dir.startsWith(first.dataDir), true, 'session dir under the data dir')
    const onDisk = await readSessionJson(dir)
    t.equal(onDisk.state, 'recording', 'left `recording` by the kill')
    const filesAtKill = (await readdir(dir)).filter((f) => f.endsWith('.mp4')).sort()
    const sizesAtKill = await Promise.all(filesAtKill.map(async (f) => `${f}=${(await stat(join(dir, f))).size}`))
    t.comment(`at the kill: recorder.status bytes ${rec.session?.bytes}, segments ${rec.session?.segments}; files ${sizesAtKill.join(' ')}`)

    // Same data dir, new process.
    const second = await startVigil(t, { node, env: { VIGIL_CONFIG: cfg, VIGIL_DATA_DIR: first.dataDir } })
    const nc2 = await second.client()
    await waitRunning(nc2, node)
    t.not(before.children.find((c) => c.id === 'recorder')!.pids, undefined)
    t.same(await cmd<RecStatus>(nc2, node, 'recorder', 'status'), { state: 'idle', session: null }, 'the new recorder is idle')

    const session = await readSessionJson(dir).catch(() => null)
    if (!session) {
      t.fail(`session dir ${started.id} is gone after the restart (reconcile found no media in it: files at the kill ${sizesAtKill.join(' ')})`)
      return
    }
    t.ok(parseSessionFile(session, started.id), 'valid session.json')
    t.equal(session.state, 'interrupted', 'reconciled to interrupted')
    t.equal(session.durationMs, null, 'durationMs unknown (the process that knew it died)')
    t.ok(session.stoppedAt && Date.parse(session.stoppedAt) <= killedAt + 1000, `stoppedAt ${session.stoppedAt} (last write before the kill)`)
    const files = (await readdir(dir)).filter((f) => f.startsWith('seg-') && f.endsWith('.mp4')).sort()
    t.same(session.segments.map((s) => s.file), files, `real segment list: ${files.join(', ')}`)
    // The warm start's buffered seconds (default config): listed, in play order, before the segments.
    const preFiles = (await readdir(dir)).filter((f) => f.startsWith('pre-')).sort()
    t.same((session.preRollFiles ?? []).map((f) => f.file), preFiles, `buffered files listed: ${preFiles.join(', ') || 'none'}`)
    t.same((await readdir(dir)).filter((f) => f.endsWith('.mp4') && !files.includes(f) && !preFiles.includes(f)), [], 'no other media file')
    t.ok(files.length >= 1, 'at least one segment kept')
    let sumS = 0
    const parts: string[] = []
    for (const s of session.segments) {
      t.equal((await stat(join(dir, s.file))).size, s.bytes, `${s.file}: size as listed`)
      const p = await ffprobe(join(dir, s.file))
      t.ok(p.streams.includes('video'), `${s.file} plays: ${p.streams.join(',')} ${fmt(p.duration)} s`)
      sumS += p.duration
      parts.push(`${s.file}=${fmt(p.duration)}s/${s.bytes}B`)
    }
    const lastS = (await ffprobe(join(dir, session.segments.at(-1)!.file))).duration
    t.comment(
      `segmentS ${segmentS}: recorded ${fmt(recordedS)} s before the SIGKILL (start reply → kill); kept ${fmt(sumS)} s in ${parts.join(' ')}; ` +
        `last segment ${fmt(lastS)} s; footage lost ≈ ${fmt(recordedS - sumS)} s`,
    )
    // The issue: a fragment per keyframe, so a crash loses about a second: the fragment being
    // written (≤ 1 s GOP) plus what was still in flight in the live pipeline (~1 s). Not the
    // whole open segment (before flush_packets=1 a 10 s segment lost everything: 28 bytes on disk).
    // Counted from the start reply this holds the start → first bytes latency too: 1.02 s lost on
    // a quiet machine, 2.06 s in CI with both cores busy (2.1 s of it before the first bytes).
    // 6 s is 3x that, and still less than the 8 s a lost open segment would cost.
    t.ok(recordedS - sumS <= 6, `footage lost ${fmt(recordedS - sumS)} s: the open fragment and the live latency, not the open segment`)
    // Counted from the first bytes on disk, the kill may cost the last second (the open
    // fragment, one 1 s GOP) and no more. (The poll sees the first bytes up to ~0.1 s
    // late, which grants that much on top.)
    const onDiskS = (killedAt - firstBytesAt) / 1000
    t.ok(onDiskS - sumS <= 1, `recorded since the first bytes ${fmt(onDiskS)} s, kept ${fmt(sumS)} s: lost ${fmt(onDiskS - sumS)} s <= the last second`)

    // A new recording in the restarted rig works and retention/reconcile left it alone.
    const again = await cmd<SessionSummary>(nc2, node, 'recorder', 'start', { name: 'after-crash' })
    await waitFor(async () => ((await cmd<RecStatus>(nc2, node, 'recorder', 'status')).session?.bytes ?? 0) > 0, 20000, 'recording after restart', 200)
    const stopped = await cmd<SessionSummary>(nc2, node, 'recorder', 'stop')
    t.equal(stopped.id, again.id)
    t.not(again.id, started.id, 'a new session id')
    t.equal((await readSessionJson(dir)).state, 'interrupted', 'the interrupted session stays as reconciled')
    second.child.kill('SIGTERM')
    t.equal((await second.exited).code, 0, 'second vigil exits cleanly')
  })
}
