import t from 'tap'
import { createActor, fromPromise, SimulatedClock } from 'xstate'
import { uploadMachine, uploadRetryDelayMs } from '../../../machines/upload.machine.js'

t.test('backoff doubles from the base and stops at the cap', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7].map((a) => uploadRetryDelayMs(a, 1000, 60_000)), [1000, 2000, 4000, 8000, 16000, 32000, 60000])
  t.equal(uploadRetryDelayMs(500, 1000, 60_000), 60_000, 'no overflow on a long outage')
})

/** The machine with scripted actors: each upload call takes the next outcome. */
function harness(scan: string[], outcomes: Array<'ok' | 'fail'>) {
  const calls: string[] = []
  const clock = new SimulatedClock()
  const machine = uploadMachine.provide({
    actors: {
      scanSessions: fromPromise(async () => scan),
      uploadSession: fromPromise<{ uploaded: boolean }, { session: string }>(async ({ input }) => {
        calls.push(input.session)
        if (outcomes.shift() === 'fail') throw new Error('no responders')
        return { uploaded: true }
      }),
    },
  })
  const actor = createActor(machine, { input: { retryBaseMs: 100, retryMaxMs: 400 }, clock })
  actor.start()
  return { actor, calls, clock }
}

const settle = () => new Promise((r) => setImmediate(r))

t.test('scan, upload in order, back off on failure, resume the same session, then idle', async (t) => {
  const { actor, calls, clock } = harness(['s1', 's2'], ['ok', 'fail', 'fail', 'ok'])
  for (let i = 0; i < 5; i++) await settle()
  t.equal(actor.getSnapshot().value, 'backoff', 'the second session failed: backing off')
  t.same(actor.getSnapshot().context.queue, ['s2'], 'it stays at the head of the queue')
  clock.increment(99)
  await settle()
  t.same(calls, ['s1', 's2'], 'no retry before the delay')
  clock.increment(1)
  for (let i = 0; i < 3; i++) await settle()
  t.equal(actor.getSnapshot().context.attempt, 2, 'failed again')
  clock.increment(200)
  for (let i = 0; i < 5; i++) await settle()
  t.same(calls, ['s1', 's2', 's2', 's2'])
  const snap = actor.getSnapshot()
  t.equal(snap.value, 'idle')
  t.equal(snap.context.uploaded, 2)
  t.equal(snap.context.attempt, 0)
  t.ok(snap.hasTag('ready'))
})

t.test('a finalized session queues once, also while uploading; STOP ends it', async (t) => {
  const { actor, calls } = harness([], [])
  await settle()
  t.equal(actor.getSnapshot().value, 'idle')
  actor.send({ type: 'ENQUEUE', session: 's3' })
  actor.send({ type: 'ENQUEUE', session: 's3' })
  actor.send({ type: 'ENQUEUE', session: 's4' })
  for (let i = 0; i < 6; i++) await settle()
  t.same(calls, ['s3', 's4'], 'each once, in order')
  actor.send({ type: 'STOP' })
  t.equal(actor.getSnapshot().status, 'done')
  t.same(actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})
