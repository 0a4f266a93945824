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

t.test('an alert with its own id (the fleet agrees on it) keeps it and is never folded', async (t) => {
  const log = new AlertLog({ node: 'a', now: () => 0 })
  const b = log.add({ id: 'id-b', source: 'fleet', severity: 'critical', code: 'fleet.rig_offline', message: 'rig b is silent', details: { node: 'b' } })
  const c = log.add({ id: 'id-c', source: 'fleet', severity: 'critical', code: 'fleet.rig_offline', message: 'rig c is silent', details: { node: 'c' } })
  t.equal(b.id, 'id-b')
  t.equal(c.id, 'id-c')
  t.equal(c.count, 1, 'two rigs offline are two alerts')
  const plain = log.add({ source: 'fleet', severity: 'critical', code: 'fleet.rig_offline', message: 'x' })
  t.not(plain.id, 'id-c', 'an alert without an id is not folded onto one with its own')
  t.equal(log.list().length, 3)
})
