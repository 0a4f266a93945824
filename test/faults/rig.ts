/**
 * The fault suite's rig: test/helpers/rig.ts's startTestRig plus what faults need
 * and that helper does not take — an injected clock, and a nats-server on a fixed
 * port that the test can kill and start again on the same port.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { loadConfig } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'
import { silentLogger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import type { Clock } from '../../infra/clock.js'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { startRig, type Rig, type RigOptions } from '../../actors/rig/index.js'
import { freePort, startNatsServer, type TestNatsServer } from '../helpers/natsServer.js'
import { waitFor } from '../helpers/wait.js'

const dbg = (m: string) => {
  if (process.env['FAULTS_DEBUG']) console.error(`# ${new Date().toISOString()} ${m}`)
}

export interface FaultRig {
  rig: Rig
  client: NatsConnection
  node: string
  dataDir: string
  natsUrl: string
  nats(): TestNatsServer
  /** SIGKILL the nats-server (the rig's only server). */
  killNats(): Promise<void>
  /** Start it again on the same port. */
  restartNats(): Promise<void>
  /**
   * With `gate`: the rig reaches nats-server through a TCP relay the test opens and
   * closes, so the test can let the rig reconnect only once its own subscribers are
   * in place (a deterministic order). Without `gate` these do nothing.
   */
  closeGate(): Promise<void>
  openGate(): Promise<void>
  cmd<T = unknown>(actor: string, verb: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }): Promise<RequestResult<T>>
  ready(ids?: string[], timeoutMs?: number): Promise<void>
}

export async function startFaultRig(
  t: Test,
  opts: { node?: string; clock?: Clock; gate?: boolean; configure?: (c: Config) => void; children?: RigOptions['children']; clientOpts?: Record<string, unknown> } = {},
): Promise<FaultRig> {
  const node = opts.node ?? 'faultrig'
  const port = await freePort()
  let nats = await startNatsServer({ port })
  t.teardown(async () => {
    dbg('teardown: nats stop')
    await nats.stop()
    dbg('teardown: nats stopped')
  })
  const gatePort = opts.gate ? await freePort() : 0
  const sockets = new Set<Socket>()
  let gate: Server | undefined
  const openGate = async () => {
    if (!opts.gate || gate) return
    const srv = createServer((inbound) => {
      const upstream = tcpConnect(port, '127.0.0.1')
      sockets.add(inbound).add(upstream)
      const end = () => {
        inbound.destroy()
        upstream.destroy()
        sockets.delete(inbound)
        sockets.delete(upstream)
      }
      inbound.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
      inbound.pipe(upstream).pipe(inbound)
    })
    await new Promise<void>((res, rej) => srv.once('error', rej).listen(gatePort, '127.0.0.1', () => res()))
    gate = srv
  }
  const closeGate = async () => {
    const srv = gate
    gate = undefined
    for (const s of sockets) s.destroy()
    sockets.clear()
    if (srv) await new Promise<void>((res) => srv.close(() => res()))
  }
  await openGate()
  t.teardown(closeGate)
  const rigNatsUrl = opts.gate ? `nats://127.0.0.1:${gatePort}` : nats.url
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-faults-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: rigNatsUrl, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: node, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  config.camera.width = 320
  config.camera.height = 240
  config.camera.fps = 15
  config.recorder.minFreeBytes = 64 * 1024 * 1024
  config.recorder.stopBelowBytes = 32 * 1024 * 1024
  config.supervisor.backoff = { ...config.supervisor.backoff, initialMs: 200, jitter: 0 }
  opts.configure?.(config)
  const processes = new ProcessOwner()
  const rig = await startRig({
    config,
    log: silentLogger(),
    processes,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.children ? { children: opts.children } : {}),
  })
  const client = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, ...(opts.clientOpts ?? {}) })
  t.teardown(async () => {
    dbg('teardown: closing client')
    await client.close().catch(() => {})
    dbg('teardown: rig shutdown')
    rig.requestShutdown('test teardown')
    const timer = setTimeout(() => rig.requestShutdown('test teardown took too long'), 20000)
    await rig.exited
    clearTimeout(timer)
    dbg('teardown: rig exited')
    processes.killAll()
  })
  const cmd: FaultRig['cmd'] = (actor, verb, args = {}, o = {}) => command(client, node, actor, verb, args, { timeoutMs: o.timeoutMs ?? 10000 })
  return {
    rig,
    client,
    node,
    dataDir,
    natsUrl: nats.url,
    nats: () => nats,
    killNats: () => nats.kill(),
    restartNats: async () => {
      nats = await startNatsServer({ port })
    },
    closeGate,
    openGate,
    cmd,
    ready: async (ids, timeoutMs = 60000) => {
      await waitFor(async () => {
        const r = await cmd<{ state: string; children: { id: string; status: string }[] }>('supervisor', 'status').catch(() => null)
        if (!r || !r.ok || r.result.state !== 'running') return false
        return r.result.children.filter((c) => !ids || ids.includes(c.id)).every((c) => c.status === 'running')
      }, timeoutMs, `children running: ${ids?.join(', ') ?? 'all'}`, 200)
    },
  }
}
