import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { loadConfig } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'
import { createLogger, silentLogger, type Logger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import type { Clock } from '../../infra/clock.js'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { decodeJson } from '../../infra/nats/codec.js'
import { startRig, type Rig, type RigOptions } from '../../actors/rig/index.js'
import { freePort, startNatsServer, type TestNatsServer } from './natsServer.js'
import { waitFor } from './wait.js'

export interface Seen {
  subject: string
  data: Record<string, unknown>
  traceId: string | undefined
}

/** Everything on a subject, kept so a test can wait for the message it expects. */
export function collect(nc: NatsConnection, subject: string): { seen: Seen[]; unsubscribe(): void } {
  const seen: Seen[] = []
  const sub = nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      const decoded = decodeJson(msg.data)
      if (decoded.ok) seen.push({ subject: msg.subject, data: decoded.value as Record<string, unknown>, traceId: msg.headers?.get('Vigil-Trace-Id') })
    },
  })
  return { seen, unsubscribe: () => sub.unsubscribe() }
}

export interface TestRig {
  rig: Rig
  client: NatsConnection
  node: string
  dataDir: string
  natsUrl: string
  /** A command on this rig; never throws (errors are replies). */
  cmd<T = unknown>(actor: string, verb: string, args?: Record<string, unknown>, opts?: { idempotencyKey?: string; timeoutMs?: number; deadline?: number }): Promise<RequestResult<T>>
  /** Waits until supervisor.status shows every child running (or `ids` running). */
  ready(ids?: string[], timeoutMs?: number): Promise<void>
  child(id: string): Promise<{ id: string; state: string; status: string; restarts: number; pids: number[] }>
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
}

export interface TestRigOptions {
  node?: string
  dataDir?: string
  configure?: (c: Config) => void
  children?: RigOptions['children']
  logLevel?: 'silent' | 'info' | 'debug'
  /** The rig's logger (a test reads what was logged); takes precedence over `logLevel`. */
  log?: Logger
  /** Injected into the rig (the fault suite moves the wall clock). */
  clock?: Clock
  /** Put a TCP relay the test controls between the rig and nats-server (see TestRig.closeGate). */
  gate?: boolean
  /**
   * The rig runs its own embedded nats-server (free NATS and MQTT ports) instead of the
   * test's: `nats()`, `killNats()` and `restartNats()` are not available then.
   */
  embedded?: boolean
}

/** A relay on a free port to 127.0.0.1:`port` that the test opens and closes. */
async function tcpGate(port: number): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
  const gatePort = await freePort()
  const sockets = new Set<Socket>()
  let server: Server | undefined
  return {
    port: gatePort,
    async open() {
      if (server) return
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
      server = srv
    },
    async close() {
      const srv = server
      server = undefined
      for (const s of sockets) s.destroy()
      sockets.clear()
      if (srv) await new Promise<void>((res) => srv.close(() => res()))
    },
  }
}

const notOurs = (): never => {
  throw new Error('the rig runs its own nats-server (embedded): the test does not hold it')
}

/**
 * A whole rig in this process with its default children (media, camera, recorder, …)
 * on a real nats-server (its own, on a free port the test may kill and restart), a
 * temp data dir and free ports; everything is stopped in the test's teardown.
 * `configure` edits the config before start (small camera, short timings).
 */
