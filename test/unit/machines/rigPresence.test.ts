import t from 'tap'
import { initialPresence, reducePresence, type PresenceAlert, type PresenceEvent, type PresenceState, type RigEntry } from '../../../machines/rigPresence.policy.js'

const T0 = Date.parse('2026-12-02T10:00:00.000Z')
const entry = (node: string, seenAt: number, over: Partial<RigEntry> = {}): RigEntry => ({ node, seenAt, heartbeatS: 10, goodbye: false, ...over })

/** An observer `self` fed events in order; every alert it raised so far. */
function observer(self = 'a') {
  let state: PresenceState = initialPresence(self, 10)
  const alerts: PresenceAlert[] = []
  const feed = (e: PresenceEvent) => {
    const r = reducePresence(state, e)
    state = r.state
    alerts.push(...r.alerts)
    return r.alerts
  }
  /** Both rigs beat at `at`: the observer's own entry and `others`' come back to it. */
  const beat = (at: number, ...others: string[]) => {
    feed({ type: 'entry', entry: entry(self, at), at })
    for (const n of others) feed({ type: 'entry', entry: entry(n, at), at })
  }
  return { feed, beat, alerts, state: () => state }
}

t.test('a rig silent for 3 heartbeats is offline once (critical); back → online once (info)', async (t) => {
  const o = observer()
  o.beat(T0, 'b')
  // b goes silent after T0; a keeps beating.
  for (let s = 10; s <= 30; s += 10) o.beat(T0 + s * 1000)
  t.same(o.feed({ type: 'tick', at: T0 + 30_000 }), [], 'exactly 30 s of silence: not yet (3 beats missed means past 30 s)')
  const [off, ...more] = o.feed({ type: 'tick', at: T0 + 31_000 })
  t.same(more, [])
  t.match(off, { code: 'fleet.rig_offline', severity: 'critical', details: { node: 'b', seenAt: new Date(T0).toISOString(), reason: 'silent', silentS: 31 } })
  t.match(off!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID-shaped id')
  for (let s = 32; s < 100; s += 1) o.feed({ type: 'tick', at: T0 + s * 1000 })
  o.beat(T0 + 40_000)
  t.equal(o.alerts.length, 1, 'raised once per episode, not on every tick')
  t.equal(o.state().rigs['b']!.status, 'offline')
  const [on] = o.feed({ type: 'entry', entry: entry('b', T0 + 100_000), at: T0 + 100_000 })
  t.match(on, { code: 'fleet.rig_online', severity: 'info', details: { node: 'b' } })
  t.equal(o.state().rigs['b']!.status, 'online')
  o.feed({ type: 'entry', entry: entry('b', T0 + 110_000), at: T0 + 110_000 })
  t.equal(o.alerts.length, 2, 'one online, not one per heartbeat')
})

t.test('two observers of the same silence raise the same ids (one alert for the fleet)', async (t) => {
  const a = observer('a')
  const c = observer('c')
  a.beat(T0, 'b')
  // c hears b's last beat a little later, and ticks at other moments.
  c.beat(T0 + 300)
  c.feed({ type: 'entry', entry: entry('b', T0), at: T0 + 300 })
  a.beat(T0 + 25_000)
  c.beat(T0 + 25_000)
  a.feed({ type: 'tick', at: T0 + 30_500 })
  c.feed({ type: 'tick', at: T0 + 31_700 })
  t.equal(a.alerts.length, 1)
  t.equal(c.alerts.length, 1)
  t.equal(a.alerts[0]!.id, c.alerts[0]!.id, 'same offline id')
  a.feed({ type: 'entry', entry: entry('b', T0 + 60_000), at: T0 + 60_050 })
  c.feed({ type: 'entry', entry: entry('b', T0 + 60_000), at: T0 + 60_900 })
  t.equal(a.alerts[1]!.id, c.alerts[1]!.id, 'same online id')
  t.not(a.alerts[0]!.id, a.alerts[1]!.id)
})

t.test('the next episode of the same rig has a new id', async (t) => {
  const o = observer()
  o.beat(T0, 'b')
  o.beat(T0 + 25_000)
  o.feed({ type: 'tick', at: T0 + 31_000 })
  o.beat(T0 + 50_000, 'b')
  o.beat(T0 + 75_000)
  o.feed({ type: 'tick', at: T0 + 81_000 })
  const offs = o.alerts.filter((a) => a.code === 'fleet.rig_offline')
  t.equal(offs.length, 2)
  t.not(offs[0]!.id, offs[1]!.id)
})

t.test('a goodbye is offline at once, a warning with reason stopped; back → online', async (t) => {
  const o = observer()
  o.beat(T0, 'b')
  const [off] = o.feed({ type: 'entry', entry: entry('b', T0 + 5000, { goodbye: true }), at: T0 + 5000 })
  t.match(off, { code: 'fleet.rig_offline', severity: 'warning', details: { node: 'b', reason: 'stopped' } })
  o.beat(T0 + 20_000)
  t.same(o.feed({ type: 'tick', at: T0 + 60_000 }), [], 'no second (silent) alert for a rig that said goodbye')
  const [on] = o.feed({ type: 'entry', entry: entry('b', T0 + 70_000), at: T0 + 70_000 })
  t.match(on, { code: 'fleet.rig_online' })
})

t.test('an observer that does not hear its own heartbeats accuses no one', async (t) => {
  const o = observer()
  o.beat(T0, 'b')
  // a is cut off from the bucket: neither its own nor b's entries arrive.
  t.same(o.feed({ type: 'tick', at: T0 + 45_000 }), [], 'own entry 45 s old: deaf, no verdict')
  // Back: its own beat arrives first, b's just after. b's silence counts from now.
  o.beat(T0 + 50_000)
  t.same(o.feed({ type: 'tick', at: T0 + 50_100 }), [], 'not accused at the reconnect')
  o.feed({ type: 'entry', entry: entry('b', T0 + 50_000), at: T0 + 50_200 })
  t.equal(o.alerts.length, 0)
})

t.test('before its own first beat comes back, an observer decides nothing', async (t) => {
  const o = observer()
  o.feed({ type: 'entry', entry: entry('b', T0), at: T0 + 1000, initial: { writtenAt: T0 } })
  t.same(o.feed({ type: 'tick', at: T0 + 60_000 }), [])
})

t.test('entries found already there: silent or goodbye ones are offline without an alert; fresh ones are online', async (t) => {
  const o = observer()
  const now = T0 + 3_600_000
  o.feed({ type: 'entry', entry: entry('old', T0), at: now, initial: { writtenAt: T0 } })
  o.feed({ type: 'entry', entry: entry('bye', now - 1000, { goodbye: true }), at: now, initial: { writtenAt: now - 1000 } })
  o.feed({ type: 'entry', entry: entry('fresh', now - 4000), at: now, initial: { writtenAt: now - 4000 } })
  o.feed({ type: 'entry', entry: entry('a', T0), at: now, initial: { writtenAt: T0 } })
  t.same(o.alerts, [])
  t.equal(o.state().rigs['old']!.status, 'offline')
  t.equal(o.state().rigs['bye']!.status, 'offline')
  t.equal(o.state().rigs['fresh']!.status, 'online')
  t.notOk(o.state().rigs['a'], 'its own entry is not a rig it watches')
  o.beat(now + 1000)
  // The old rig comes back: it was offline, but this observer never told that episode; it tells the return.
  const [on] = o.feed({ type: 'entry', entry: entry('old', now + 2000), at: now + 2000 })
  t.match(on, { code: 'fleet.rig_online', details: { node: 'old' } })
})

t.test("a rig's silence is judged by its own heartbeat", async (t) => {
  const o = observer()
  o.beat(T0)
  o.feed({ type: 'entry', entry: entry('slow', T0, { heartbeatS: 60 }), at: T0 })
  for (let s = 10; s <= 170; s += 10) o.beat(T0 + s * 1000)
  t.same(o.feed({ type: 'tick', at: T0 + 170_000 }), [], '170 s is under 3 × 60 s')
  t.equal(o.feed({ type: 'tick', at: T0 + 181_000 }).length, 1)
})

t.test('a replayed entry (the watch restarted) changes nothing', async (t) => {
  const o = observer()
  o.beat(T0, 'b')
  o.beat(T0 + 25_000)
  o.feed({ type: 'tick', at: T0 + 31_000 })
  o.feed({ type: 'entry', entry: entry('b', T0), at: T0 + 32_000 })
  t.equal(o.state().rigs['b']!.status, 'offline')
  t.equal(o.alerts.length, 1)
})
