/**
 * Fleet on a three-server cluster (DESIGN.md §9.4): alerts/s from a rig through its outbox
 * into VIGIL_ALERTS as R1 and as R3 (same cluster, same run), and the failover pause: how
 * long JetStream takes nothing from the rig after a SIGKILL of the stream's leader.
 *
 *   npx tsx tools/bench/fleet.ts [--alerts 5000] [--kills 5]   # prints JSON; also `npm run bench -- --only fleet`
 *
 * Three real nats-servers from `vigil nats-config --cluster 3` and one light rig (router,
 * bus, outbox; no camera) in this process, from its env file. An alert counts when
 * JetStream has acked it (the rig's outbox lets go of it then), so the figures include the
 * outbox's disk writes and the replication.
 */
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { jetstreamManager } from '@nats-io/jetstream'
import type { Test } from 'tap'
import { silentLogger } from '../../infra/logger.js'
import { ensureStreams, vigilStreams } from '../../infra/nats/streams.js'
import type { Rig } from '../../actors/rig/index.js'
import { startNatsCluster } from '../../test/helpers/natsCluster.js'
import { startEnvRig } from '../../test/helpers/securedNats.js'
import { waitFor } from './harness.js'
import { dist, type Dist } from './stats.js'

export interface FleetBenchResult {
  alerts: number
  /** Alerts raised back to back → all acked by JetStream, per second. */
  alertsPerS: { r1: number; r3: number }
  /** Per kill: the longest stretch with no JetStream ack to the rig around the leader's SIGKILL, ms. */
  failoverPauseMs: Dist & { samples: number[] }
  /** Alerts raised during the kills that JetStream did not store, or stored more than once. */
  lost: number
  duplicated: number
}

/** The test helpers want tap's teardown; here the bench owns it. */
function owner(): { t: Test; close(): Promise<void> } {
  const fns: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => void fns.push(fn) } as unknown as Test
  return {
    t,
    async close() {
      for (const fn of fns.reverse()) await Promise.resolve(fn()).catch(() => undefined)
    },
  }
}

/** 3,4,5,9 → "3-5, 9". */
const ranges = (xs: number[]) =>
  xs.reduce<Array<[number, number]>>((acc, x) => {
    const last = acc.at(-1)
    if (last && x === last[1] + 1) last[1] = x
    else acc.push([x, x])
    return acc
  }, []).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')

const raise = (rig: Rig, i: number, tag: string) => rig.alert({ source: 'bench', severity: 'info', code: `bench.${tag}_${i}`, message: 'bench alert' })

async function throughput(rig: Rig, n: number, tag: string): Promise<number> {
  const pending = () => rig.bus.stats().outbox!.pending
  await waitFor(() => pending() === 0, 60_000, 'outbox empty before a run')
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    raise(rig, i, tag)
    // Let acks in now and then, as a real burst spread over callbacks would.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r))
  }
  await waitFor(() => pending() === 0, 120_000, `${n} alerts acked`, 2)
  return Math.round(n / ((performance.now() - t0) / 1000))
}