export async function startTestRig(t: Test, opts: TestRigOptions = {}): Promise<TestRig> {
  const node = opts.node ?? 'testrig'
  const port = await freePort()
  let nats: TestNatsServer | undefined = opts.embedded ? undefined : await startNatsServer({ port })
  t.teardown(() => nats?.stop())
  const gate = opts.gate && !opts.embedded ? await tcpGate(port) : null
  if (gate) {
    await gate.open()
    t.teardown(() => gate.close())
  }
  let dataDir = opts.dataDir
  if (!dataDir) {
    const made = await mkdtemp(join(tmpdir(), 'vigil-testrig-'))
    dataDir = made
    t.teardown(() => rm(made, { recursive: true, force: true }))
  }
  const rigNatsUrl = gate ? `nats://127.0.0.1:${gate.port}` : nats?.url
  const natsEnv: Record<string, string> = rigNatsUrl ? { VIGIL_NATS_SERVERS: rigNatsUrl } : { VIGIL_NATS_PORT: '0', VIGIL_MQTT_PORT: '0' }
  const config = loadConfig({
    env: { ...natsEnv, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: node, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  // Small and quick: tests share two cores.
  config.camera.width = 320
  config.camera.height = 240
  config.camera.fps = 15
  config.recorder.minFreeBytes = 64 * 1024 * 1024
  config.recorder.stopBelowBytes = 32 * 1024 * 1024
  config.supervisor.backoff = { ...config.supervisor.backoff, initialMs: 200, jitter: 0 }
  // The governor samples the whole machine: on a shared CI box the CPU is busy with other
  // jobs, and a CRITICAL level would degrade the rig under test for reasons not its own.
  // Tests of the governor set their own thresholds.
  config.governor.cpuPercent = { warn: 10000, degrade: 10001, critical: 10002 }
  config.governor.memoryPercent = { warn: 10000, degrade: 10001, critical: 10002 }
  // The warm start's buffer is one more ffmpeg per rig and puts pre-roll files in every
  // session: tests whose footage arithmetic predates it run without; the warm start's own
  // tests (test/integration/pipeline/warmStart.test.ts) and the bench run the default.
  config.recorder.warmStartS = 0
  // Likewise the media server's warm spare (one more node process per rig): the media fault
  // tests and test/integration/media/spare.test.ts run it.
  config.media.warmSpare = false
  opts.configure?.(config)
  const processes = new ProcessOwner()
  const log = opts.log ?? (opts.logLevel && opts.logLevel !== 'silent' ? createLogger({ level: opts.logLevel, pretty: false }) : silentLogger())
  const rig = await startRig({ config, log, processes, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.children ? { children: opts.children } : {}) })
  // Reconnects forever, quickly: fault tests restart the server under it.
  const natsUrl = nats?.url ?? `nats://127.0.0.1:${rig.ports.nats}`
  const client = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: true })
  t.teardown(async () => {
    await client.close().catch(() => {})
    rig.requestShutdown('test teardown')
    const timer = setTimeout(() => rig.requestShutdown('test teardown took too long'), 20000)
    await rig.exited
    clearTimeout(timer)
    processes.killAll()
  })
  const cmd: TestRig['cmd'] = (actor, verb, args = {}, o = {}) =>
    command(client, node, actor, verb, args, {
      timeoutMs: o.timeoutMs ?? 10000,
      ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
      ...(o.deadline === undefined ? {} : { deadline: o.deadline }),
    })
  type Child = { id: string; state: string; status: string; restarts: number; pids: number[] }
  const children = async () => {
    const r = await cmd<{ state: string; children: Child[] }>('supervisor', 'status')
    if (!r.ok) throw new Error(`supervisor.status: ${r.error.code} ${r.error.message}`)
    return r.result
  }
  return {
    rig,
    client,
    node,
    dataDir,
    natsUrl,
    cmd,
    ready: async (ids, timeoutMs = 60000) => {
      await waitFor(async () => {
        const s = await children().catch(() => null)
        if (!s || s.state !== 'running') return false
        return s.children.filter((c) => !ids || ids.includes(c.id)).every((c) => c.status === 'running')
      }, timeoutMs, `children running: ${ids?.join(', ') ?? 'all'}`, 200)
    },
    child: async (id) => {
      const c = (await children()).children.find((x) => x.id === id)
      if (!c) throw new Error(`no child ${id}`)
      return c
    },
    nats: () => nats ?? notOurs(),
    killNats: () => (nats ?? notOurs()).kill(),
    restartNats: async () => {
      await (nats ?? notOurs()).stop() // the killed one's temp dir
      nats = await startNatsServer({ port })
    },
    closeGate: async () => gate?.close(),
    openGate: async () => gate?.open(),
  }
}
