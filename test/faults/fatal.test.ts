/**
 * Crash handling (DESIGN.md §9.3): an uncaught exception inside a running rig that records
 * (the VIGIL_TEST_FATAL hook, tools/cli/testHooks.ts, fired by SIGUSR2) is logged fatal
 * with its stack, stops the rig in order (the session finalized, not left `recording`),
 * and `vigil start` exits 70. The next start on the same data dir comes up and leaves no
 * session `recording` (a crash that could not finalize is reconciled to `interrupted`).
 */
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { command } from '../../infra/nats/client.js'
import type { SessionSummary } from '../../actors/recorder/index.js'
import { startVigil, TEST_VIGIL_CONFIG } from '../helpers/vigilProcess.js'
import { waitFor } from '../helpers/wait.js'
import { describeProcesses, processesMentioning } from '../helpers/procs.js'

const sessionStates = async (recordings: string) => {
  const out: Record<string, string> = {}
  for (const d of await readdir(recordings).catch(() => [] as string[])) {
    const text = await readFile(join(recordings, d, 'session.json'), 'utf8').catch(() => null)
    if (text) out[d] = (JSON.parse(text) as { state: string }).state
  }
  return out
}

t.test('a fatal error while recording: logged with its stack, session finalized, exit 70; the next start reconciles', async (t) => {
  const t0 = performance.now()
  const mark = (what: string) => t.comment(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`)
  const cfgDir = t.testdir({ 'vigil.json': JSON.stringify(TEST_VIGIL_CONFIG) })
  const config = join(cfgDir, 'vigil.json')
  const v = await startVigil(t, { node: 'fatal', env: { VIGIL_CONFIG: config, VIGIL_TEST_FATAL: '1' } })
  const nc = await v.client()
  await v.running(nc)
  await v.streaming(nc)
  const started = await command<SessionSummary>(nc, v.node, 'recorder', 'start', { name: 'crash' }, { timeoutMs: 20_000 })
  if (!started.ok) throw new Error(`recorder.start: ${started.error.code} ${started.error.message}`)
  await waitFor(async () => {
    const s = await command<{ session: { bytes: number } | null }>(nc, v.node, 'recorder', 'status', {}, { timeoutMs: 2000 })
    return s.ok && (s.result.session?.bytes ?? 0) > 0
  }, 30_000, 'recorded bytes > 0', 200)
  mark('recording; firing the fatal hook')

  v.child.kill('SIGUSR2')
  const exit = await Promise.race([v.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000).unref())])
  mark('exited')
  t.same(exit, { code: 70, signal: null }, 'exit 70')

  const lines = v.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; err?: { stack?: string }; traceId?: string })
  const fatal = lines.filter((l) => l.level === 60)
  t.equal(fatal.length, 1, 'one fatal line')
  t.match(fatal[0]?.msg, /fatal uncaughtException: VIGIL_TEST_FATAL/)
  t.match(fatal[0]?.err?.stack, /Error: VIGIL_TEST_FATAL[^\n]*\n\s+at /, 'with its stack')
  t.match(fatal[0]?.traceId, /^[0-9a-f]{32}$/, 'and a trace id')
  t.ok(lines.some((l) => l.msg === 'shutdown complete'), 'the shutdown ran in order to its end')

  const session = JSON.parse(await readFile(join(started.result.dir, 'session.json'), 'utf8')) as { state: string; segments: unknown[]; stopReason: string | null }
  t.equal(session.state, 'finalized', `session.json finalized (stopReason ${session.stopReason})`)
  t.ok(session.segments.length >= 1, 'with its segments')
  await waitFor(async () => (await processesMentioning(v.dataDir)).length === 0, 10_000, 'no child left').catch(() => {})
  t.same(describeProcesses(await processesMentioning(v.dataDir)), [], 'no child left behind')

  // The next start on the same data dir.
  mark('starting again on the same data dir')
  const again = await startVigil(t, { node: 'fatal', env: { VIGIL_CONFIG: config, VIGIL_DATA_DIR: v.dataDir } })
  const nc2 = await again.client()
  await again.running(nc2)
  const rec = await command<{ state: string; session: unknown }>(nc2, again.node, 'recorder', 'status', {}, { timeoutMs: 10_000 })
  t.ok(rec.ok && rec.result.session === null, `the recorder is up and idle: ${JSON.stringify(rec.ok ? rec.result.state : rec.error)}`)
  const states = await sessionStates(join(v.dataDir, 'recordings'))
  t.notOk(Object.values(states).includes('recording'), `no session left recording: ${JSON.stringify(states)}`)
  t.equal(states[basename(started.result.dir)], 'finalized', 'the crashed run\'s session kept as finalized')
  again.child.kill('SIGTERM')
  const exit2 = await Promise.race([again.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000).unref())])
  t.same(exit2, { code: 0, signal: null }, 'the next run stops normally (exit 0)')
  mark('done')
})
