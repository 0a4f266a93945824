import t from 'tap'
import { access, mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { systemClock } from '../../../infra/clock.js'
import { VigilError } from '../../../infra/errors.js'
import { createRecorderActor, recorderChild, RecorderHandle } from '../../../actors/recorder/index.js'
import { footageAccountedS } from '../pipeline/common.js'
import { readSession, writeSession } from '../../../actors/recorder/session.js'
import type { ChildExit } from '../../../actors/supervisor/child.js'
import {
  ffprobe,
  freePort,
  makeSegment,
  ProcessOwner,
  recorderDeps,
  rtmpSource,
  sleep,
  tempDir,
  waitFor,
} from './fixtures.js'

const exists = (p: string) => access(p).then(() => true, () => false)

t.test('records 5 s of a live RTMP stream into playable fragmented MP4 segments', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  const source = rtmpSource(processes, await freePort())
  const deps = recorderDeps({ recordingsDir: dir, inputUrl: source.url, processes })
  const rec = createRecorderActor(deps)
  t.teardown(() => rec.actor.stop())
  rec.actor.start()
  await waitFor(() => rec.status().state === 'idle', 5000, 'idle')
  // A first connect refused (the source not up yet) would open a gap and shift the media.
  await source.listening()

  const started = await rec.start({ name: 'it-5s' })
  t.equal(started.state, 'recording')
  t.equal(rec.status().session?.id, started.id)
  await waitFor(() => (rec.status().session?.bytes ?? 0) > 0, 10_000, 'first bytes')
  t.equal(rec.pids().length, 1, 'one ffmpeg owned')
  await sleep(5000)
  const summary = await rec.stop()
  t.equal(summary.state, 'finalized')
  t.equal(summary.deleted, false)
  t.same(rec.pids(), [], 'no recorder ffmpeg left')
  t.equal(rec.status().state, 'idle')

  const session = await readSession(summary.dir)
  t.equal(session?.state, 'finalized', 'session.json finalized')
  t.equal(session?.name, 'it-5s')
  t.equal(session?.node, 'it')
  const files = (await readdir(summary.dir)).filter((f) => f.startsWith('seg-')).sort()
  t.same(session?.segments.map((s) => s.file), files, 'session.json lists every segment on disk')
  t.ok(files.length >= 2, `several 2 s segments (${files.length})`)
  t.equal(files[0], 'seg-00001.mp4')

  let total = 0
  for (const f of files) {
    const p = await ffprobe(join(summary.dir, f))
    t.ok(p.streams.includes('video') && p.streams.includes('audio'), `${f}: video and audio (${p.streams.join(',')})`)
    t.ok(p.duration > 0, `${f}: ${p.duration.toFixed(3)} s`)
    total += p.duration
  }
  // Like with like: the segments hold the pre-roll, the command-to-command duration and the post-roll.
  // A clean start measures its pre-roll; a start whose first ffmpeg run failed has a leading gap instead.
  t.ok(typeof session?.preRollMs === 'number' || session!.gaps.length > 0, `pre-roll measured (${session?.preRollMs} ms) or a gap recorded (${JSON.stringify(session?.gaps)})`)
  const accountedS = footageAccountedS(session!)
  t.ok(Math.abs(total - accountedS) <= 1, `segments add up to ${total.toFixed(3)} s, session.json accounts for ${accountedS.toFixed(3)} s`)
  t.comment(`segments ${files.length}, media ${total.toFixed(3)} s, accounted ${accountedS.toFixed(3)} s (pre-roll ${session?.preRollMs} ms, duration ${session?.durationMs} ms, post-roll ${session?.postRollMs} ms, gaps ${JSON.stringify(session?.gaps)})`)

  const kinds = deps.events.map((e) => e.kind)
  t.equal(kinds[0], 'recording.started')
  t.equal(kinds.at(-1), 'recording.stopped')
  t.same(
    deps.events.filter((e) => e.kind === 'segment.closed').map((e) => e.payload.file),
    files,
    'one segment.closed per segment, in order',
  )
  t.same(deps.alerts, [], 'no alerts on a clean run')
  await source.stop()
})

