/**
 * Fault: SIGTERM to `vigil start` while it records.
 * The rig must: stop the recording in order (session.json `finalized`, not
 * `interrupted`), leave segments that play, exit 0, and leave no child behind
 * (ffmpeg, media server, embedded nats-server).
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { command } from '../../infra/nats/client.js'
import type { SessionSummary } from '../../actors/recorder/index.js'
import { ffprobe } from '../helpers/ffprobe.js'
import { startVigil, TEST_VIGIL_CONFIG } from '../helpers/vigilProcess.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { describeProcesses, processesMentioning } from '../helpers/procs.js'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))


t.test('SIGTERM during a recording: exit 0, session finalized, segments play, no child left', async (t) => {
  // Small camera (tests share two cores), through VIGIL_CONFIG.
  const cfgDir = t.testdir({ 'vigil.json': JSON.stringify(TEST_VIGIL_CONFIG) })
  const t0 = performance.now()
  const mark = (what: string) => t.comment(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`)
  const v = await startVigil(t, { node: 'sigtermrec', env: { VIGIL_CONFIG: join(cfgDir, 'vigil.json') } })
  const nc = await v.client()
  await v.running(nc)
  await v.streaming(nc)

  mark('camera streaming')
  const started = await command<SessionSummary>(nc, v.node, 'recorder', 'start', { name: 'sigterm' }, { timeoutMs: 20_000 })
  if (!started.ok) throw new Error(`recorder.start: ${started.error.code} ${started.error.message}`)
  await waitFor(async () => {
    const s = await command<{ session: { bytes: number } | null }>(nc, v.node, 'recorder', 'status', {}, { timeoutMs: 2000 })
    return s.ok && (s.result.session?.bytes ?? 0) > 0
  }, 30_000, 'recorded bytes > 0', 200)
  await sleep(3000)

  const status = await command<{ children: { id: string; pids: number[] }[] }>(nc, v.node, 'supervisor', 'status', {}, { timeoutMs: 5000 })
  t.ok(status.ok)
  const pids = status.ok ? status.result.children.flatMap((c) => c.pids) : []
  t.ok(pids.length >= 3, `children pids before SIGTERM: ${pids.join(', ')}`)
  const before = describeProcesses(await processesMentioning(v.dataDir))
  t.comment(`processes naming the data dir before SIGTERM: ${before.length}`)

  mark('SIGTERM')
  v.child.kill('SIGTERM')
  // Hang guard only; unref'd so it does not hold the test process for a minute.
  const exit = await Promise.race([v.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000).unref())])
  mark('exited')
  t.same(exit, { code: 0, signal: null }, 'vigil exits 0 after SIGTERM')

  const sessionJson = JSON.parse(await readFile(join(started.result.dir, 'session.json'), 'utf8')) as { state: string; durationMs: number | null; segments: { file: string; bytes: number }[]; stopReason: string | null }
  t.equal(sessionJson.state, 'finalized', `session.json finalized (stopReason ${sessionJson.stopReason})`)
  t.ok((sessionJson.durationMs ?? 0) >= 3000, `durationMs ${sessionJson.durationMs}`)
  t.ok(sessionJson.segments.length >= 1, `${sessionJson.segments.length} segment(s) listed`)
  let total = 0
  for (const s of sessionJson.segments) {
    const p = await ffprobe(join(started.result.dir, s.file))
    t.ok(p.streams.includes('video'), `${s.file} plays: ${p.streams.join(',')} ${p.duration.toFixed(2)} s`)
    total += p.duration
  }
  t.ok(total >= 2.5, `segments hold ${total.toFixed(2)} s of media`)

  // No child left: every supervised pid is gone, and nothing still runs naming the data dir.
  await waitFor(() => pids.every((p) => !isAlive(p)), 10_000, `children gone: ${pids.filter(isAlive).join(', ')}`)
  t.pass('every supervised child pid is gone')
  t.same(describeProcesses(await processesMentioning(v.dataDir)), [], 'no process left that names the data dir (ffmpeg, nats-server, media server)')
})
