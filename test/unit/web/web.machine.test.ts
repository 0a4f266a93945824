import t from 'tap'
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate'
import { webMachine, webStateName, type WebAlert, type WebServerCommand, type WebServerEvent } from '../../../machines/web.machine.js'

/** Lets fromPromise settlements (microtasks) reach the machine. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

interface Harness {
  actor: ReturnType<typeof createActor<typeof webMachine>>
  clock: SimulatedClock
  commands: WebServerCommand[]
  alerts: WebAlert[]
  probes: { count: number; inputs: Array<{ host: string; port: number }> }
  cleanups: { count: number }
  state(): string
  emit(event: WebServerEvent): void
}

/** `probeResults`: true = hit, false = miss, consumed in order; then hits. */
function start(probeResults: boolean[] = [], opts: { closeOnStop?: boolean } = {}): Harness {
  const clock = new SimulatedClock()
  const commands: WebServerCommand[] = []
  const alerts: WebAlert[] = []
  const probes = { count: 0, inputs: [] as Array<{ host: string; port: number }> }
  const cleanups = { count: 0 }
  let sendBack: ((e: WebServerEvent) => void) | undefined
  const machine = webMachine.provide({
    actors: {
      runServer: fromCallback<WebServerCommand>(({ sendBack: sb, receive }) => {
        sendBack = sb as (e: WebServerEvent) => void
        receive((cmd) => {
          commands.push(cmd)
          if (cmd.type === 'STOP' && opts.closeOnStop !== false) sendBack?.({ type: 'WEB.CLOSED' })
        })
        return () => {
          cleanups.count += 1
        }
      }),
      probe: fromPromise<void, { host: string; port: number }>(async ({ input }) => {
        probes.inputs.push(input)
        const ok = probeResults[probes.count] ?? true
        probes.count += 1
        if (!ok) throw new Error('connect ECONNREFUSED 127.0.0.1:8080')
      }),
    },
    actions: { raiseAlert: (_, a: WebAlert) => alerts.push(a) },
  })
  const actor = createActor(machine, { input: { probeIntervalMs: 2000, probeMisses: 3, startTimeoutMs: 10000, stopGraceMs: 3000 }, clock })
  actor.start()
  return { actor, clock, commands, alerts, probes, cleanups, state: () => webStateName(actor.getSnapshot().value), emit: (e) => sendBack?.(e) }
}

async function listening(probeResults: boolean[] = [], opts: { closeOnStop?: boolean } = {}): Promise<Harness> {
  const h = start(probeResults, opts)
  h.emit({ type: 'WEB.LISTENING', host: '127.0.0.1', port: 8080 })
  await settle()
  return h
}

async function probeOnce(h: Harness): Promise<void> {
  h.clock.increment(2000)
  await settle()
  await settle()
}

t.test('starting → listening is the ready state, with the bound address in context', async (t) => {
  const h = start()
  t.equal(h.state(), 'starting')
  t.notOk(h.actor.getSnapshot().hasTag('ready'))
  h.emit({ type: 'WEB.LISTENING', host: '127.0.0.1', port: 43210 })
  t.equal(h.state(), 'listening')
  t.ok(h.actor.getSnapshot().hasTag('ready'))
  t.equal(h.actor.getSnapshot().context.port, 43210)
  await probeOnce(h)
  t.same(h.probes.inputs[0], { host: '127.0.0.1', port: 43210 }, 'the probe knocks on the bound port')
  t.equal(h.state(), 'listening', 'the probe loop does not change the top-level state')
  h.actor.stop()
})

t.test('a failed listen ends in failed (not normal) with the reason, and alerts web.down', async (t) => {
  const h = start()
  h.emit({ type: 'WEB.LISTEN_FAILED', reason: 'port 8080 on 127.0.0.1 is in use' })
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.equal(h.state(), 'failed')
  t.same(snap.output, { normal: false, reason: 'web server could not start: port 8080 on 127.0.0.1 is in use' })
  t.equal(h.alerts.length, 1)
  t.equal(h.alerts[0]!.code, 'web.down')
  t.match(h.alerts[0]!.message, /in use/)
  t.equal(h.cleanups.count, 1, 'the server actor is cleaned up')
})

t.test('no listening within startTimeoutMs → failed', async (t) => {
  const h = start()
  h.clock.increment(9999)
  t.equal(h.state(), 'starting')
  h.clock.increment(1)
  t.equal(h.state(), 'failed')
  t.match(h.actor.getSnapshot().output?.reason, /not listening within 10000 ms/)
  t.equal(h.alerts.length, 1)
})

t.test('three missed probes in a row → failed, web.down raised once', async (t) => {
  const h = await listening([false, false, false])
  await probeOnce(h)
  t.equal(h.state(), 'listening')
  t.equal(h.actor.getSnapshot().context.misses, 1)
  t.equal(h.alerts.length, 0, 'one miss is not an outage')
  await probeOnce(h)
  t.equal(h.state(), 'listening')
  await probeOnce(h)
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.equal(h.state(), 'failed')
  t.equal(snap.output?.normal, false)
  t.match(snap.output?.reason, /missed 3 times in a row .*ECONNREFUSED/)
  t.equal(h.alerts.length, 1)
  t.match(h.alerts[0], { code: 'web.down', severity: 'warning', details: { port: 8080, misses: 3 } })
  t.equal(h.cleanups.count, 1, 'failing closes what is left of the server')
})

t.test('an answer resets the miss count: misses must be consecutive', async (t) => {
  const h = await listening([false, false, true, false, false, true])
  for (let i = 0; i < 6; i++) await probeOnce(h)
  t.equal(h.state(), 'listening')
  t.equal(h.actor.getSnapshot().context.misses, 0)
  t.equal(h.alerts.length, 0)
  h.actor.stop()
})

t.test('STOP asks the server to close and ends normal once it has', async (t) => {
  const h = await listening()
  h.actor.send({ type: 'STOP' })
  t.same(h.commands, [{ type: 'STOP' }])
  const snap = h.actor.getSnapshot()
  t.equal(snap.status, 'done')
  t.same(snap.output, { normal: true, reason: 'stopped' })
  t.equal(h.alerts.length, 0, 'an orderly stop is not an outage')
})

t.test('a server that does not close within stopGraceMs is abandoned to the cleanup', async (t) => {
  const h = await listening([], { closeOnStop: false })
  h.actor.send({ type: 'STOP' })
  t.equal(h.state(), 'stopping')
  h.clock.increment(2999)
  t.equal(h.state(), 'stopping')
  h.clock.increment(1)
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
  t.equal(h.cleanups.count, 1)
})

t.test('STOP while starting stops without waiting for the listen', async (t) => {
  const h = start()
  h.actor.send({ type: 'STOP' })
  t.equal(h.actor.getSnapshot().status, 'done')
  t.same(h.actor.getSnapshot().output, { normal: true, reason: 'stopped' })
})

t.test('webStateName reads the top level', async (t) => {
  t.equal(webStateName('starting'), 'starting')
  t.equal(webStateName({ listening: 'probing' }), 'listening')
})
