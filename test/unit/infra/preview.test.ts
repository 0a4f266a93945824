import t from 'tap'
import { PreviewState, type PreviewStatus } from '../../../infra/preview.js'

t.test('starts full; a change is told to every subscriber with the previous status', async (t) => {
  let now = Date.parse('2025-01-01T00:00:00Z')
  const p = new PreviewState({ now: () => now })
  t.equal(p.level(), 'full')
  t.match(p.status(), { level: 'full', since: '2025-01-01T00:00:00.000Z' })
  const seen: Array<[PreviewStatus, PreviewStatus]> = []
  const off = p.subscribe((s, prev) => seen.push([s, prev]))
  now += 5000
  p.set('low', 'resource level DEGRADE (cpu 75 %)')
  t.equal(p.level(), 'low')
  t.same(p.status(), { level: 'low', reason: 'resource level DEGRADE (cpu 75 %)', since: '2025-01-01T00:00:05.000Z' })
  t.equal(seen.length, 1)
  t.same(seen[0]![0], p.status())
  t.equal(seen[0]![1].level, 'full', 'the listener learns what it was')
  off()
  p.set('off', 'resource level CRITICAL (cpu 90 %)')
  t.equal(seen.length, 1, 'an unsubscribed listener hears nothing more')
})

t.test('the same level and reason again is no news; a new reason within a level keeps its since', async (t) => {
  let now = 1000
  const p = new PreviewState({ now: () => now })
  const seen: PreviewStatus[] = []
  p.subscribe((s) => seen.push(s))
  p.set('off', 'resource level CRITICAL (disk 0.50 GiB free)')
  const since = p.status().since
  now += 60000
  p.set('off', 'resource level CRITICAL (disk 0.50 GiB free)')
  t.equal(seen.length, 1, 'a restarted governor restating the level tells no one')
  p.set('off', 'resource level CRITICAL (cpu 95 %)')
  t.equal(seen.length, 2, 'a new reason is told')
  t.equal(p.status().since, since, 'still the same episode: since unchanged')
  p.set('full', 'resource level NORMAL')
  t.not(p.status().since, since, 'a new level starts a new since')
})

t.test('a throwing listener is reported and does not keep the level from the others', async (t) => {
  const errors: unknown[] = []
  const p = new PreviewState({ onListenerError: (err) => errors.push(err) })
  p.subscribe(() => {
    throw new Error('closing web server')
  })
  const levels: string[] = []
  p.subscribe((s) => levels.push(s.level))
  p.set('low', 'x')
  t.same(levels, ['low'])
  t.match(errors, [{ message: 'closing web server' }])
  t.equal(p.level(), 'low')
})

t.test('status() is a copy: a reader cannot change the level', async (t) => {
  const p = new PreviewState()
  const s = p.status()
  s.level = 'off'
  t.equal(p.level(), 'full')
})
