import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import {
  motionMachine,
  motionSettingsErrors,
  type MotionPayload,
  type SavedSnapshot,
  type SnapshotRequest,
} from '../../../machines/motion.machine.js'

type SnapshotResult = SavedSnapshot | null | Error

function start(opts: { threshold?: number; minFrames?: number; cooldownMs?: number; paused?: boolean; snapshot?: (req: SnapshotRequest) => SnapshotResult } = {}) {
  const clock = new SimulatedClock()
  const motions: MotionPayload[] = []
  const saved: SavedSnapshot[] = []
  const requests: SnapshotRequest[] = []
  const errors: unknown[] = []
  let send: ((score: number) => void) | undefined
  let unsubscribed = false
  let subscriptions = 0
  let at = 1_700_000_000_000
  const machine = motionMachine.provide({
    actors: {
      watchFrames: fromCallback(({ sendBack }) => {
        subscriptions += 1
        unsubscribed = false
        send = (score) => sendBack({ type: 'FRAME', score, at: (at += 200) })
        return () => {
          unsubscribed = true
        }
      }),
      saveSnapshot: fromPromise<SavedSnapshot | null, SnapshotRequest>(async ({ input }) => {
        requests.push(input)
        const r = opts.snapshot ? opts.snapshot(input) : { file: `snap-${input.at}.jpg`, bytes: 1000, at: new Date(input.at).toISOString() }
        if (r instanceof Error) throw r
        return r
      }),
    },
    actions: {
      publishMotion: (_, p) => motions.push(p),
      publishSnapshot: (_, s) => saved.push(s),
      reportSnapshotError: (_, { error }) => errors.push(error),
    },
  })
  const actor = createActor(machine, {
    clock,
    input: { threshold: opts.threshold ?? 0.02, minFrames: opts.minFrames ?? 3, cooldownMs: opts.cooldownMs ?? 10000, paused: opts.paused ?? false },
  })
  actor.start()
  const frames = (...scores: number[]) => scores.forEach((s) => send!(s))
  const settle = () => new Promise((r) => setTimeout(r, 0))
  return { actor, clock, motions, saved, requests, errors, frames, settle, state: () => actor.getSnapshot().value as string, unsubscribed: () => unsubscribed, subscriptions: () => subscriptions }
}

t.test('watching is ready; minFrames consecutive frames over the threshold make motion', async (t) => {
  const h = start()
  t.equal(h.state(), 'watching')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.frames(0.5, 0.5)
  t.equal(h.motions.length, 0)
  h.frames(0.01)
  t.equal(h.actor.getSnapshot().context.over, 0, 'a still frame breaks the run')
  h.frames(0.05, 0.05, 0.05)
  t.equal(h.state(), 'motion')
  t.equal(h.motions.length, 1)
  t.match(h.motions[0], { score: 0.05, threshold: 0.02, minFrames: 3 })
  t.match(h.motions[0]!.at, /^\d{4}-/)
  await h.settle()
  t.equal(h.state(), 'cooldown')
  t.equal(h.requests.length, 1)
  t.equal(h.saved.length, 1, 'snapshot.saved')
  t.same(h.actor.getSnapshot().context.lastSnapshot, h.saved[0])
})

t.test('a score equal to the threshold is not over it', async (t) => {
  const h = start({ minFrames: 1 })
  h.frames(0.02, 0.02)
  t.equal(h.motions.length, 0)
  h.frames(0.0201)
  t.equal(h.motions.length, 1)
})

t.test('cooldown: no new motion until it ends', async (t) => {
  const h = start({ minFrames: 1, cooldownMs: 10000 })
  h.frames(0.9)
  await h.settle()
  t.equal(h.state(), 'cooldown')
  h.frames(0.9, 0.9, 0.9)
  t.equal(h.motions.length, 1)
  t.equal(h.actor.getSnapshot().context.score, 0.9, 'scores still update')
  h.clock.increment(9999)
  t.equal(h.state(), 'cooldown')
  h.clock.increment(1)
  t.equal(h.state(), 'watching')
  h.frames(0.9)
  t.equal(h.motions.length, 2)
})

