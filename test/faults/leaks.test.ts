/**
 * After many restarts: no open file descriptors growing, no orphan processes, and
 * bounded heap growth (issue 7, "After the suite").
 * The supervisor is the real one (startRig with test children, real nats-server);
 * restarts go through supervisor.restart, each awaited until the new instance runs.
 */
import t from 'tap'
import { readdir } from 'node:fs/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createActor } from 'xstate'
import type { ChildFactory } from '../../actors/supervisor/child.js'
import { machineChild } from '../../actors/supervisor/machineChild.js'
import { greeterMachine } from '../helpers/greeter.js'
import { processChild } from '../helpers/processChild.js'
import { isAlive, waitFor } from '../helpers/wait.js'
import { startTestRig } from '../helpers/rig.js'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const fdCount = async () => (await readdir('/proc/self/fd')).length

/** A real collection, without --expose-gc on the command line (tap runs us). */
function gcFn(): (() => void) | undefined {
  if (typeof globalThis.gc === 'function') return globalThis.gc
  try {
    setFlagsFromString('--expose-gc')
    return runInNewContext('gc') as () => void
  } catch {
    return undefined
  }
}

/**
 * A child with no process, made like every real child (machineChild around an XState
 * actor that invokes a helper), so the rig subscribes to it, publishes its states and
 * its inspector follows it: what a restart could leave behind is all there.
 */
function machineChildCounted(made: { n: number }): ChildFactory {
  return () => {
    made.n++
    return machineChild(() => createActor(greeterMachine))
  }
}

t.test('200 restarts of an ffmpeg child: fds stable, no orphans; 1000 restarts of an in-process machine child: heap bounded', async (t) => {
  const made = { n: 0 }
  const r = await startTestRig(t, {
    // The worker is a real ffmpeg encoding a synthetic source (stdio pipes like the camera's).
    children: (ctx, spec) => [
      spec('worker', { factory: processChild(ctx.processes, 'worker', ctx.ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=15', '-f', 'null', '-']) }),
      spec('inproc', { factory: machineChildCounted(made) }),
    ],
  })
  await r.ready(['worker', 'inproc'], 30_000)
  const sup = r.rig.supervisor
  const child = (id: string) => sup.children().find((c) => c.id === id)!

  async function restartWorker(): Promise<number> {
    const old = child('worker').pids[0]
    sup.restart('worker')
    let pid = 0
    await waitFor(() => {
      const c = child('worker')
      pid = c.pids[0] ?? 0
      return c.status === 'running' && pid > 0 && pid !== old
    }, 20_000, 'worker running again with a new pid', 5)
    return old ?? 0
  }

  // Warm-up: first restarts allocate lazily (timers, pipes of the first spawn, caches).
  for (let i = 0; i < 10; i++) await restartWorker()
  const fdBefore = await fdCount()
  const oldPids: number[] = []
  for (let i = 0; i < 200; i++) oldPids.push(await restartWorker())
  // The last replaced worker's exit and its pipes' close are asynchronous: polled, not a
  // fixed pause (a hang guard only; a leak or an orphan still fails below).
  await waitFor(async () => !oldPids.some(isAlive) && (await fdCount()) - fdBefore <= 4, 10_000, 'replaced workers gone, their fds closed').catch(() => {})
  const fdAfter = await fdCount()
  t.comment(`fds: ${fdBefore} before, ${fdAfter} after 200 restarts`)
  // Each spawned child holds 3 stdio pipes while it runs; a leak of one fd per restart
  // would show as +200. Slack of 4: the nats client or a libuv wakeup fd may come and go.
  t.ok(fdAfter - fdBefore <= 4, `fd growth ${fdAfter - fdBefore} <= 4 after 200 restarts`)
  const orphans = oldPids.filter(isAlive)
  t.same(orphans, [], 'every replaced worker process is gone (no orphans, no zombies kept)')
  t.same(r.rig.processes.pids(), child('worker').pids, 'the process owner tracks only the live worker')

  // Heap: 1000 restarts of the in-process machine child.
  const gc = gcFn()
  async function restartInproc(): Promise<void> {
    const before = made.n
    sup.restart('inproc')
    await waitFor(() => made.n > before && child('inproc').status === 'running', 20_000, 'inproc running again', 1)
  }
  async function settle(): Promise<number> {
    for (let i = 0; i < 5; i++) {
      await sleep(20)
      gc?.()
    }
    return process.memoryUsage().heapUsed
  }
  for (let i = 0; i < 300; i++) await restartInproc()
  const heapBefore = await settle()
  for (let i = 0; i < 1000; i++) await restartInproc()
  const heapAfter = await settle()
  const growthMB = (heapAfter - heapBefore) / 1024 / 1024
  t.comment(`heap: ${(heapBefore / 1048576).toFixed(1)} MB → ${(heapAfter / 1048576).toFixed(1)} MB (${growthMB.toFixed(2)} MB) after 1000 restarts, gc ${gc ? 'forced' : 'not available'}`)
  // Bound: the smallest thing a restart could leave behind is its instance (actor,
  // snapshot, closures). Measured: keeping every instance of this (minimal) machine
  // grows the heap 5.6-5.9 MB over 1000 restarts (~5.7 KB each; a real child, with its
  // context and invoked actors, more). Measured without a leak, after 300 warm-up
  // restarts, with a forced gc: 0.44-0.57 MB, flat from 1000 to 3000 restarts (not
  // per restart). So 3 MB: five times the noise, and half of what keeping one minimal
  // instance per restart costs. Without gc, uncollected young garbage adds up to
  // the young generation (16 MB semi-spaces): 20 MB then.
  const bound = gc ? 3 : 20
  t.ok(growthMB < bound, `heap growth ${growthMB.toFixed(2)} MB < ${bound} MB`)
  t.equal(child('inproc').status, 'running')
  t.equal(child('worker').status, 'running')
})
