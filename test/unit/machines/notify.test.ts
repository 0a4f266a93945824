import t from 'tap'
import { createActor, fromPromise, SimulatedClock } from 'xstate'
import { expiredEntries, notifyLaneMachine, retryDelayMs, type DeliveryResult, type LaneDrop, type LaneEntry } from '../../../machines/notifyLane.machine.js'

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

const RETRY = { initialMs: 1000, factor: 2, maxMs: 60000, windowMs: 30 * 60 * 1000 }

t.test('retryDelayMs: exponential from initialMs, capped at maxMs (never more than 60 s apart by default)', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8].map((f) => retryDelayMs(f, RETRY)), [0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000])
  t.equal(retryDelayMs(10_000, RETRY), 60000, 'no overflow for a receiver dead for days')
  t.same([1, 2, 3, 4].map((f) => retryDelayMs(f, { initialMs: 1000, factor: 2, maxMs: 5000 })), [1000, 2000, 4000, 5000], 'the test settings')
  // At the defaults, 30 minutes hold at least 33 attempts: 1+2+…+32 s, then every 60 s.
  let elapsed = 0
  let attempts = 0
  while (elapsed < RETRY.windowMs) elapsed += retryDelayMs(++attempts, RETRY)
  t.ok(attempts >= 33, `${attempts} attempts in the default window`)
})

t.test('expiredEntries: those at least windowMs old, with the burst queued just after them', async (t) => {
  const q: LaneEntry[] = [
    { name: 'a', createdAt: 0, quiet: false },
    { name: 'b', createdAt: 500, quiet: false },
    { name: 'c', createdAt: 1000, quiet: false },
  ]
  t.same(expiredEntries(q, 1500, 1000).map((e) => e.name), ['a', 'b'], 'window 1000: a batch of 250 ms after b (500) does not reach c (1000)')
  t.same(expiredEntries(q, 400, 1000), [], 'none expired: none dropped')
  const burst: LaneEntry[] = [0, 3, 7, 12, 40, 90, 2500, 60_000].map((createdAt, i) => ({ name: `e${i}`, createdAt, quiet: false }))
  t.same(
    expiredEntries(burst, 1_800_000, 1_800_000).map((e) => e.createdAt),
    [0, 3, 7, 12, 40, 90],
    'window 30 min: the head expired, the burst queued within 1 s after it goes with it; 2.5 s and 60 s later stay',
  )
})

/** A lane whose deliveries answer from `script` (true = 2xx, a string = the failure), then succeed. */
function lane(opts: { script?: Array<true | string>; pending?: LaneEntry[]; retry?: typeof RETRY } = {}) {
  const clock = new SimulatedClock()
  const sent: Array<{ name: string; at: number }> = []
  const drops: LaneDrop[] = []
  const script = [...(opts.script ?? [])]
  const machine = notifyLaneMachine.provide({
    actors: {
      deliver: fromPromise<DeliveryResult, { receiver: string; entry: LaneEntry }>(async ({ input }) => {
        sent.push({ name: input.entry.name, at: clock.now() })
        const next = script.shift() ?? true
        return next === true ? { ok: true, at: clock.now() } : { ok: false, at: clock.now(), reason: next }
      }),
    },
    actions: { dropEntries: (_, d: LaneDrop) => void drops.push(d) },
  })
  const actor = createActor(machine, { clock, input: { receiver: 'r1', retry: opts.retry ?? RETRY, pending: opts.pending ?? [] } })
  actor.start()
  const entry = (name: string, quiet = false): LaneEntry => ({ name, createdAt: clock.now(), quiet })
  return { actor, clock, sent, drops, entry, state: () => String(actor.getSnapshot().value), ctx: () => actor.getSnapshot().context }
}

t.test('delivers in order, one at a time; pending entries from the outbox first', async (t) => {
  const l = lane({ pending: [{ name: '001', createdAt: 0, quiet: false }] })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('002') })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('002') })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('003') })
  for (let i = 0; i < 5; i++) await settle()
  t.same(l.sent.map((s) => s.name), ['001', '002', '003'], 'in order, a duplicate ENQUEUED ignored')
  t.equal(l.state(), 'idle')
  t.equal(l.ctx().delivered, 3)
  t.same(l.ctx().queue, [])
})

t.test('a failing receiver: retried after 1 s, 2 s, 4 s … capped; a success resets the backoff', async (t) => {
  const l = lane({ script: ['ECONNREFUSED', 'ECONNREFUSED', 'HTTP 500', 'no answer within 5000 ms'] })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('a') })
  await settle()
  t.equal(l.state(), 'waiting')
  t.equal(l.ctx().lastFailure, 'ECONNREFUSED')
  l.clock.increment(999)
  await settle()
  t.equal(l.sent.length, 1, 'not before the backoff')
  for (const [wait, n] of [[1, 2], [2000, 3], [4000, 4], [8000, 5]] as const) {
    l.clock.increment(wait)
    await settle()
    await settle()
    t.equal(l.sent.length, n, `attempt ${n} after ${wait} ms more`)
  }
  t.equal(l.state(), 'idle', 'delivered on the fifth attempt')
  t.equal(l.ctx().failures, 0, 'backoff reset')
  t.equal(l.ctx().lastFailure, 'no answer within 5000 ms', 'the last failure is kept for status')
  t.ok(l.ctx().lastSuccessAt !== null)
  t.same(l.sent.map((s) => s.at), [0, 1000, 3000, 7000, 15000])
})

