/**
 * A three-server (or N) NATS cluster for tests, made the way an operator makes one:
 * `vigil nats-config --cluster N` writes the confs and one env file per identity, and
 * each server runs from its conf (its own JetStream store, routes on loopback).
 *
 *   const cluster = await startNatsCluster(t, { rigs: ['a', 'b'], operators: ['ops'] })
 *   const nc = await cluster.connectAs('ops')
 *   await cluster.kill(2)     // SIGKILL server 2 (a crash); its store stays
 *   await cluster.restart(2)  // the same conf, port and store
 *
 * Every server is torn down with the test (and dies with this process: pdeathsig).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { StorageType, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import { loadConfig } from '../../infra/config/load.js'
import { natsCredentialOptions } from '../../infra/nats/credentials.js'
import { isPortFree } from '../../infra/ports.js'
import { readEnvFile, runNatsConfig } from './securedNats.js'
import { freePort, startNatsServer, type TestNatsServer } from './natsServer.js'

export interface TestNatsCluster {
  /** Where `vigil nats-config` wrote (confs, env files, seeds, JetStream stores). */
  dir: string
  size: number
  /** Client URLs, server 1 first (what VIGIL_NATS_SERVERS holds in the env files). */
  urls: string[]
  /** The running process of server i (1-based), undefined while it is down. */
  server(i: number): TestNatsServer | undefined
  /** SIGKILL server i and wait for it to be gone; its JetStream store stays. */
  kill(i: number): Promise<void>
  /** SIGTERM server i (a graceful stop: leaderships are handed over). */
  stop(i: number): Promise<void>
  /** Start server i again from its conf, on its port and store. */
  restart(i: number): Promise<void>
  /** The env file of an identity, as `KEY=VALUE`. */
  env(name: string): Promise<Record<string, string>>
  /** A client logged in as `name` on every server of the cluster; closed with the test. */
  connectAs(name: string, opts?: { node?: string; servers?: string[] }): Promise<NatsConnection>
  /** Resolves once JetStream answers through `nc` (a meta leader is elected). */
  jetStreamReady(nc: NatsConnection, timeoutMs?: number): Promise<void>
  /** 1-based index of the server leading `stream`, from the stream's cluster info. */
  streamLeader(nc: NatsConnection, stream: string): Promise<number | undefined>
}

/** A run of `count` ports free now, `stride` apart from a random free base (route and client ports). */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort()
    if (base + count > 65535) continue
    let ok = true
    for (let k = 1; k < count && ok; k++) ok = await isPortFree(base + k)
    if (ok) return base
  }
  throw new Error(`no run of ${count} free ports found`)
}

/**
 * The meta leader answers account info before it has heard from every peer; a stream of
 * `replicas` made then fails with "no suitable peers for placement" (seen on a loaded CI
 * box). A throwaway memory stream of that many replicas, made and deleted, shows it can
 * place them. An identity that may not make streams skips the probe (true).
 */
async function placesReplicas(jsm: JetStreamManager, replicas: number): Promise<boolean> {
  const name = `READY_PROBE_${randomUUID().replaceAll('-', '')}`
  try {
    await jsm.streams.add({ name, subjects: [`ready.probe.${name}`], storage: StorageType.Memory, num_replicas: replicas })
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    if (/permissions violation/i.test(msg) || (err as { name?: string }).name === 'PermissionViolationError') return true
    if (/no suitable peers|insufficient resources/i.test(msg)) return false
    throw err
  }
  await jsm.streams.delete(name)
  return true
}

export async function startNatsCluster(t: Test, opts: { rigs: string[]; operators: string[]; size?: number }): Promise<TestNatsCluster> {
  const size = opts.size ?? 3
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cluster-'))
  const port = await freePortRun(size)
  let clusterPort = await freePortRun(size)
  while (clusterPort < port + size && clusterPort + size > port) clusterPort = await freePortRun(size)
  const out = join(dir, 'nats')
  const argv = [
    '--rigs', opts.rigs.join(','), '--operators', opts.operators.join(','), '--out', out,
    '--cluster', String(size), '--port', String(port), '--cluster-port', String(clusterPort),
    '--host', '127.0.0.1', '--advertise', '127.0.0.1',
  ]
  await runNatsConfig(argv)

  const servers: Array<TestNatsServer | undefined> = new Array(size + 1).fill(undefined)
  const confOf = (i: number) => join(out, `nats-server-${i}.conf`)
  const check = (i: number) => {
    if (!Number.isInteger(i) || i < 1 || i > size) throw new Error(`server index ${i}: 1..${size}`)
  }
  const start = async (i: number) => {
    check(i)
    if (servers[i]) throw new Error(`server ${i} is running`)
    // The conf holds the store dir and the routes: no -js/-sd from the helper.
    servers[i] = await startNatsServer({ port: port + i - 1, confFile: confOf(i), jetstream: false, readyTimeoutMs: 20_000 })
  }
  const connections: NatsConnection[] = []
  t.teardown(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => {})))
    await Promise.all(servers.map((s) => s?.stop()))
    await rm(dir, { recursive: true, force: true })
  })
  await Promise.all(Array.from({ length: size }, (_, k) => start(k + 1)))
  const urls = Array.from({ length: size }, (_, k) => `nats://127.0.0.1:${port + k}`)
  const env = (name: string) => readEnvFile(join(out, `${name}.env`))

  const cluster: TestNatsCluster = {
    dir: out,
    size,
    urls,
    server: (i) => servers[i],
    async kill(i) {
      check(i)
      await servers[i]?.kill()
      servers[i] = undefined
    },
    async stop(i) {
      check(i)
      await servers[i]?.stop()
      servers[i] = undefined
    },
    restart: start,
    env,
    async connectAs(name, o = {}) {
      const config = loadConfig({ env: await env(name), cwd: dir })
      const nc = await connect({
        servers: o.servers ?? config.nats.servers,
        ...natsCredentialOptions(config.nats, o.node ?? config.node),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      })
      connections.push(nc)
      return nc
    },
    async jetStreamReady(nc, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      let last: unknown
      while (Date.now() < deadline) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 })
          await jsm.getAccountInfo()
          if (await placesReplicas(jsm, size)) return
          last = new Error('no suitable peers for placement yet')
          await new Promise((r) => setTimeout(r, 250))
        } catch (err) {
          last = err
          await new Promise((r) => setTimeout(r, 250))
        }
      }
      throw new Error(`JetStream not ready within ${timeoutMs} ms: ${String(last)}`)
    },
    async streamLeader(nc, stream) {
      // Asked right after a server died, the client may still be reconnecting or the
      // meta leader still being elected (a timeout, no responders): asked again, 30 s in all.
      const deadline = Date.now() + 30_000
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 })
          const info = await jsm.streams.info(stream)
          const leader = info.cluster?.leader
          const m = leader ? /^vigil-(\d+)$/.exec(leader) : null
          return m ? Number(m[1]) : undefined
        } catch (err) {
          if (Date.now() > deadline) throw err
          await new Promise((r) => setTimeout(r, 250))
        }
      }
    },
  }
  return cluster
}
