import t from 'tap'
import { absentRig, formatAbsent } from '../../../tools/cli/status.js'
import type { RigSummary } from '../../../infra/nats/rigsBucket.js'

const NOW = Date.parse('2026-12-02T11:00:00.000Z')
const summary = (over: Partial<RigSummary>): RigSummary => ({ node: 'c', state: 'running', uptimeS: 100, ports: {}, children: [], heartbeatS: 10, seenAt: '2026-12-02T10:58:00.000Z', ...over })

t.test('a remembered rig that did not answer: offline past 3 of its heartbeats, stopped after a goodbye, else not answering', async (t) => {
  const old = absentRig(summary({}), NOW)
  t.match(old, { node: 'c', state: 'offline', stopped: false, seenAt: '2026-12-02T10:58:00.000Z' })
  t.equal(formatAbsent(old, NOW), 'c  offline  last seen 2026-12-02T10:58:00.000Z (2m ago)  was running')
  const bye = absentRig(summary({ goodbye: true, seenAt: '2026-12-02T10:59:59.000Z', state: 'stopping' }), NOW)
  t.equal(formatAbsent(bye, NOW), 'c  offline (stopped)  last seen 2026-12-02T10:59:59.000Z (1s ago)  was stopping')
  const fresh = absentRig(summary({ seenAt: '2026-12-02T10:59:45.000Z' }), NOW)
  t.equal(fresh.state, 'not answering', '15 s: within 3 heartbeats, so not yet offline')
  t.equal(absentRig(summary({ seenAt: '2026-12-02T10:59:45.000Z', heartbeatS: 2 }), NOW).state, 'offline', 'judged by its own heartbeat')
  t.match(formatAbsent(absentRig(summary({ seenAt: '2026-12-01T08:00:00.000Z' }), NOW), NOW), /\(27h ago\)/)
})
