import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../../infra/clock.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter } from '../../../infra/nats/commands.js'
import { ProcessOwner } from '../../../infra/process.js'
import { MotionHandle, motionChild, registerMotionCommands, type FrameInfo, type FrameSource, type MotionDeps } from '../../../actors/motion/index.js'
import type { ChildExit } from '../../../actors/supervisor/child.js'
import { waitFor } from '../../helpers/wait.js'

function frameHub() {
  const listeners = new Set<(gray: Buffer, info: FrameInfo) => void>()
  const source: FrameSource = {
    onFrame(l) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  }
  return { source, push: (fill: number) => listeners.forEach((l) => l(Buffer.alloc(16, fill), { width: 4, height: 4 })), count: () => listeners.size }
}

function rig(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-motioncmd-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const hub = frameHub()
  const events: Array<{ kind: string; payload: Record<string, unknown> }> = []
  const deps: MotionDeps = {
    config: { threshold: 0.02, minFrames: 3, cooldownMs: 10000, maxSnapshots: 5, pixelThreshold: 25 },
    snapshotsDir: join(dir, 'snapshots'),
    frames: hub.source,
    latestJpeg: () => Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
    ffmpegPath: 'ffmpeg',
    processes: new ProcessOwner(),
    log: silentLogger(),
    publishEvent: (kind, payload) => events.push({ kind, payload }),
  }
  const handle = new MotionHandle(deps.config)
  const router = createCommandRouter({ node: 'motiontest', log: silentLogger(), clock: systemClock })
  registerMotionCommands(router, handle)
  const factory = motionChild(deps, handle)
  return { hub, events, deps, handle, router, factory }
}

t.test('status before, during and after an instance', async (t) => {
  const { router, factory, hub, handle } = rig(t)
  let reply = await router.dispatch('motion', 'status', {})
  t.match(reply, { ok: true, result: { state: 'down', score: null, lastMotionAt: null, threshold: 0.02, minFrames: 3 } })

  const instance = factory()
  const exits: ChildExit[] = []
  let ready = false
  instance.start({ onReady: () => (ready = true), onExit: (e) => exits.push(e) })
  t.ok(ready)
  t.equal(hub.count(), 1, 'subscribed to the frames')
  hub.push(0)
  hub.push(200)
  hub.push(0)
  hub.push(200)
  // `motion` until its snapshot is on disk, then `cooldown`: polled, not a fixed pause.
  await waitFor(() => handle.status().state === 'cooldown' && handle.status().lastSnapshot !== null, 5000, 'cooldown after the snapshot').catch(() => {})
  reply = await router.dispatch('motion', 'status', {})
  t.match(reply, { ok: true, result: { state: 'cooldown', score: 1, minFrames: 3, motions: 1 } })
  const lastMotionAt = (reply as { result: { lastMotionAt: string } }).result.lastMotionAt
  t.match(lastMotionAt, /^\d{4}-/)
  t.match(handle.status().lastSnapshot, { file: /^snap-.*-1\.jpg$/ })

  instance.stop()
  t.same(exits, [{ normal: true, reason: 'stopped' }])
  t.equal(hub.count(), 0, 'unsubscribed')
  reply = await router.dispatch('motion', 'status', {})
  t.match(reply, { ok: true, result: { state: 'down', lastMotionAt, motions: 1 } })
})

t.test('configure: validated, applied now and kept for the next instance', async (t) => {
  const { router, factory, hub, handle } = rig(t)
  const first = factory()
  first.start({ onReady: () => {}, onExit: () => {} })

  for (const bad of [{ threshold: 0 }, { threshold: 1.5 }, { minFrames: 0 }, { minFrames: 1.5 }, { other: 1 }, {}]) {
    const r = await router.dispatch('motion', 'configure', { args: bad })
    t.match(r, { ok: false, error: { code: 'BAD_REQUEST' } }, JSON.stringify(bad))
  }
  let r = await router.dispatch('motion', 'configure', { args: { threshold: 0.5, minFrames: 1 } })
  t.same(r, { ok: true, result: { threshold: 0.5, minFrames: 1 } })
  r = await router.dispatch('motion', 'status', {})
  t.match(r, { result: { threshold: 0.5, minFrames: 1 } })

  hub.push(0)
  hub.push(200)
  // `motion` until its snapshot is on disk, then `cooldown`: polled, not a fixed pause.
  await waitFor(() => handle.status().state === 'cooldown', 5000, 'cooldown after the snapshot').catch(() => {})
  t.match(await router.dispatch('motion', 'status', {}), { result: { state: 'cooldown', motions: 1 } }, 'one moving frame is enough now')

  // A restart (crash or supervisor.restart) keeps the operator's settings.
  first.kill()
  const second = factory()
  second.start({ onReady: () => {}, onExit: () => {} })
  t.match(await router.dispatch('motion', 'status', {}), { result: { state: 'watching', threshold: 0.5, minFrames: 1, motions: 1 } })
  hub.push(0)
  hub.push(200)
  await waitFor(() => /-2\.jpg$/.test(handle.status().lastSnapshot?.file ?? ''), 5000, 'the second snapshot saved').catch(() => {})
  const status = (await router.dispatch('motion', 'status', {})) as { result: { lastSnapshot: { file: string } } }
  t.match(status.result.lastSnapshot.file, /-2\.jpg$/, 'snapshot numbers continue across instances')
  second.stop()
})
