/**
 * systemd's notify protocol, end to end (DESIGN.md §9.3): a real `vigil start` with a real
 * unix datagram receiver as NOTIFY_SOCKET (python3, standing in for systemd) and
 * WATCHDOG_USEC=3 s. READY=1 once the tree runs; WATCHDOG=1 every 1.5 s; none while the
 * process is SIGSTOPped or its event loop is blocked (the VIGIL_TEST_BLOCK_LOOP_MS hook,
 * tools/cli/testHooks.ts); STOPPING=1 on SIGTERM; no child's environment has NOTIFY_SOCKET.
 *
 * Windows are bounded by marker datagrams sent through the same socket (a datagram socket
 * keeps order), not by sleeps and arrival times: "no ping between marker A and marker B".
 */
import t from 'tap'
import { join } from 'node:path'
import { command } from '../../infra/nats/client.js'
import { startVigil, TEST_VIGIL_CONFIG } from '../helpers/vigilProcess.js'
import { waitFor } from '../helpers/wait.js'
import { waitProcState } from '../helpers/procs.js'
import { childrenNamed, environNames, python3, startNotifyReceiver, type Datagram } from '../helpers/notifySocket.js'
import { findOnPath } from '../../infra/binaries.js'

const WATCHDOG_USEC = 3_000_000
const PING_EVERY_MS = WATCHDOG_USEC / 2000
const BLOCK_MS = 5000

const skip = !python3() ? 'python3 not found (apt-get install python3)' : !findOnPath('systemd-notify', process.env, ['/usr/bin', '/bin']) ? 'systemd-notify not found (apt-get install systemd)' : false

