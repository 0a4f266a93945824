/**
 * DESIGN.md §9.4 on three real nats-servers from `vigil nats-config --cluster 3`, with
 * light rigs from their env files: alerts go through the rig's on-disk outbox and are
 * stored once each in the R3 VIGIL_ALERTS stream, through a leader's SIGKILL, and through
 * an outage of the whole cluster with a rig restart in the middle of it.
 */
import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { silentLogger } from '../../../infra/logger.js'
import { ensureStreams } from '../../../infra/nats/streams.js'
import type { Rig } from '../../../actors/rig/index.js'
import { startNatsCluster, type TestNatsCluster } from '../../helpers/natsCluster.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { waitFor } from '../../helpers/wait.js'

interface StoredAlert {
  id: string
  code: string
  count: number
}

/**
 * Every alert of `node` in VIGIL_ALERTS, read back message by message from the stream's
 * leader (a direct get: no consumer to place, which a cluster with a dead peer may refuse).
 */
async function storedAlerts(nc: NatsConnection, node: string): Promise<StoredAlert[]> {
  const jsm = await jetstreamManager(nc)
  const { state } = (await jsm.streams.info('VIGIL_ALERTS'))
  const out: StoredAlert[] = []
  const prefix = `vigil.${node}.alert.`
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage('VIGIL_ALERTS', { seq })
    if (m?.subject.startsWith(prefix)) out.push(m.json<StoredAlert>())
  }
  return out
}

/** `vigil fleet init` (an operator makes the streams), then checks they are R3. */
async function fleetInit(t: Test, cluster: TestNatsCluster): Promise<NatsConnection> {
  const ops = await cluster.connectAs('ops')
  await cluster.jetStreamReady(ops)
  const r = await ensureStreams(ops, { log: silentLogger() })
  t.same(r.failed, [], 'fleet init made every stream')
  const jsm = await jetstreamManager(ops)
  for (const name of ['VIGIL_ALERTS', 'VIGIL_EVENTS', 'VIGIL_STATE']) t.equal((await jsm.streams.info(name)).config.num_replicas, 3, `${name} is R3 on the cluster`)
  return ops
}


const raise = (rig: Rig, code: string, i: number) =>
  rig.alert({ source: 'test', severity: 'warning', code, message: `test alert ${i}`, details: { i } })

t.test('SIGKILL of the VIGIL_ALERTS leader while a rig raises 1000 alerts: all 1000 stored, once each', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['r1'], operators: ['ops'] })
  const ops = await fleetInit(t, cluster)
  const { rig } = await startEnvRig(t, await cluster.env('r1'))
  await waitFor(() => rig.bus.stats().connected, 30_000, 'the rig connected')
  const leader = await cluster.streamLeader(ops, 'VIGIL_ALERTS')
  t.ok(leader, `VIGIL_ALERTS is led by server ${leader}`)

  const N = 1000
  const ids = new Set<string>()
  let killed: Promise<void> | undefined
  for (let i = 0; i < N; i++) {
    ids.add(raise(rig, `test.burst_${i}`, i).id)
    // A fifth in: kill the leader with acks in flight and most of the burst to come.
    if (i === N / 5) killed = cluster.kill(leader!)
    if (i % 50 === 49) await new Promise((r) => setImmediate(r))
  }
  await killed
  t.equal(ids.size, N, 'the rig raised 1000 distinct alerts')
  await waitFor(() => rig.bus.stats().outbox!.pending === 0, 60_000, 'the outbox empty: every alert acked by JetStream', 100)
  const box = rig.bus.stats().outbox!
  t.comment(`outbox: sent ${box.sent}, resent ${box.resent}, acked ${box.confirmed} (${box.duplicates} as duplicates), syncs ${box.syncs}`)
  t.equal(box.failed, 0, 'none refused')
  t.equal(box.dropped, 0, 'none dropped')
  t.ok(box.syncs < N / 10, `batched writes: ${box.syncs} syncs for ${N} alerts and their acks`)
  // The operator's client may have been on the killed server: JetStream answers it again first.
  await cluster.jetStreamReady(ops)
  const newLeader = await cluster.streamLeader(ops, 'VIGIL_ALERTS')
  t.not(newLeader, leader, `a new leader (server ${newLeader})`)

  const stored = (await storedAlerts(ops, 'r1')).filter((a) => a.code.startsWith('test.burst_'))
  t.equal(stored.length, N, `${stored.length} stored in all`)
  t.equal(new Set(stored.map((a) => a.id)).size, N, 'distinct ids: each stored once')
  t.ok(stored.every((a) => ids.has(a.id)), 'all of them the alerts raised')

  // Events take the same way, into VIGIL_EVENTS (R3), by their id.
  rig.bus.publishEvent('motion', { id: 'ev-after-kill', score: 1 })
  await waitFor(() => rig.bus.stats().outbox!.pending === 0, 30_000, 'the event acked', 100)
  const jsm = await jetstreamManager(ops)
  const ev = await jsm.streams.getMessage('VIGIL_EVENTS', { last_by_subj: 'vigil.r1.event.motion' })
  t.equal(ev?.json<{ id: string }>().id, 'ev-after-kill', 'the event is in VIGIL_EVENTS')
  t.equal(ev?.header?.get('Nats-Msg-Id'), 'ev-after-kill', 'stored under its id')
})

