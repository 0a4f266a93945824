import t from 'tap'
import {
  initialNotifyState,
  mergeMessages,
  notifyArgs,
  notifyStep,
  statusLine,
  watchdogCadence,
  type NotifyEvent,
  type NotifyMessage,
  type NotifyState,
  type WatchdogCadence,
} from '../../../machines/systemdNotify.policy.js'

/** Feeds events in order; returns every message sent, with the time it was sent. */
function drive(events: NotifyEvent[], cadence: WatchdogCadence | null, state: NotifyState = initialNotifyState()) {
  const sent: Array<{ at: number; message: NotifyMessage }> = []
  for (const e of events) {
    const out = notifyStep(state, e, cadence)
    state = out.state
    if (out.message) sent.push({ at: e.now, message: out.message })
  }
  return { sent, state }
}

const ticks = (from: number, to: number, every: number): NotifyEvent[] => {
  const out: NotifyEvent[] = []
  for (let now = from; now <= to; now += every) out.push({ type: 'tick', now })
  return out
}

t.test('watchdog cadence from WATCHDOG_USEC and WATCHDOG_PID', async (t) => {
  t.same(watchdogCadence({ WATCHDOG_USEC: '30000000' }, 42), { pingEveryMs: 15000, tickMs: 1000, maxLagMs: 5000 }, '30 s: ping every 15 s, lag bound capped at 5 s')
  t.same(watchdogCadence({ WATCHDOG_USEC: '2000000' }, 42), { pingEveryMs: 1000, tickMs: 250, maxLagMs: 500 }, '2 s: ping every 1 s')
  t.same(watchdogCadence({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '42' }, 42)?.pingEveryMs, 1000, 'WATCHDOG_PID names us')
  t.equal(watchdogCadence({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '7' }, 42), null, 'WATCHDOG_PID names another process: not ours')
  t.equal(watchdogCadence({}, 42), null, 'unset')
  t.equal(watchdogCadence({ WATCHDOG_USEC: '0' }, 42), null, 'zero')
  t.equal(watchdogCadence({ WATCHDOG_USEC: 'soon' }, 42), null, 'garbage')
  t.equal(watchdogCadence({ WATCHDOG_USEC: '-5' }, 42), null, 'negative')
})

t.test('WATCHDOG=1 every half WATCHDOG_USEC from on-time ticks', async (t) => {
  const cadence = watchdogCadence({ WATCHDOG_USEC: '2000000' }, 1)!
  const { sent } = drive(ticks(0, 5000, 250), cadence)
  const pings = sent.filter((s) => s.message.watchdog).map((s) => s.at)
  t.same(pings, [0, 1000, 2000, 3000, 4000, 5000], 'the first tick pings, then every 1000 ms')
})

t.test('a late tick (a blocked loop) sends no ping; the next on-time one does', async (t) => {
  const cadence = watchdogCadence({ WATCHDOG_USEC: '2000000' }, 1)!
  // Ticks every 250 ms to 1000, then the loop is blocked until 4000, then on time again.
  const events = [...ticks(0, 1000, 250), { type: 'tick', now: 4000 } as const, ...ticks(4250, 5500, 250)]
  const { sent } = drive(events, cadence)
  const pings = sent.filter((s) => s.message.watchdog).map((s) => s.at)
  t.same(pings, [0, 1000, 4250, 5250], 'no ping from the tick that ended the block (lag 2750 ms), one from the next')
  // A mildly late tick still pings: lag 400 ≤ 500.
  const mild = drive([{ type: 'tick', now: 0 }, { type: 'tick', now: 650 }, { type: 'tick', now: 1250 }], cadence)
  t.same(mild.sent.filter((s) => s.message.watchdog).map((s) => s.at), [0, 1250])
})

t.test('no watchdog: ticks only let held STATUS lines out', async (t) => {
  const { sent } = drive(ticks(0, 3000, 1000), null)
  t.same(sent, [], 'nothing to say')
})