t.test('the window: the head and every expired entry dropped at once, one drop (one alert); fresher ones kept', async (t) => {
  const retry = { initialMs: 1000, factor: 2, maxMs: 5000, windowMs: 20000 }
  const l = lane({ retry, script: Array(100).fill('ECONNREFUSED') })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('a') })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('b') })
  await settle()
  for (let i = 0; i < 10; i++) {
    l.clock.increment(1000)
    await settle()
    await settle()
  }
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('c', true) })
  l.actor.send({ type: 'ENQUEUED', entry: l.entry('d') })
  let guard = 0
  while (l.drops.length === 0 && guard++ < 100) {
    l.clock.increment(1000)
    await settle()
    await settle()
  }
  t.equal(l.drops.length, 1, 'one drop')
  const drop = l.drops[0]!
  t.same(drop.entries.map((e) => e.name), ['a', 'b'], 'a and b (past 20 s), not c and d (10 s younger)')
  t.equal(drop.told, 2)
  t.equal(drop.reason, 'ECONNREFUSED')
  t.ok(l.sent.at(-1)!.at >= 20000, 'not before the window')
  t.ok(l.sent.at(-1)!.at < 20000 + retry.maxMs + 1000, 'tried until the window closed')
  const gaps = l.sent.slice(1).map((s, i) => s.at - l.sent[i]!.at)
  t.ok(gaps.every((g) => g <= retry.maxMs), `never more than maxMs apart: ${gaps.join(', ')}`)
  t.same(l.ctx().queue.map((e) => e.name), ['c', 'd'])
  t.equal(l.ctx().dropped, 2)
  // c is quiet (a notify.failed delivery): its drop is not told.
  while (l.drops.length === 1 && guard++ < 200) {
    l.clock.increment(1000)
    await settle()
    await settle()
  }
  t.same(l.drops[1]!.entries.map((e) => e.name), ['c', 'd'])
  t.equal(l.drops[1]!.told, 1, 'the quiet entry is dropped without being told')
  t.same(l.ctx().queue, [])
  t.equal(l.state(), 'idle')
})

t.test('an entry dropped from the outbox meanwhile (gone) is skipped, not retried, not told', async (t) => {
  const clock = new SimulatedClock()
  const sent: string[] = []
  const machine = notifyLaneMachine.provide({
    actors: {
      deliver: fromPromise<DeliveryResult, { receiver: string; entry: LaneEntry }>(async ({ input }) => {
        sent.push(input.entry.name)
        return input.entry.name === 'a' ? { ok: false, gone: true, at: clock.now(), reason: 'dropped from the outbox' } : { ok: true, at: clock.now() }
      }),
    },
  })
  const actor = createActor(machine, { clock, input: { receiver: 'r', retry: RETRY, pending: [] } })
  actor.start()
  actor.send({ type: 'ENQUEUED', entry: { name: 'a', createdAt: 0, quiet: false } })
  actor.send({ type: 'ENQUEUED', entry: { name: 'b', createdAt: 0, quiet: false } })
  actor.send({ type: 'DISCARDED', name: 'b' })
  actor.send({ type: 'ENQUEUED', entry: { name: 'c', createdAt: 0, quiet: false } })
  for (let i = 0; i < 5; i++) await settle()
  t.same(sent, ['a', 'c'], 'a gone, b discarded before its turn, c sent')
  t.equal(actor.getSnapshot().context.failures, 0)
  t.equal(actor.getSnapshot().context.delivered, 1)
})

t.test('notify machine: loads the outbox, one lane per receiver, forwards new entries, STOP ends it normally', async (t) => {
  const { notifyMachine, laneId } = await import('../../../machines/notify.machine.js')
  type Snap = import('../../../machines/notify.machine.js').OutboxSnapshot
  const { fromCallback } = await import('xstate')
  const clock = new SimulatedClock()
  const sent: string[] = []
  let push: ((e: { type: 'ENQUEUED'; receiver: string; entry: LaneEntry }) => void) | undefined
  let watchedAfter = ''
  let watchStopped = false
  const machine = notifyMachine.provide({
    actors: {
      lane: notifyLaneMachine.provide({
        actors: {
          deliver: fromPromise<DeliveryResult, { receiver: string; entry: LaneEntry }>(async ({ input }) => {
            sent.push(`${input.receiver}:${input.entry.name}`)
            return { ok: true, at: clock.now() }
          }),
        },
      }),
      loadOutbox: fromPromise<Snap>(async () => ({ pending: { r1: [{ name: '001', createdAt: 0, quiet: false }] }, after: '001' })),
      watchOutbox: fromCallback<{ type: 'NONE' }, { after: string }>(({ sendBack, input }) => {
        watchedAfter = input.after
        push = sendBack as typeof push
        return () => {
          watchStopped = true
        }
      }),
    },
  })
  const actor = createActor(machine, { clock, input: { receivers: ['r1', 'r2'], retry: RETRY } })
  actor.start()
  for (let i = 0; i < 5; i++) await settle()
  t.equal(actor.getSnapshot().value, 'running')
  t.ok(actor.getSnapshot().hasTag('ready'))
  t.ok(actor.getSnapshot().children[laneId('r1')] && actor.getSnapshot().children[laneId('r2')], 'a lane per receiver')
  t.equal(watchedAfter, '001', 'the watch starts after the loaded entries')
  push!({ type: 'ENQUEUED', receiver: 'r2', entry: { name: '002', createdAt: 0, quiet: false } })
  push!({ type: 'ENQUEUED', receiver: 'r1', entry: { name: '003', createdAt: 0, quiet: false } })
  for (let i = 0; i < 5; i++) await settle()
  t.same(sent.sort(), ['r1:001', 'r1:003', 'r2:002'], 'loaded and new entries delivered by their own lane')
  actor.send({ type: 'STOP' })
  t.equal(actor.getSnapshot().status, 'done')
  t.same(actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.ok(watchStopped, 'the watch is stopped with it')
})