// The issue: a rig with no server for 60 s and a restart in between. The outbox is on disk
// and has no clock of its own, but the clients' reconnect loops do (they must still be
// trying after a minute), so the outage lasts the full 60 s; it spans the rig's restart
// (the second rig reads what the first one left) and ends within JetStream's duplicate
// window. (This file runs beside pass 1 of npm test, where waiting costs no CI time.)
const OUTAGE_MS = 60_000
t.test('no server at all and a rig restart in between: alerts raised meanwhile arrive afterwards, once each', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['r2'], operators: ['ops'] })
  const ops = await fleetInit(t, cluster)
  await ops.close()
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-outbox-rig-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = await cluster.env('r2')

  const first = await startEnvRig(t, env, undefined, { dataDir })
  await waitFor(() => first.rig.bus.stats().connected, 30_000, 'the rig connected')
  const before = raise(first.rig, 'test.before', 0)
  await waitFor(() => first.rig.bus.stats().outbox!.pending === 0, 30_000, 'an alert stored before the outage')

  for (let i = 1; i <= cluster.size; i++) await cluster.stop(i)
  const downSince = Date.now()
  await waitFor(() => !first.rig.bus.stats().connected, 30_000, 'the rig sees no server')
  const raised = new Set<string>()
  for (let i = 0; i < 20; i++) raised.add(raise(first.rig, `test.down_${i}`, i).id)
  t.equal(first.rig.bus.stats().outbox!.pending, 20, 'twenty alerts wait in the outbox')
  first.rig.requestShutdown('test: restart with no server')
  await first.rig.exited

  const second = await startEnvRig(t, env, undefined, { dataDir })
  t.equal(second.rig.bus.stats().outbox!.pending, 20, 'the restarted rig found them on disk')
  for (let i = 20; i < 25; i++) raised.add(raise(second.rig, `test.down_${i}`, i).id)
  t.equal(second.rig.bus.stats().outbox!.pending, 25, 'and keeps its own with them')

  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downSince))))
  t.comment(`no server for ${((Date.now() - downSince) / 1000).toFixed(1)} s, a rig restart in between`)
  for (let i = 1; i <= cluster.size; i++) await cluster.restart(i)
  await waitFor(() => second.rig.bus.stats().outbox!.pending === 0, 120_000, 'the outbox empty once the cluster is back', 200)
  const watcher = await cluster.connectAs('ops')
  await cluster.jetStreamReady(watcher)
  const stored = await storedAlerts(watcher, 'r2')
  const down = stored.filter((a) => a.code.startsWith('test.down_'))
  t.equal(down.length, 25, 'all 25 raised during the outage stored')
  t.same(new Set(down.map((a) => a.id)), raised, 'each of them, once')
  t.equal(stored.filter((a) => a.id === before.id).length, 1, 'the one from before the outage still once')
})