t.test('a failed snapshot (null) and a throwing one never stop the monitor', async (t) => {
  let call = 0
  const h = start({ minFrames: 1, cooldownMs: 1000, snapshot: () => (++call === 1 ? null : new Error('encoder died')) })
  h.frames(0.5)
  await h.settle()
  t.equal(h.state(), 'cooldown')
  t.equal(h.saved.length, 0)
  t.equal(h.actor.getSnapshot().context.snapshotFailures, 1)
  h.clock.increment(1000)
  h.frames(0.5)
  await h.settle()
  t.equal(h.state(), 'cooldown')
  t.equal(h.actor.getSnapshot().context.snapshotFailures, 2)
  t.equal(h.errors.length, 1)
  h.clock.increment(1000)
  t.equal(h.state(), 'watching')
  t.equal(h.actor.getSnapshot().status, 'active')
})

t.test('CONFIGURE changes threshold and minFrames at run time; invalid values are ignored', async (t) => {
  const h = start({ threshold: 0.02, minFrames: 3 })
  h.frames(0.05, 0.05)
  h.actor.send({ type: 'CONFIGURE', threshold: 0.1 })
  t.same(h.actor.getSnapshot().context.settings, { threshold: 0.1, minFrames: 3, cooldownMs: 10000 })
  t.equal(h.actor.getSnapshot().context.over, 0, 'the run restarts under new settings')
  h.frames(0.05, 0.05, 0.05)
  t.equal(h.motions.length, 0, 'no longer over the raised threshold')
  h.actor.send({ type: 'CONFIGURE', minFrames: 1 })
  h.frames(0.2)
  t.equal(h.motions.length, 1)
  h.actor.send({ type: 'CONFIGURE', threshold: 5 })
  h.actor.send({ type: 'CONFIGURE', minFrames: 0 })
  t.same(h.actor.getSnapshot().context.settings, { threshold: 0.1, minFrames: 1, cooldownMs: 10000 })
})

t.test('STOP from any state: stopped (normal), frames unsubscribed', async (t) => {
  const h = start({ minFrames: 1 })
  h.frames(0.5)
  h.actor.send({ type: 'STOP' })
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.ok(h.unsubscribed())
})

t.test('settings validation', async (t) => {
  t.same(motionSettingsErrors({}), [])
  t.same(motionSettingsErrors({ threshold: 1, minFrames: 1000 }), [])
  t.equal(motionSettingsErrors({ threshold: 0 }).length, 1)
  t.equal(motionSettingsErrors({ threshold: 1.01 }).length, 1)
  t.equal(motionSettingsErrors({ threshold: Number.NaN }).length, 1)
  t.equal(motionSettingsErrors({ minFrames: 0 }).length, 1)
  t.equal(motionSettingsErrors({ minFrames: 2.5 }).length, 1)
  t.equal(motionSettingsErrors({ threshold: -1, minFrames: 1001 }).length, 2)
})

t.test('PAUSE (CPU CRITICAL): no frame subscription, no motion, still ready; RESUME subscribes again', async (t) => {
  const h = start()
  h.frames(0.5, 0.5)
  h.actor.send({ type: 'PAUSE' })
  t.equal(h.state(), 'paused')
  t.ok(h.unsubscribed(), 'the frame subscription (and its arithmetic) is gone')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  h.frames(0.5, 0.5, 0.5, 0.5)
  t.equal(h.motions.length, 0, 'frames that still arrive are ignored')
  h.actor.send({ type: 'RESUME' })
  t.equal(h.state(), 'watching')
  t.equal(h.subscriptions(), 2, 'a fresh subscription')
  t.notOk(h.unsubscribed())
  t.equal(h.actor.getSnapshot().context.over, 0, 'the run before the pause does not count')
  h.frames(0.5, 0.5, 0.5)
  t.equal(h.motions.length, 1, 'detecting again')
  await h.settle()
  h.actor.send({ type: 'PAUSE' })
  t.equal(h.state(), 'paused', 'from cooldown too')
  h.clock.increment(60_000)
  t.equal(h.state(), 'paused', 'the cooldown timer does not wake it')
  h.actor.send({ type: 'STOP' })
  t.equal(h.actor.getSnapshot().status, 'done')
})

t.test('an instance started while paused begins paused', async (t) => {
  const h = start({ paused: true })
  t.equal(h.state(), 'paused')
  t.ok(h.subscriptions() === 0 || h.unsubscribed(), 'no live frame subscription')
  t.same(Object.keys(h.actor.getSnapshot().children), [], 'no frames actor')
  h.actor.send({ type: 'RESUME' })
  t.equal(h.state(), 'watching')
  h.frames(0.5, 0.5, 0.5)
  t.equal(h.motions.length, 1)
})
