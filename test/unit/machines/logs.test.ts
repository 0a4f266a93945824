import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import { logsMachine, type LogsAlert, type LogsHealthEvent } from '../../../machines/logs.machine.js'

function start(opts: { flush?: () => Promise<void> } = {}) {
  const clock = new SimulatedClock()
  const alerts: LogsAlert[] = []
  let send: ((e: LogsHealthEvent) => void) | undefined
  let watching = false
  let flushes = 0
  const machine = logsMachine.provide({
    actors: {
      watchLogs: fromCallback(({ sendBack }) => {
        watching = true
        send = (e) => sendBack(e)
        return () => {
          watching = false
        }
      }),
      flushLogs: fromPromise(async () => {
        flushes += 1
        await (opts.flush ?? (async () => {}))()
      }),
    },
    actions: { raiseAlert: (_, a) => alerts.push(a) },
  })
  const actor = createActor(machine, { clock, input: { flushTimeoutMs: 3000 } })
  actor.start()
  return { actor, clock, alerts, send: (e: LogsHealthEvent) => send!(e), watching: () => watching, flushes: () => flushes }
}

t.test('open is ready and watches the files', async (t) => {
  const h = start()
  t.same(h.actor.getSnapshot().value, { open: 'healthy' })
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.ok(h.watching())
})

t.test('a failing file: one warning alert per episode, recovery when every file writes again', async (t) => {
  const h = start()
  h.send({ type: 'LOGS.FAILING', file: 'vigil.log', code: 'ENOSPC', message: 'no space' })
  h.send({ type: 'LOGS.FAILING', file: 'commands.jsonl', code: 'ENOSPC', message: 'no space' })
  t.same(h.actor.getSnapshot().value, { open: 'failing' })
  t.equal(h.alerts.length, 1)
  t.match(h.alerts[0], { code: 'logs.write_failed', severity: 'warning', details: { file: 'vigil.log', code: 'ENOSPC' } })
  h.send({ type: 'LOGS.RECOVERED', file: 'vigil.log' })
  t.same(h.actor.getSnapshot().value, { open: 'failing' }, 'commands.jsonl still fails')
  h.send({ type: 'LOGS.RECOVERED', file: 'commands.jsonl' })
  t.same(h.actor.getSnapshot().value, { open: 'healthy' })
  t.match(h.alerts[1], { code: 'logs.write_recovered', severity: 'info' })
  t.equal(h.actor.getSnapshot().context.failing.length, 0)
})

t.test('STOP flushes, then stopped (normal)', async (t) => {
  const h = start()
  h.actor.send({ type: 'STOP' })
  t.equal(h.actor.getSnapshot().value, 'flushing')
  t.notOk(h.watching())
  await new Promise((r) => setTimeout(r, 0))
  t.equal(h.flushes(), 1)
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('a flush that hangs is cut at flushTimeoutMs; a failing one still stops', async (t) => {
  const h = start({ flush: () => new Promise<void>(() => {}) })
  h.actor.send({ type: 'STOP' })
  h.clock.increment(2999)
  t.equal(h.actor.getSnapshot().value, 'flushing')
  h.clock.increment(1)
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })

  const f = start({ flush: async () => Promise.reject(new Error('EIO')) })
  f.actor.send({ type: 'STOP' })
  await new Promise((r) => setTimeout(r, 0))
  t.equal(f.actor.getSnapshot().status, 'done')
})
