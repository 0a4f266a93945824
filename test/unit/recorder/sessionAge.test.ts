import t from 'tap'
import { FUTURE_SLACK_MS, implausibleStarts, tooOld } from '../../../actors/recorder/sessionAge.js'

const DAY = 24 * 3600 * 1000
const NOW = Date.UTC(2026, 11, 2, 5, 0, 0)
const iso = (ms: number) => new Date(ms).toISOString()
const s = (id: string, startedAt: number) => ({ id, startedAt: iso(startedAt) })

t.test('plain history: sessions older than maxAgeDays, oldest first', async (t) => {
  const sessions = [s('20261001T000000Z-aaaaaa', NOW - 62 * DAY), s('20261020T000000Z-bbbbbb', NOW - 43 * DAY), s('20261125T000000Z-cccccc', NOW - 7 * DAY)]
  t.same([...implausibleStarts(sessions, NOW)], [])
  t.same(tooOld(sessions, 30, NOW), ['20261001T000000Z-aaaaaa', '20261020T000000Z-bbbbbb'])
  t.same(tooOld([...sessions].reverse(), 30, NOW), ['20261001T000000Z-aaaaaa', '20261020T000000Z-bbbbbb'], 'input order does not matter')
  t.same(tooOld(sessions, 0, NOW), [], '0 days: no age limit')
})

t.test('clock jumped back (RTC reset to 1970): the later sessions claim an earlier start and are never deleted by age', async (t) => {
  const good = s('20261101T000000Z-aaaaaa', NOW - 31 * DAY)
  // The id source kept ids sorting after the last one (sessionId.ts); startedAt is the wrong wall clock.
  const jumped1 = s('20261101T000001Z-bbbbbb', Date.UTC(1970, 0, 1, 0, 1))
  const jumped2 = s('20261101T000002Z-cccccc', Date.UTC(1970, 0, 1, 0, 5))
  const sessions = [good, jumped1, jumped2]
  t.same([...implausibleStarts(sessions, NOW)].sort(), [jumped1.id, jumped2.id])
  t.same(tooOld(sessions, 30, NOW), [good.id], 'only the plausible old one; the "56 years old" footage stays')
  // While the clock is still wrong (now = 1970): the real 2026 session looks future and is kept too.
  const wrongNow = Date.UTC(1970, 0, 1, 0, 10)
  t.ok(implausibleStarts(sessions, wrongNow).has(good.id), 'a start in the future is implausible')
  t.same(tooOld(sessions, 30, wrongNow), [], 'nothing deleted by age while the clock is wrong')
})

t.test('clock ran ahead then was corrected: the future session is kept, later ones age normally', async (t) => {
  const ahead = s('20271201T000000Z-aaaaaa', NOW + 365 * DAY)
  const after = s('20271201T000001Z-bbbbbb', NOW - 40 * DAY)
  const recent = s('20271201T000002Z-cccccc', NOW - 1 * DAY)
  const sessions = [ahead, after, recent]
  t.same([...implausibleStarts(sessions, NOW)], [ahead.id], 'a start a year ahead of now')
  t.same(tooOld(sessions, 30, NOW), [after.id], 'the one before it (by id) did not make the later ones implausible')
})

t.test('slack and garbage', async (t) => {
  const slightlyAhead = s('20261202T050000Z-aaaaaa', NOW + FUTURE_SLACK_MS - 1)
  t.same([...implausibleStarts([slightlyAhead], NOW)], [], 'a start within the slack (NTP slew) is trusted')
  const bad = { id: '20261001T000000Z-aaaaaa', startedAt: 'yesterday' }
  t.same(tooOld([bad], 30, NOW), [], 'an unparseable start is never deleted by age')
})