t.test('a short recording (stopped 2 s after the start, or at its first bytes) keeps its media', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  const source = rtmpSource(processes, await freePort())
  const rec = createRecorderActor(recorderDeps({ recordingsDir: dir, inputUrl: source.url, processes }))
  t.teardown(() => rec.actor.stop())
  rec.actor.start()
  await waitFor(() => rec.status().state === 'idle', 5000, 'idle')
  await source.listening() // polled: a spawned source listens when it got that far, not after a fixed pause
  await rec.start({ name: 'short' })
  await sleep(2000)
  // Start → first bytes is a timing (0.5-1 s quiet, docs/BENCHMARKS.md; 2.1 s measured in CI
  // with both cores busy, so 2 s was not always enough): the benchmark measures it and the
  // unit test pins the short probe (-analyzeduration). What is checked here is that a stop
  // this early keeps what reached the disk: if the bytes are late, stop at the first of them.
  await waitFor(() => (rec.status().session?.bytes ?? 0) > 0, 15_000, 'first bytes').catch(() => {})
  const summary = await rec.stop()
  t.equal(summary.deleted, false, 'not lost to ffmpeg still probing its input')
  t.ok(summary.segments >= 1)
  const p = await ffprobe(join(summary.dir, 'seg-00001.mp4'))
  t.ok(p.streams.includes('video') && p.streams.includes('audio'), `${p.streams.join(',')} ${p.duration.toFixed(2)} s`)
  await source.stop()
})

t.test('a session that never got a byte is deleted, and rapid cycles leave nothing behind', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  // Nothing listens there: ffmpeg starts, fails to connect, is respawned, never writes.
  const deps = recorderDeps({ recordingsDir: dir, inputUrl: `rtmp://127.0.0.1:${await freePort()}/live/cam`, processes })
  const rec = createRecorderActor(deps)
  t.teardown(() => rec.actor.stop())
  rec.actor.start()
  await waitFor(() => rec.status().state === 'idle', 5000, 'idle')

  const s = await rec.start({ name: 'empty' })
  await sleep(1200)
  const done = await rec.stop()
  t.equal(done.deleted, true)
  t.equal(done.bytes, 0)
  t.notOk(await exists(s.dir), 'zero-length session dir removed')

  // 100 cycles, awaited one after the other; every tenth lets ffmpeg spawn before the stop.
  for (let i = 0; i < 100; i++) {
    await rec.start({ name: `cycle-${i}` })
    if (i % 10 === 0) await sleep(150)
    await rec.stop()
  }
  // And a burst nobody awaits in between: answered in order, none lost.
  const burst: Array<Promise<unknown>> = []
  for (let i = 0; i < 20; i++) burst.push(rec.start({ name: `burst-${i}` }), rec.stop())
  const results = await Promise.allSettled(burst)
  t.ok(results.every((r) => r.status === 'fulfilled'), 'every burst command succeeded in order')
  await waitFor(() => rec.status().state === 'idle', 10_000, 'idle after the burst')
  // Hang guard: one that ignores its SIGTERM is killed after stopGraceMs (3 s), so 15 s.
  await waitFor(() => processes.pids().length === 0, 15_000, 'all ffmpeg gone')
  t.same(processes.pids(), [], 'no orphan process')
  t.same(await readdir(dir), [], 'no half session left (all were empty, all deleted)')
  await t.rejects(rec.stop(), { code: 'NOT_RECORDING' })
})

t.test('startup reconciles a crashed session to interrupted with its real segments', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  const crashed = '20240101T000000Z-abcdef'
  const empty = '20240101T000100Z-abcdef'
  await mkdir(join(dir, crashed))
  await mkdir(join(dir, empty))
  await makeSegment(join(dir, crashed), 2)
  for (const id of [crashed, empty]) {
    await writeSession(join(dir, id), {
      schemaVersion: 1, node: 'it', name: 'crashed', id, startedAt: '2024-01-01T00:00:00.000Z', startedMono: 0,
      state: 'recording', stopReason: null, stoppedAt: null, durationMs: null, segments: [], gaps: [],
    })
  }
  await mkdir(join(dir, 'notes_2024'))
  const rec = createRecorderActor(recorderDeps({ recordingsDir: dir, inputUrl: 'rtmp://127.0.0.1:9/none', processes }))
  t.teardown(() => rec.actor.stop())
  rec.actor.start()
  await waitFor(() => rec.status().state === 'idle', 5000, 'idle after preparing')
  const s = await readSession(join(dir, crashed))
  t.equal(s?.state, 'interrupted')
  t.same(s?.segments.map((x) => x.file), ['seg-00001.mp4'])
  t.ok((s?.segments[0]?.bytes ?? 0) > 1000, 'real size')
  t.notOk(await exists(join(dir, empty)), 'the crashed session with no media is deleted')
  t.ok(await exists(join(dir, 'notes_2024')), 'not ours: untouched')
  const p = await ffprobe(join(dir, crashed, 'seg-00001.mp4'))
  t.ok(p.streams.includes('video') && p.streams.includes('audio'))
})

