import t from 'tap'
import { createAdjustableClock, type Clock } from '../../../infra/clock.js'
import { createSessionIds, formatIdTime, isSessionId, sessionIdTime } from '../../../actors/recorder/sessionId.js'

const fixed = (ms: number): Clock => ({ now: () => ms, monotonic: () => 0 })

t.test('format: UTC wall time then 6 base32 chars', async (t) => {
  const ids = createSessionIds({ now: () => Date.UTC(2024, 2, 9, 7, 5, 3, 999) })
  const id = ids.next()
  t.match(id, /^20240309T070503Z-[a-z2-7]{6}$/)
  t.ok(isSessionId(id))
  t.equal(formatIdTime(Date.UTC(2024, 11, 31, 23, 59, 59)), '20241231T235959Z')
  t.equal(sessionIdTime('20241231T235959Z-abcdef'), Date.UTC(2024, 11, 31, 23, 59, 59))
})

t.test('isSessionId rejects look-alikes', async (t) => {
  for (const bad of [
    'notes_2024',
    '20240309T070503Z',
    '20240309T070503Z-ABCDEF',
    '20240309T070503Z-abcde1',
    '20241399T070503Z-abcdef',
    '20240230T070503Z-abcdef',
    '20240309T250503Z-abcdef',
    '../20240309T070503Z-abcdef',
    '20240309T070503Z-abcdefg',
    42,
  ]) {
    t.notOk(isSessionId(bad), String(bad))
  }
  t.ok(isSessionId('20240229T235959Z-a2b3c7'), 'leap day')
})

t.test('unique and ordered when the wall clock jumps back', async (t) => {
  const clock = createAdjustableClock(fixed(Date.UTC(2024, 5, 1, 12, 0, 0)))
  const ids = createSessionIds({ now: () => clock.now() })
  const a = ids.next()
  clock.shiftWall(-3600_000) // NTP moves us back an hour
  const b = ids.next()
  t.ok(b > a, 'sorts after the last id')
  t.equal(sessionIdTime(b), sessionIdTime(a) + 1000, 'last + 1 s')
  const c = ids.next()
  t.ok(c > b)
  clock.shiftWall(7200_000) // and forward again: the real time wins
  const d = ids.next()
  t.equal(sessionIdTime(d), Date.UTC(2024, 5, 1, 13, 0, 0))
})

t.test('many ids in one second stay unique and increasing, even with unlucky randomness', async (t) => {
  let i = 0
  // Descending suffixes: every second id would sort below its predecessor.
  const random = (n: number) => new Uint8Array(n).fill(31 - (i++ % 32))
  const ids = createSessionIds({ now: () => Date.UTC(2024, 0, 1), random })
  const seen: string[] = []
  for (let k = 0; k < 200; k++) seen.push(ids.next())
  t.equal(new Set(seen).size, 200, 'unique')
  t.same([...seen].sort(), seen, 'increasing')
})

t.test('observe: ids made elsewhere (existing dirs) are never reissued or undercut', async (t) => {
  const ids = createSessionIds({ now: () => Date.UTC(2024, 0, 1) })
  ids.observe('20300101T000000Z-zzzzzz')
  ids.observe('not an id')
  const next = ids.next()
  t.ok(next > '20300101T000000Z-zzzzzz')
  t.equal(sessionIdTime(next), Date.UTC(2030, 0, 1, 0, 0, 1))
})
