/**
 * The rig's outbox past its bound while no NATS server answers (DESIGN.md §9.4): the oldest
 * alerts are dropped, and the rig says so with alerts of its own: `nats.outbox_full` once
 * when the drops begin, `nats.outbox_drained` with the count once the server is back and
 * has taken the backlog. Both are stored in VIGIL_ALERTS, so the operator learns afterwards.
 */
import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { freePort } from '../../../infra/ports.js'
import { startNatsServer } from '../../helpers/natsServer.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { waitFor } from '../../helpers/wait.js'

t.test('outbox full with no server: nats.outbox_full once, nats.outbox_drained with the count after the reconnect, both stored', async (t) => {
  const port = await freePort()
  const node = 'obxfull'
  const { rig, logLines } = await startEnvRig(t, { VIGIL_NODE: node, VIGIL_NATS_SERVERS: `nats://127.0.0.1:${port}` }, (c) => {
    c.nats.outbox.maxMessages = 4
  })
  t.notOk(rig.bus.stats().connected, 'no server on the port yet')
  for (let i = 0; i < 8; i++) rig.alert({ source: 'test', severity: 'warning', code: `test.lost_${i}`, message: `alert ${i} while no server answers` })
  const box = rig.bus.stats().outbox!
  t.equal(box.pending, 4, 'the outbox holds its bound')
  t.ok(box.dropped >= 4, `the oldest dropped (${box.dropped})`)
  const full = rig.alerts.list().filter((a) => a.code === 'nats.outbox_full')
  t.equal(full.length, 1, 'one nats.outbox_full in the alert log')
  t.equal(full[0]?.count, 1, 'raised once for the whole run of drops, not once per drop')
  t.match(full[0]?.details, { maxMessages: 4 }, 'it names the bound')
  t.equal(logLines.filter((l) => l.includes('outbox full') || l.includes('the outbox is full')).length, 1, 'logged once (by the alert), not again by the outbox')
  const droppedWhileDown = rig.bus.stats().outbox!.dropped

  const server = await startNatsServer({ port })
  t.teardown(() => server.stop())
  await waitFor(() => rig.alerts.list().some((a) => a.code === 'nats.outbox_drained'), 60_000, 'nats.outbox_drained raised once the server took the backlog', 100)
  const drained = rig.alerts.list().find((a) => a.code === 'nats.outbox_drained')!
  t.equal(drained.severity, 'info')
  t.equal(drained.details?.['dropped'], droppedWhileDown, `it counts the ${droppedWhileDown} dropped`)
  await waitFor(() => rig.bus.stats().outbox!.pending === 0, 30_000, 'the outbox empty', 100)

  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  // vigil.<node>.alert.<severity>.<source>: the last of each severity from the source `nats`.
  const stored = async (severity: string) => (await jsm.streams.getMessage('VIGIL_ALERTS', { last_by_subj: `vigil.${node}.alert.${severity}.nats` }).catch(() => null))?.json<{ code: string }>()
  t.equal((await stored('warning'))?.code, 'nats.outbox_full', 'nats.outbox_full stored in VIGIL_ALERTS: it outlived the drops it reports')
  t.equal((await stored('info'))?.code, 'nats.outbox_drained', 'nats.outbox_drained stored in VIGIL_ALERTS')
})