t.test('source lost mid-session: same session, numbering continues, a gap is recorded', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  const source = rtmpSource(processes, await freePort())
  // No post-roll here: this one-shot `ffmpeg -listen 1` source, once restarted, makes the
  // recorder's stop-time tail open a second, spurious gap (not seen with the real media
  // server: test/faults/camera.test.ts, test/faults/media.test.ts). Tracked in the README.
  const deps = recorderDeps({ recordingsDir: dir, inputUrl: source.url, processes, timing: { reconnectMs: 300, stopGraceMs: 3000, pollMs: 250, postRollMs: 0 } })
  const rec = createRecorderActor(deps)
  t.teardown(() => rec.actor.stop())
  rec.actor.start()
  await waitFor(() => rec.status().state === 'idle', 5000, 'idle')
  // A first connect refused (the source not up yet) would be a second gap.
  await source.listening()
  const started = await rec.start({ name: 'flaky' })
  await waitFor(() => (rec.status().session?.bytes ?? 0) > 0, 10_000, 'first bytes')
  await sleep(2500)
  const firstPid = rec.pids()[0]
  await source.stop() // the media server goes away: ffmpeg reads EOF and exits
  await waitFor(() => rec.pids()[0] !== firstPid, 10_000, 'the first ffmpeg to end')
  await sleep(1000)
  source.restart()
  const before = rec.status().session?.bytes ?? 0
  await waitFor(() => (rec.status().session?.bytes ?? 0) > before, 15_000, 'bytes again after the source returned')
  await sleep(2500)
  t.equal(rec.status().session?.id, started.id, 'still the same session')
  const summary = await rec.stop()
  const session = await readSession(summary.dir)
  t.equal(session?.gaps.length, 1, `one gap: ${JSON.stringify(session?.gaps)}`)
  t.ok((session?.gaps[0]?.ms ?? 0) >= 1000, `gap ${session?.gaps[0]?.ms} ms`)
  const files = (session?.segments ?? []).map((s) => s.file)
  const numbers = files.map((f) => Number(f.slice(4, 9)))
  t.same(numbers, numbers.map((_, i) => i + 1), `contiguous numbering across both ffmpeg runs: ${files.join(' ')}`)
  for (const f of files) {
    const p = await ffprobe(join(summary.dir, f))
    t.ok(p.streams.includes('video') && p.streams.includes('audio'), `${f} playable (${p.duration.toFixed(2)} s)`)
  }
  await source.stop()
})

t.test('recorderChild: supervised start, commands through the handle, orderly stop', async (t) => {
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const dir = await tempDir(t)
  const source = rtmpSource(processes, await freePort())
  const handle = new RecorderHandle()
  const factory = recorderChild(recorderDeps({ recordingsDir: dir, inputUrl: source.url, processes }), handle)
  await t.rejects(handle.start(), { code: 'UNAVAILABLE' }, 'no instance yet')
  t.same(handle.status(), { state: 'down', session: null })
  const child = factory()
  let ready = false
  let exit: ChildExit | null = null
  child.start({ onReady: () => (ready = true), onExit: (e) => (exit = e) })
  await waitFor(() => ready, 5000, 'ready')
  const s = await handle.start({ name: 'supervised', idempotencyKey: 'k-1' })
  const again = await handle.start({ idempotencyKey: 'k-1' })
  t.equal(again.id, s.id, 'same key → same session')
  await t.rejects(handle.start({ idempotencyKey: 'k-2' }), { code: 'ALREADY_RECORDING' })
  await waitFor(() => (handle.status().session?.bytes ?? 0) > 0, 10_000, 'bytes')
  t.equal(child.pids().length, 1, 'the child reports its ffmpeg')
  child.stop() // the supervisor's orderly stop: finalize, then exit
  await waitFor(() => exit !== null, 10_000, 'exit')
  t.same(exit, { normal: true, reason: 'stopped' })
  t.same(child.pids(), [])
  t.equal((await readSession(s.dir))?.state, 'finalized', 'the stop finalized the session')
  t.same(handle.status(), { state: 'down', session: null }, 'detached')
  const err = await handle.stop().catch((e: unknown) => e)
  t.ok(err instanceof VigilError && err.code === 'UNAVAILABLE')
  await source.stop()
  t.ok(systemClock.monotonic() > 0)
})
