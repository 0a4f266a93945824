import t from 'tap'
import { AlertLog } from '../../../infra/alerts.js'

t.test('folds the same code within the window, keeps the last 100, counts by severity', async (t) => {
  let now = 1_000_000
  const log = new AlertLog({ node: 'rig1', now: () => now })
  const first = log.add({ severity: 'warning', source: 'camera', code: 'camera.stalled', message: 'no frame for 2 s' })
  now += 59_000
  const folded = log.add({ severity: 'warning', source: 'camera', code: 'camera.stalled', message: 'no frame for 2 s' })
  t.equal(folded.id, first.id, 'same alert within 60 s')
  t.equal(folded.count, 2)
  now += 2_000
  const fresh = log.add({ severity: 'warning', source: 'camera', code: 'camera.stalled', message: 'no frame' })
  t.not(fresh.id, first.id, 'a new alert after the window')
  t.equal(log.list().length, 2)
  for (let i = 0; i < 150; i++) log.add({ severity: 'info', source: 's', code: `c${i}`, message: 'm' })
  t.equal(log.list().length, 100, 'bounded')
  t.equal(log.list()[0]!.code, 'c149', 'newest first')
  t.same(log.counts(), { info: 150, warning: 3, critical: 0 })
})