t.test('READY, WATCHDOG at the cadence and only while responsive, STOPPING; children without NOTIFY_SOCKET', { skip }, async (t) => {
  const t0 = performance.now()
  const mark = (what: string) => t.comment(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${what}`)
  const rx = await startNotifyReceiver(t)
  const pings = (from: number, to: number) => rx.datagrams.filter((d) => d.fields.WATCHDOG === '1' && d.at > from && d.at < to)
  const cfgDir = t.testdir({ 'vigil.json': JSON.stringify(TEST_VIGIL_CONFIG) })
  const v = await startVigil(t, {
    node: 'sdnotify',
    env: { VIGIL_CONFIG: join(cfgDir, 'vigil.json'), NOTIFY_SOCKET: rx.socket, WATCHDOG_USEC: String(WATCHDOG_USEC), VIGIL_TEST_BLOCK_LOOP_MS: String(BLOCK_MS) },
  })
  const pid = v.child.pid!
  const nc = await v.client()

  // READY=1 once the tree runs: its STATUS says running, and so does the supervisor.
  const ready = await rx.next((d) => d.fields.READY === '1', 120_000, 'READY=1')
  mark(`READY=1: ${ready.raw}`)
  t.match(ready.fields.STATUS, /^running/, 'READY comes with the running status line')
  t.equal(ready.fields.MAINPID, String(pid), 'the message names vigil as the main process (sent by systemd-notify)')
  const status = await v.running(nc)
  t.equal(status.state, 'running')
  t.ok(rx.datagrams.filter((d) => d.fields.WATCHDOG === '1' && d.at < ready.at).length >= 1, 'pings began while the tree was starting')

  // No child inherits the notify variables: the camera's ffmpeg, nats-server, the media server, every one.
  const pids = status.children.flatMap((c) => c.pids.map((p) => ({ id: c.id, pid: p })))
  t.ok(pids.some((c) => c.id === 'camera'), `camera has a pid: ${JSON.stringify(pids)}`)
  for (const c of pids) {
    const names = await environNames(c.pid)
    if (names === null) continue
    t.notOk(names.some((n) => n === 'NOTIFY_SOCKET' || n.startsWith('WATCHDOG_')), `${c.id} (pid ${c.pid}): no NOTIFY_SOCKET / WATCHDOG_* in /proc/${c.pid}/environ`)
  }
  t.ok((await environNames(pid))?.includes('NOTIFY_SOCKET'), 'vigil itself has it (the check above is not vacuous)')

  // The cadence: every half WATCHDOG_USEC, never a whole one without a ping.
  await rx.next((d) => d.fields.WATCHDOG === '1' && pings(ready.at, Infinity).length >= 5, 30_000, 'five pings after READY')
  const seen = pings(ready.at, Infinity).map((d) => d.at)
  const gaps = seen.slice(1).map((at, i) => at - seen[i]!)
  mark(`ping gaps after READY: ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`)
  t.ok(gaps.every((g) => g < WATCHDOG_USEC / 1000), `every gap under WATCHDOG_USEC (${WATCHDOG_USEC / 1000} ms)`)
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length
  t.ok(mean > PING_EVERY_MS * 0.7 && mean < PING_EVERY_MS * 1.6, `mean gap ${mean.toFixed(0)} ms ≈ ${PING_EVERY_MS} ms`)

  // Stopped: nothing. A: stopped, and no systemd-notify of ours still in flight.
  const quiet = async () => waitFor(async () => (await childrenNamed(pid, 'systemd-notify')).length === 0, 10_000, 'no systemd-notify in flight')
  process.kill(pid, 'SIGSTOP')
  t.equal(await waitProcState(pid, 'T', 10_000), 'T', 'vigil stopped')
  await quiet()
  const stoppedFrom = await rx.mark()
  // The window must span more than a ping period for "none" to mean anything: wait for
  // the receiver to have seen time pass (its own clock), not for a fixed sleep.
  let stoppedUntil = stoppedFrom
  await waitFor(async () => (stoppedUntil = await rx.mark()).at - stoppedFrom.at > WATCHDOG_USEC / 1000 + 500, 20_000, 'a stopped window longer than WATCHDOG_USEC', 500)
  process.kill(pid, 'SIGCONT')
  t.same(pings(stoppedFrom.at, stoppedUntil.at).map((d) => d.raw), [], `no WATCHDOG=1 in ${(stoppedUntil.at - stoppedFrom.at).toFixed(0)} ms stopped`)
  await rx.next((d) => d.fields.WATCHDOG === '1', 20_000, 'pings again after SIGCONT', stoppedUntil.at)
  mark('pinging again after SIGCONT')

  // Blocked event loop: the hook busy-waits BLOCK_MS and says when (CLOCK_MONOTONIC, the receiver's clock too).
  const blockStart = () => /VIGIL_TEST_BLOCK_LOOP start=([\d.]+)/.exec(v.output())
  const blockEnd = () => /VIGIL_TEST_BLOCK_LOOP end=([\d.]+)/.exec(v.output())
  process.kill(pid, 'SIGUSR2')
  await waitFor(() => blockStart() !== null, 20_000, 'the loop blocked')
  await quiet()
  const blockedFrom: Datagram = await rx.mark()
  await waitFor(() => blockEnd() !== null, BLOCK_MS + 20_000, 'the loop unblocked')
  const end = Number(blockEnd()![1])
  t.ok(end - blockedFrom.at > PING_EVERY_MS * 2, `the measured window (${(end - blockedFrom.at).toFixed(0)} ms) spans more than two ping periods`)
  t.same(pings(blockedFrom.at, end).map((d) => d.raw), [], 'no WATCHDOG=1 while the event loop was blocked')
  await rx.next((d) => d.fields.WATCHDOG === '1', 20_000, 'pings again after the block', end)
  mark('pinging again after the block')

  // Still a working rig after both.
  const after = await command<{ state: string }>(nc, v.node, 'supervisor', 'status', {}, { timeoutMs: 10_000 })
  t.ok(after.ok && after.result.state === 'running', 'still running')

  const sigterm = await rx.mark()
  v.child.kill('SIGTERM')
  const stopping = await rx.next((d) => d.fields.STOPPING === '1', 30_000, 'STOPPING=1', sigterm.at)
  t.match(stopping.fields.STATUS, /stopping: signal SIGTERM/)
  const exit = await Promise.race([v.exited, new Promise<null>((r) => setTimeout(() => r(null), 60_000).unref())])
  t.same(exit, { code: 0, signal: null }, 'exit 0')
  t.equal(rx.datagrams.filter((d) => d.fields.READY === '1').length, 1, 'READY once')
  mark('done')
})
