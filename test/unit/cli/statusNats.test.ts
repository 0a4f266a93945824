import t from 'tap'
import { formatNats, formatStatus, type StatusReply } from '../../../tools/cli/status.js'
import type { BusStats } from '../../../infra/nats/bus.js'

const quiet: BusStats = { attached: true, connected: true, server: '127.0.0.1:4222', published: 120, buffered: 0, unconfirmed: 0, resent: 0, unguarded: 0, dropped: 0, failed: 0 }
const outbox = { pending: 0, bytes: 0, dropped: 0, syncs: 3, compactions: 0, unreadable: 0, writeFailures: 0, sent: 40, resent: 0, confirmed: 40, duplicates: 0, failed: 0, inFlight: 0 }

t.test('the NATS line: where the link is, what waits (outbox apart), drops and refusals only when there were some', async (t) => {
  t.equal(formatNats(quiet), 'nats: connected to 127.0.0.1:4222  0 waiting')
  t.equal(formatNats({ ...quiet, outbox }), 'nats: connected to 127.0.0.1:4222  0 waiting (outbox 0, 0.0 KiB)')
  const after = { ...quiet, connected: false, server: undefined, buffered: 9, unconfirmed: 2, dropped: 14, failed: 1, outbox: { ...outbox, pending: 3, bytes: 2560 } }
  delete after.server
  t.equal(formatNats(after), 'nats: not connected  9 waiting (outbox 3, 2.5 KiB)  2 unconfirmed  14 dropped  1 refused')
})

t.test('vigil status prints the NATS line under the tree; a rig without the field prints none', async (t) => {
  const reply: StatusReply = { node: 'n1', state: 'running', uptimeS: 5, ports: { nats: 4222, web: null }, children: [] }
  t.equal(formatStatus(reply), 'n1  running  up 5s  (nats 4222)')
  t.equal(formatStatus({ ...reply, nats: { ...quiet, dropped: 2 } }), 'n1  running  up 5s  (nats 4222)\nnats: connected to 127.0.0.1:4222  0 waiting  2 dropped')
})
