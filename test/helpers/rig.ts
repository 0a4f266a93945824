import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { loadConfig } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'
import { createLogger, silentLogger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { decodeJson } from '../../infra/nats/codec.js'
import { startRig, type Rig, type RigOptions } from '../../actors/rig/index.js'
import { startNatsServer } from './natsServer.js'
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
  cmd<T = unknown>(actor: string, verb: string, args?: Record<string, unknown>, opts?: { idempotencyKey?: string; timeoutMs?: number }): Promise<RequestResult<T>>
  /** Waits until supervisor.status shows every child running (or `ids` running). */
  ready(ids?: string[], timeoutMs?: number): Promise<void>
  child(id: string): Promise<{ id: string; state: string; status: string; restarts: number; pids: number[] }>
}

/**
 * A whole rig in this process with its default children (media, camera, recorder, …)
 * on a real nats-server, a temp data dir and free ports; everything is stopped in
 * the test's teardown. `configure` edits the config before start (small camera,
 * short timings).
 */
export async function startTestRig(
  t: Test,
  opts: { node?: string; dataDir?: string; configure?: (c: Config) => void; children?: RigOptions['children']; logLevel?: 'silent' | 'info' | 'debug' } = {},
): Promise<TestRig> {
  const node = opts.node ?? 'testrig'
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  let dataDir = opts.dataDir
  if (!dataDir) {
    const made = await mkdtemp(join(tmpdir(), 'vigil-testrig-'))
    dataDir = made
    t.teardown(() => rm(made, { recursive: true, force: true }))
  }
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: nats.url, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: node, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  // Small and quick: tests share two cores.
  config.camera.width = 320
  config.camera.height = 240
  config.camera.fps = 15
  config.recorder.minFreeBytes = 64 * 1024 * 1024
  config.recorder.stopBelowBytes = 32 * 1024 * 1024
  config.supervisor.backoff = { ...config.supervisor.backoff, initialMs: 200, jitter: 0 }
  opts.configure?.(config)
  const processes = new ProcessOwner()
  const log = opts.logLevel && opts.logLevel !== 'silent' ? createLogger({ level: opts.logLevel, pretty: false }) : silentLogger()
  const rig = await startRig({ config, log, processes, ...(opts.children ? { children: opts.children } : {}) })
  const client = await connect({ servers: nats.url })
  t.teardown(async () => {
    await client.close().catch(() => {})
    rig.requestShutdown('test teardown')
    const timer = setTimeout(() => rig.requestShutdown('test teardown took too long'), 20000)
    await rig.exited
    clearTimeout(timer)
    processes.killAll()
  })
  const cmd: TestRig['cmd'] = (actor, verb, args = {}, o = {}) =>
    command(client, node, actor, verb, args, { timeoutMs: o.timeoutMs ?? 10000, ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}) })
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
    natsUrl: nats.url,
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
  }
}
