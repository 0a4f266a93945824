import t from 'tap'
import { createFeed } from '../../../infra/feed.js'
import { silentLogger } from '../../../infra/logger.js'
import { startSystemdNotifier } from '../../../actors/systemd/index.js'
import type { NotifyMessage } from '../../../machines/systemdNotify.policy.js'
import { waitFor } from '../../helpers/wait.js'

t.test('no NOTIFY_SOCKET: no notifier', async (t) => {
  t.equal(startSystemdNotifier({ env: { WATCHDOG_USEC: '1000000' }, log: silentLogger() }), null)
})

t.test('pings from the start, READY when the followed tree runs, STOPPING, quiet after close', async (t) => {
  const sent: NotifyMessage[] = []
  const sender = { send: (m: NotifyMessage) => void sent.push(m), drain: async () => {} }
  const n = startSystemdNotifier({ env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '200000' }, pid: 1, log: silentLogger(), sender })!
  t.same(n.cadence, { pingEveryMs: 100, tickMs: 25, maxLagMs: 50 })
  await waitFor(() => sent.filter((m) => m.watchdog).length >= 3, 5000, 'three pings before the tree exists')
  let phase = 'starting'
  const children = [{ id: 'camera', status: 'starting' }]
  const feed = createFeed()
  n.follow({ feed, supervisor: { state: () => phase, children: () => children } })
  t.same(sent.at(-1), { status: 'starting: 0/1 children up' })
  phase = 'running'
  children[0]!.status = 'running'
  feed.next({ type: 'state', actor: 'supervisor', state: 'running', at: '', details: {} })
  t.same(sent.at(-1), { ready: true, status: 'running: 1/1 children up' })
  n.stopping('signal SIGTERM')
  t.same(sent.at(-1), { stopping: true, status: 'stopping: signal SIGTERM' })
  await n.close()
  const count = sent.length
  await new Promise((r) => setTimeout(r, 150))
  t.equal(sent.length, count, 'the timer is gone')
})