export async function fleetBench(opts: { alerts: number; kills: number; log(line: string): void }): Promise<FleetBenchResult> {
  const own = owner()
  try {
    const cluster = await startNatsCluster(own.t, { rigs: ['benchfleet'], operators: ['ops'] })
    const ops = await cluster.connectAs('ops')
    await cluster.jetStreamReady(ops)
    const made = await ensureStreams(ops, { log: silentLogger() })
    if (made.failed.length > 0) throw new Error(`fleet init: ${made.failed.map((f) => `${f.name}: ${f.reason}`).join('; ')}`)
    const jsm = await jetstreamManager(ops)
    const { rig } = await startEnvRig(own.t, await cluster.env('benchfleet'))
    await waitFor(() => rig.bus.stats().connected, 30_000, 'rig connected')

    // R3 first (what fleet init made), then the same stream as R1.
    await throughput(rig, Math.min(500, opts.alerts), 'warm')
    const r3 = await throughput(rig, opts.alerts, 'r3')
    opts.log(`  fleet: ${opts.alerts} alerts through the outbox into VIGIL_ALERTS R3: ${r3}/s`)

    // Failover: a steady 100 alerts/s; the ack times are watched every 2 ms.
    const pauses: number[] = []
    const ackedBefore = rig.bus.stats().outbox!.confirmed
    const raised = new Set<string>()
    const indexOf = new Map<string, number>()
    let seq = 0
    const ticker = setInterval(() => {
      const id = raise(rig, seq, 'steady').id
      raised.add(id)
      indexOf.set(id, seq++)
    }, 10)
    try {
      for (let k = 0; k < opts.kills; k++) {
        await waitFor(async () => (await cluster.streamLeader(ops, 'VIGIL_ALERTS').catch(() => undefined)) !== undefined, 60_000, 'a leader', 100)
        const leader = (await cluster.streamLeader(ops, 'VIGIL_ALERTS'))!
        // Settle: the rig acked steadily for a second before the kill.
        await new Promise((r) => setTimeout(r, 1000))
        let last = rig.bus.stats().outbox!.confirmed
        let lastAt = performance.now()
        let longest = 0
        const watch = setInterval(() => {
          const now = performance.now()
          const c = rig.bus.stats().outbox!.confirmed
          if (c !== last) {
            longest = Math.max(longest, now - lastAt)
            last = c
            lastAt = now
          }
        }, 2)
        const killedAt = performance.now()
        await cluster.kill(leader)
        // Over once acks flow again for a second and what was raised before is all acked.
        const mark = seq
        await waitFor(() => performance.now() - lastAt < 50 && performance.now() - killedAt > 2000 && rig.bus.stats().outbox!.pending < 10 && seq > mark + 100, 60_000, 'acks flow again', 5)
        clearInterval(watch)
        pauses.push(Math.round(longest))
        const acked = rig.bus.stats().outbox!.confirmed - ackedBefore
        const held = (await jsm.streams.info('VIGIL_ALERTS')).state.messages
        opts.log(`  fleet: kill ${k + 1}/${opts.kills} of leader server ${leader}: no ack for ${Math.round(longest)} ms (acked ${acked}, stream holds ${held})`)
        await cluster.restart(leader)
        // The restarted server catches up before the next kill (else the next leader's loss may cost the quorum).
        await waitFor(async () => {
          const info = await jsm.streams.info('VIGIL_ALERTS').catch(() => undefined)
          return (info?.cluster?.replicas ?? []).filter((p) => p.current).length === 2
        }, 60_000, 'replicas current again', 200)
      }
    } finally {
      clearInterval(ticker)
    }
    await waitFor(() => rig.bus.stats().outbox!.pending === 0, 60_000, 'steady alerts all acked')
    // Every steady alert stored once: count them by subject-free direct gets of the stream.
    const { state } = await jsm.streams.info('VIGIL_ALERTS')
    const seen = new Map<string, number>()
    for (let s = state.first_seq; s <= state.last_seq && state.messages > 0; s++) {
      const m = await jsm.streams.getMessage('VIGIL_ALERTS', { seq: s })
      const a = m?.json<{ id: string; code: string }>()
      if (a?.code.startsWith('bench.steady_')) seen.set(a.id, (seen.get(a.id) ?? 0) + 1)
    }
    let lost = 0
    let duplicated = 0
    const lostAt: number[] = []
    for (const id of raised) {
      const n = seen.get(id) ?? 0
      if (n === 0) {
        lost++
        lostAt.push(indexOf.get(id)!)
      } else if (n > 1) duplicated++
    }
    if (lostAt.length > 0) opts.log(`  fleet: lost (raise order): ${ranges(lostAt.sort((a, b) => a - b))}`)
    const box = rig.bus.stats().outbox!
    opts.log(`  fleet: ${raised.size} steady alerts through ${opts.kills} kills; lost ${lost}, stored more than once ${duplicated} (outbox: sent ${box.sent}, resent ${box.resent}, acked ${box.confirmed}, as duplicates ${box.duplicates}, refused ${box.failed}, dropped ${box.dropped}; stream ${state.messages} messages, seq ${state.first_seq}..${state.last_seq})`)

    // R1 last: the stream made again as R1 (deleting and re-making a stream before the kills
    // cost 2.9.10 the first ~90 acked messages after a restarted server rejoined: its old group).
    const spec = vigilStreams.find((x) => x.name === 'VIGIL_ALERTS')!
    await jsm.streams.delete('VIGIL_ALERTS')
    await jsm.streams.add({ ...spec, num_replicas: 1 })
    await throughput(rig, Math.min(500, opts.alerts), 'warm1')
    const r1 = await throughput(rig, opts.alerts, 'r1')
    opts.log(`  fleet: ${opts.alerts} alerts through the outbox into VIGIL_ALERTS R1: ${r1}/s`)
    return { alerts: opts.alerts, alertsPerS: { r1, r3 }, failoverPauseMs: { ...dist(pauses), samples: pauses }, lost, duplicated }
  } finally {
    await own.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`)
    return i > 0 ? Number(process.argv[i + 1]) : def
  }
  const result = await fleetBench({ alerts: arg('alerts', 5000), kills: arg('kills', 5), log: (l) => process.stderr.write(`${l}\n`) })
  process.stdout.write(`${JSON.stringify({ cpus: cpus().length, ...result }, null, 2)}\n`)
}