t.test('READY once the tree runs, with its line; STATUS rate-limited, latest line wins', async (t) => {
  const cadence = null
  const { sent, state } = drive(
    [
      { type: 'tree', now: 0, phase: 'starting', line: 'starting: 0/3 children up' },
      { type: 'tree', now: 100, phase: 'starting', line: 'starting: 1/3 children up' },
      { type: 'tree', now: 200, phase: 'starting', line: 'starting: 2/3 children up' },
      { type: 'tick', now: 900 },
      { type: 'tick', now: 1000 },
      { type: 'tree', now: 1100, phase: 'running', line: 'running, degraded: 2/3 children up; camera failed' },
      { type: 'tree', now: 1200, phase: 'running', line: 'running: 3/3 children up' },
      { type: 'tree', now: 1300, phase: 'running', line: 'running: 3/3 children up' },
      { type: 'tick', now: 2000 },
      { type: 'tick', now: 2200 },
      { type: 'tick', now: 3200 },
    ],
    cadence,
  )
  t.same(sent, [
    { at: 0, message: { status: 'starting: 0/3 children up' } },
    { at: 1000, message: { status: 'starting: 2/3 children up' } },
    { at: 1100, message: { ready: true, status: 'running, degraded: 2/3 children up; camera failed' } },
    { at: 2200, message: { status: 'running: 3/3 children up' } },
  ], 'one STATUS a second at most; READY at once even when a child is parked (degraded)')
  t.equal(state.phase, 'ready')
  const again = drive([{ type: 'tree', now: 5000, phase: 'starting', line: 'x' }, { type: 'tree', now: 7000, phase: 'running', line: 'y' }], null, state)
  t.notOk(again.sent.some((s) => s.message.ready), 'READY is sent once')
})

t.test('STOPPING once, on the first of a signal or the tree shutting down', async (t) => {
  const ready = drive([{ type: 'tree', now: 0, phase: 'running', line: 'running: 1/1 children up' }], null).state
  const { sent, state } = drive(
    [
      { type: 'stopping', now: 10, line: 'stopping: signal SIGTERM' },
      { type: 'tree', now: 20, phase: 'shutting_down', line: 'shutting down: 1/1 children up' },
      { type: 'stopping', now: 30, line: 'stopping: again' },
      { type: 'tree', now: 2000, phase: 'running', line: 'running: 1/1 children up' },
    ],
    null,
    ready,
  )
  t.same(sent, [{ at: 10, message: { stopping: true, status: 'stopping: signal SIGTERM' } }])
  t.equal(state.phase, 'stopping')
  const viaTree = drive([{ type: 'tree', now: 0, phase: 'shutting_down', line: 'shutting down: 0/1 children up' }], null)
  t.same(viaTree.sent, [{ at: 0, message: { stopping: true, status: 'shutting down: 0/1 children up' } }], 'the shutdown command (no signal) stops too')
  const cadence = watchdogCadence({ WATCHDOG_USEC: '2000000' }, 1)!
  const pinging = drive([{ type: 'tick', now: 0 }, { type: 'stopping', now: 100, line: 'stopping' }, ...ticks(250, 1250, 250)], cadence)
  t.ok(pinging.sent.some((s) => s.at >= 1000 && s.message.watchdog), 'pings go on while the stop runs (systemd stops its watchdog itself)')
})

t.test('status line: phase, count, the children that are not up', async (t) => {
  const kids = [
    { id: 'nats', status: 'running' },
    { id: 'camera', status: 'failed' },
    { id: 'audio', status: 'restarting' },
  ]
  t.equal(statusLine('running', kids), 'running, degraded: 1/3 children up; camera failed, audio restarting')
  t.equal(statusLine('running', [kids[0]!]), 'running: 1/1 children up')
  t.equal(statusLine('starting', kids), 'starting: 1/3 children up')
  t.equal(statusLine('shutting_down', kids), 'shutting down: 1/3 children up')
  const many = Array.from({ length: 40 }, (_, i) => ({ id: `child-number-${i}`, status: 'failed' }))
  const long = statusLine('running', many)
  t.ok(long.length <= 200 && long.endsWith('…'), 'bounded')
  const { sent } = drive([{ type: 'stopping', now: 0, line: 'stopping:\nfatal\r\nerror' }], null)
  t.equal(sent[0]!.message.status, 'stopping: fatal error', 'one line: a newline would split the datagram')
})

t.test('systemd-notify arguments and merging', async (t) => {
  t.same(notifyArgs(42, { ready: true, status: 'running: 3/3 children up', watchdog: true }), ['--pid=42', 'READY=1', 'STATUS=running: 3/3 children up', 'WATCHDOG=1'])
  t.same(notifyArgs(42, { stopping: true }), ['--pid=42', 'STOPPING=1'])
  t.same(mergeMessages({ ready: true, status: 'a' }, { status: 'b', watchdog: true }), { ready: true, status: 'b', watchdog: true })
  t.same(mergeMessages(null, { watchdog: true }), { watchdog: true })
})
