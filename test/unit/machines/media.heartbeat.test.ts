import t from 'tap'
import {
  describeSilence,
  HEARTBEAT_INTERVAL_MS,
  startHeartbeatWatch,
  watchHeartbeat,
  type HeartbeatEvent,
  type HeartbeatWatch,
} from '../../../machines/media.heartbeat.js'

const settings = { timeoutMs: 1500, checkEveryMs: HEARTBEAT_INTERVAL_MS }

/** Feeds events in order; returns the final watch and every silence reported (with when). */
function run(events: HeartbeatEvent[], from = startHeartbeatWatch(0)): { watch: HeartbeatWatch; reports: Array<{ at: number; silentMs: number }> } {
  let watch = from
  const reports: Array<{ at: number; silentMs: number }> = []
  for (const e of events) {
    const step = watchHeartbeat(watch, e, settings)
    watch = step.watch
    if (step.silentMs !== null) reports.push({ at: e.now, silentMs: step.silentMs })
  }
  return { watch, reports }
}

/** Beats and checks every 250 ms from `from` to `to` (a live server). */
function live(from: number, to: number): HeartbeatEvent[] {
  const out: HeartbeatEvent[] = []
  for (let now = from; now <= to; now += HEARTBEAT_INTERVAL_MS) out.push({ type: 'beat', now }, { type: 'check', now: now + 5 })
  return out
}

/** Checks only, every 250 ms (a frozen server). */
function checks(from: number, to: number): HeartbeatEvent[] {
  const out: HeartbeatEvent[] = []
  for (let now = from; now <= to; now += HEARTBEAT_INTERVAL_MS) out.push({ type: 'check', now })
  return out
}

t.test('a server that beats is never reported', async (t) => {
  t.same(run(live(250, 60000)).reports, [])
})

t.test('beats that come late but within the timeout are no silence', async (t) => {
  // Its loop busy for 1.4 s (GC, a burst of sessions), checks on time.
  const events: HeartbeatEvent[] = [...live(250, 1000), ...checks(1250, 2400), { type: 'beat', now: 2400 }, ...live(2500, 5000)]
  t.same(run(events).reports, [])
})

t.test('a frozen server is reported once, at the first check past the timeout', async (t) => {
  // Last beat at 1000; checks every 250 ms after it.
  const { watch, reports } = run([...live(250, 1000), ...checks(1250, 10000)])
  t.same(reports, [{ at: 2750, silentMs: 1750 }], 'reported once: 2500 is exactly 1500 ms (not more), 2750 is over')
  t.ok(watch.reported)
  t.same(run([{ type: 'beat', now: 11000 }, ...checks(11250, 20000)], watch).reports, [], 'nothing more, even after a late beat')
})

t.test('silence counts from the ready report when no beat ever came', async (t) => {
  t.same(run(checks(250, 3000), startHeartbeatWatch(0)).reports, [{ at: 1750, silentMs: 1750 }])
})

t.test("a check that runs late (the parent's own loop was blocked) does not judge; the next one does", async (t) => {
  // The parent blocked from 1000 to 3000: the child's beats wait unread in the channel, and
  // the late check runs before they are read.
  const late: HeartbeatEvent[] = [...live(250, 1000), { type: 'check', now: 3000 }]
  const first = run(late)
  t.same(first.reports, [], 'a check 2 s after the previous one does not report the 2 s it saw')
  // The channel is read right after: the beats were there.
  const after = run([{ type: 'beat', now: 3001 }, { type: 'beat', now: 3002 }, ...live(3250, 6000)], first.watch)
  t.same(after.reports, [], 'the beats that were waiting count')
  // But a child that really froze while the parent was blocked is reported at the next check.
  const frozen = run([{ type: 'check', now: 3250 }], first.watch)
  t.same(frozen.reports, [{ at: 3250, silentMs: 2250 }])
})

t.test('a check on time but a little late (timer jitter) still judges', async (t) => {
  const { reports } = run([...live(250, 1000), { type: 'check', now: 1400 }, { type: 'check', now: 1800 }, { type: 'check', now: 2300 }, { type: 'check', now: 2700 }])
  t.same(reports, [{ at: 2700, silentMs: 1700 }], '400 to 500 ms between checks is jitter, not a blocked loop')
})

t.test('a beat older than the last one does not move the watch back', async (t) => {
  const { watch } = run([{ type: 'beat', now: 1000 }, { type: 'beat', now: 900 }])
  t.equal(watch.lastBeatAt, 1000)
})

t.test('describeSilence: one decimal, in seconds, naming the likely cause', async (t) => {
  t.equal(describeSilence(1620), 'media server silent for 1.6 s (frozen?)')
  t.equal(describeSilence(1750), 'media server silent for 1.8 s (frozen?)')
})
