/**
 * Bench harness: a whole rig in this process (or in a child process, for CPU/RSS),
 * on a real nats-server, with the small synthetic camera. Mirrors
 * test/helpers/rig.ts without tap.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { loadConfig } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'
import { silentLogger } from '../../infra/logger.js'
import { ProcessOwner } from '../../infra/process.js'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { isAlive, waitFor as sharedWaitFor } from '../../test/helpers/wait.js'
import { startRig, type Rig } from '../../actors/rig/index.js'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

import { disownPid, ownDir, ownPid } from '../procs.js'

export { childPids, cmdline, CLK_TCK, descendants, disownPid, findChild, killAndWait, ownDir, ownPid, procTicks } from '../procs.js'

export interface CameraSize {
  width: number
  height: number
  fps: number
}

export interface BenchRig {
  rig: Rig
  client: NatsConnection
  node: string
  dataDir: string
  config: Config
  cmd<T = unknown>(actor: string, verb: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<RequestResult<T>>
  stop(): Promise<void>
}

export async function benchConfig(node: string, natsUrl: string, dataDir: string, cam: CameraSize, configure?: (c: Config) => void): Promise<Config> {
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: natsUrl, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: node, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  config.camera.width = cam.width
  config.camera.height = cam.height
  config.camera.fps = cam.fps
  config.recorder.minFreeBytes = 64 * 1024 * 1024
  config.recorder.stopBelowBytes = 32 * 1024 * 1024
  configure?.(config)
  return config
}

export async function startBenchRig(node: string, natsUrl: string, cam: CameraSize, configure?: (c: Config) => void): Promise<BenchRig> {
  const dataDir = await mkdtemp(join(tmpdir(), `vigil-bench-${node}-`))
  ownDir(dataDir)
  const config = await benchConfig(node, natsUrl, dataDir, cam, configure)
  const processes = new ProcessOwner()
  const rig = await startRig({ config, log: silentLogger(), processes })
  const client = await connect({ servers: natsUrl, name: `bench-${node}` })
  return {
    rig,
    client,
    node,
    dataDir,
    config,
    cmd: (actor, verb, args = {}, timeoutMs = 10000) => command(client, node, actor, verb, args, { timeoutMs }),
    stop: async () => {
      await client.close().catch(() => {})
      rig.requestShutdown('bench done')
      const timer = setTimeout(() => rig.requestShutdown('bench shutdown took too long'), 20000)
      await rig.exited
      clearTimeout(timer)
      processes.killAll()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** The tests' poll, every 20 ms by default here: bench timings are read off it. */
export const waitFor = (check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 20): Promise<void> =>
  sharedWaitFor(check, timeoutMs, what, everyMs)

export { isAlive }

export interface CamStatus {
  state: string
  pids: number[]
}

export async function camStatus(r: BenchRig): Promise<CamStatus | null> {
  const reply = await r.cmd<CamStatus>('camera', 'status', {}, 3000)
  return reply.ok ? reply.result : null
}

/** Waits until every child is running and the camera streams (with a pid other than `not`). */
export async function ready(r: BenchRig, not?: number, timeoutMs = 60000): Promise<CamStatus> {
  let last: CamStatus | null = null
  if (not === undefined) {
    await waitFor(async () => {
      const s = await r.cmd<{ state: string; children: Array<{ status: string }> }>('supervisor', 'status', {}, 3000)
      return s.ok && s.result.state === 'running' && s.result.children.every((c) => c.status === 'running')
    }, timeoutMs, 'every child running', 50)
  }
  await waitFor(async () => {
    last = await camStatus(r)
    return last?.state === 'streaming' && last.pids.length > 0 && last.pids[0] !== not
  }, timeoutMs, 'camera streaming', 20)
  return last!
}

// ---- a rig in its own process (for CPU and RSS) -------------------------------------------

const self = fileURLToPath(import.meta.url)

export interface RigProcess {
  pid: number
  node: string
  child: ChildProcess
  stop(): Promise<void>
}

/** Spawns `node --import tsx harness.ts --serve <node> <natsUrl> <w> <h> <fps>`; resolves once it prints ready. */
export async function spawnRigProcess(node: string, natsUrl: string, cam: CameraSize): Promise<RigProcess> {
  // The data dir is made (and removed) here, so a rig process killed outright leaves none behind.
  const dataDir = await mkdtemp(join(tmpdir(), `vigil-bench-${node}-`))
  ownDir(dataDir)
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--serve', node, natsUrl, String(cam.width), String(cam.height), String(cam.fps), dataDir], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  ownPid(child.pid)
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end()
      const t = setTimeout(() => child.kill('SIGKILL'), 25000)
      await exited
      clearTimeout(t)
    }
    disownPid(child.pid)
    await rm(dataDir, { recursive: true, force: true })
  }
  await new Promise<void>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString('utf8')
      if (buf.includes('"ready"')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`rig process ${node} exited with ${code}`)))
    setTimeout(() => reject(new Error(`rig process ${node}: not ready within 90 s`)), 90000).unref()
  }).catch(async (err: unknown) => {
    // Not ready: no orderly stop to ask for (its children die with it: pdeathsig).
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    disownPid(child.pid)
    await rm(dataDir, { recursive: true, force: true })
    throw err
  })
  return { pid: child.pid!, node, child, stop }
}

async function serve(argv: string[]): Promise<void> {
  const [node, natsUrl, w, h, fps, dir] = argv
  const dataDir = dir ?? (await mkdtemp(join(tmpdir(), `vigil-bench-${node}-`)))
  const config = await benchConfig(node!, natsUrl!, dataDir, { width: Number(w), height: Number(h), fps: Number(fps) })
  const processes = new ProcessOwner()
  const rig = await startRig({ config, log: silentLogger(), processes })
  const nc = await connect({ servers: natsUrl! })
  await waitFor(async () => {
    const r = await command<CamStatus>(nc, node!, 'camera', 'status', {}, { timeoutMs: 2000 })
    return r.ok && r.result.state === 'streaming'
  }, 60000, 'camera streaming', 100)
  await nc.close()
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    rig.requestShutdown('bench done')
    void rig.exited.then(async () => {
      processes.killAll()
      await rm(dataDir, { recursive: true, force: true })
      process.exit(0)
    })
  })
}

if (process.argv[2] === '--serve') void serve(process.argv.slice(3))
