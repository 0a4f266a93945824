/**
 * `vigil soak --nats-store`: the embedded nats-server's memory under the writes a rig makes,
 * run fast enough that its stores go through several blocks in minutes instead of days.
 *
 * Why it exists: in an hour of the soak the nats-server grows 14 → 37 MB while its live heap
 * stays near 2 MB at every forced GC. nats-server 2.9's file store keeps the block it writes
 * to (up to 8 MB) in memory, and for a stream that keeps one message per subject (the rig's
 * state, its vigil_rigs entry) every write also removes the previous one, which loads the
 * block. Its memory therefore follows the size of the blocks being written, a sawtooth whose
 * period at a rig's pace is hours (a block fills, the next one starts small): an hour of the
 * soak sees only the rising edge. This run writes the same messages at `rate`/s through
 * several blocks and reports the top of the sawtooth, which the soak then holds the
 * nats-server to, in place of a slope (tools/soak/trend.ts NATS_CEILING_MB).
 *
 * Each variant is its own server (the repo's nats.conf, JetStream, vigil's streams and the
 * vigil_rigs bucket), written to alone, one after the other.
 */
import { readFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { ensureStreams } from '../../infra/nats/streams.js'
import { openRigsBucket } from '../../infra/nats/rigsBucket.js'
import { silentLogger } from '../../infra/logger.js'
import { subjects } from '../../infra/subjects.js'
import { startNatsServer } from '../../test/helpers/natsServer.js'
import { CLK_TCK, ownDir, procTicks } from '../procs.js'

export interface NatsStoreOptions {
  seconds: number
  /** Write rounds per second; each round is a vigil_rigs put and a state publish, every 10th also an alert and an event. */
  rate: number
  variants: Array<{ label: string; env: Record<string, string> }>
  log: (line: string) => void
}

export interface NatsStoreVariant {
  label: string
  env: Record<string, string>
  rounds: number
  /** RSS (MB) every 2 s. */
  rssMb: number[]
  startRssMb: number
  maxRssMb: number
  /** Highest RSS in the first and in the second half: equal tops mean a sawtooth, not a climb. */
  maxFirstHalfMb: number
  maxSecondHalfMb: number
  endRssMb: number
  /** Largest live private memory (RssAnon) seen, MB. */
  maxAnonMb: number
  cpuS: number
  streams: Record<string, { messages: number; lastSeq: number; bytes: number }>
}

export interface NatsStoreResult {
  kind: 'nats-store'
  startedAt: string
  seconds: number
  rate: number
  env: { node: string; cpus: number; loadavg: number[] }
  variants: NatsStoreVariant[]
}

export const DEFAULT_NATS_STORE: Omit<NatsStoreOptions, 'log'> = {
  seconds: 240,
  rate: 100,
  variants: [
    { label: 'as vigil runs it', env: {} },
    { label: 'GOMEMLIMIT=16MiB', env: { GOMEMLIMIT: '16MiB' } },
  ],
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function anonMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

async function runVariant(o: NatsStoreOptions, v: NatsStoreOptions['variants'][number]): Promise<NatsStoreVariant> {
  const nats = await startNatsServer({ env: { ...process.env, ...v.env } })
  ownDir(nats.dir)
  const nc = await connect({ servers: nats.url, name: 'nats-store' })
  try {
    const made = await ensureStreams(nc, { log: silentLogger() })
    if (made.failed.length > 0) throw new Error(`streams not made: ${made.failed.map((f) => `${f.name}: ${f.reason}`).join('; ')}`)
    const kv = await openRigsBucket(nc, { create: true })
    const js = jetstream(nc)
    // Sizes as the rig writes them: a vigil_rigs summary ~1 KB, a state message ~250 B.
    const summary = JSON.stringify({ node: 'soak', heartbeatS: 10, seenAt: new Date().toISOString(), children: Array.from({ length: 10 }, (_, i) => ({ name: `child-${i}`, state: 'running', since: Date.now(), restarts: 0 })), pad: 'x'.repeat(300) })
    const state = (i: number) => JSON.stringify({ actor: `child-${i % 10}`, state: 'running', at: new Date().toISOString(), traceId: 'x'.repeat(16), context: { pid: 1234 + i } })
    const alert = (i: number) => JSON.stringify({ id: `a-${i}`, node: 'soak', source: 'audio', code: 'PROCESS_EXITED', message: 'the audio meter exited', severity: 'warning', at: new Date().toISOString() })
    const start = (await procTicks(nats.pid))!
    const rssMb: number[] = [start.rssKb / 1024]
    let maxAnonMb = await anonMb(nats.pid)
    let rounds = 0
    let failed = 0
    const t0 = Date.now()
    const end = t0 + o.seconds * 1000
    let nextSample = t0 + 2000
    while (Date.now() < end) {
      const due = t0 + (rounds * 1000) / o.rate
      if (due > Date.now()) await sleep(due - Date.now())
      const i = rounds++
      try {
        await kv.put('soak', summary)
        nc.publish(`${subjects.statesOf('soak').replace(/>$/, '')}child-${i % 10}`, state(i))
        if (i % 10 === 0) {
          await js.publish(subjects.alertsOf('soak').replace(/>$/, 'audio'), alert(i), { msgID: `a-${i}` })
          await js.publish(subjects.eventsOf('soak').replace(/>$/, 'recording'), alert(i), { msgID: `e-${i}` })
        }
      } catch {
        failed++
      }
      if (Date.now() >= nextSample) {
        nextSample += 2000
        const p = await procTicks(nats.pid)
        if (p) rssMb.push(p.rssKb / 1024)
        maxAnonMb = Math.max(maxAnonMb, await anonMb(nats.pid))
      }
      if (rounds % (o.rate * 30) === 0) o.log(`  ${v.label}: ${Math.round((Date.now() - t0) / 1000)} s, ${rounds} rounds, RSS ${rssMb[rssMb.length - 1]!.toFixed(1)} MB`)
    }
    if (failed > 0) throw new Error(`${failed} of ${rounds} write rounds failed`)
    const stop = (await procTicks(nats.pid))!
    const jsm = await jetstreamManager(nc)
    const streams: NatsStoreVariant['streams'] = {}
    for await (const si of jsm.streams.list()) streams[si.config.name] = { messages: si.state.messages, lastSeq: si.state.last_seq, bytes: si.state.bytes }
    const half = Math.floor(rssMb.length / 2)
    return {
      label: v.label,
      env: v.env,
      rounds,
      rssMb: rssMb.map((x) => Math.round(x * 10) / 10),
      startRssMb: rssMb[0]!,
      maxRssMb: Math.max(...rssMb),
      maxFirstHalfMb: Math.max(...rssMb.slice(0, half)),
      maxSecondHalfMb: Math.max(...rssMb.slice(half)),
      endRssMb: stop.rssKb / 1024,
      maxAnonMb,
      cpuS: (stop.ticks - start.ticks) / CLK_TCK,
      streams,
    }
  } finally {
    await nc.close().catch(() => {})
    await nats.stop()
  }
}

export async function runNatsStore(o: NatsStoreOptions): Promise<NatsStoreResult> {
  const startedAt = new Date().toISOString()
  const variants: NatsStoreVariant[] = []
  for (const v of o.variants) {
    o.log(`nats-store: ${v.label}: ${o.rate} write rounds/s for ${o.seconds} s`)
    const r = await runVariant(o, v)
    o.log(`nats-store: ${v.label}: RSS ${r.startRssMb.toFixed(1)} → max ${r.maxRssMb.toFixed(1)} MB (halves ${r.maxFirstHalfMb.toFixed(1)} / ${r.maxSecondHalfMb.toFixed(1)}), CPU ${r.cpuS.toFixed(1)} s`)
    variants.push(r)
  }
  return { kind: 'nats-store', startedAt, seconds: o.seconds, rate: o.rate, env: { node: process.version, cpus: cpus().length, loadavg: loadavg() }, variants }
}
