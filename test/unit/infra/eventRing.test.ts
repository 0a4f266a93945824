import t from 'tap'
import { EVENT_RING_CAPACITY, EventRing } from '../../../infra/eventRing.js'
import { createFeed, type FeedItem } from '../../../infra/feed.js'

const event = (kind: string, payload: Record<string, unknown>, at = '2026-01-01T00:00:00.000Z'): FeedItem => ({ type: 'event', kind, payload, at })

t.test('the ring keeps the last 200 events, newest first, each once', async (t) => {
  const feed = createFeed()
  const ring = new EventRing()
  const sub = ring.follow(feed)
  t.equal(ring.capacity, EVENT_RING_CAPACITY)
  t.equal(EVENT_RING_CAPACITY, 200)
  for (let i = 0; i < 250; i += 1) feed.next(event(i % 2 ? 'sound' : 'motion', { id: `e${i}`, at: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, n: i }))
  t.equal(ring.size, 200, 'bounded at 200')
  const all = ring.list()
  t.equal(all.length, 200)
  t.equal(all[0]!.id, 'e249', 'newest first')
  t.equal(all[199]!.id, 'e50', 'the oldest 50 are gone')
  t.same(ring.list(3).map((e) => e.id), ['e249', 'e248', 'e247'])
  t.equal(ring.list(0).length, 0)
  feed.next(event('sound', { id: 'e249', at: 'x' }))
  t.equal(ring.size, 200)
  t.equal(ring.list(1)[0]!.at, '2026-01-01T00:00:09.000Z', 'a resent id is not listed twice, nor replaced')
  ring.list(1)[0]!['n'] = 'changed'
  t.equal(ring.list(1)[0]!['n'], 249, 'callers get copies')
  sub.unsubscribe()
})

t.test('a snapshot joins its motion; segment closes, states, alerts and id-less events are not kept', async (t) => {
  const ring = new EventRing(10)
  ring.take(event('motion', { id: 'm1', score: 0.05, at: '2026-01-01T00:00:01.000Z' }))
  ring.take(event('motion', { id: 'm2', score: 0.07, at: '2026-01-01T00:00:12.000Z' }))
  ring.take(event('snapshot.saved', { id: 's1', file: 'snap-20260101T000001000Z-1.jpg', bytes: 9, at: '2026-01-01T00:00:01.000Z' }))
  ring.take(event('segment.closed', { id: 'c1', file: 'seg-00001.mp4' }))
  ring.take(event('sound', { db: -10 }))
  ring.take({ type: 'state', actor: 'camera', state: 'streaming', at: 'x', details: {} })
  ring.take(event('sound', { id: 'n1', db: -11.5, durationMs: 600 }, '2026-01-01T00:00:20.000Z'))
  const list = ring.list()
  t.same(list.map((e) => e.id), ['n1', 'm2', 'm1'])
  t.same(list[2]!['snapshot'], { file: 'snap-20260101T000001000Z-1.jpg', url: '/snapshots/snap-20260101T000001000Z-1.jpg' }, 'the thumbnail joins the motion it was taken for')
  t.equal(list[1]!['snapshot'], undefined, 'not another motion')
  t.equal(list[0]!.at, '2026-01-01T00:00:20.000Z', 'without its own `at`, the publish time')
  t.equal(list[0]!.kind, 'sound')
  t.throws(() => new EventRing(0), RangeError)
})
