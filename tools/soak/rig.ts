/**
 * The rig under soak: a real `vigil start` in its own process (so the soak's own clients
 * never count in its memory), its embedded nats-server on a free port, a temp data dir,
 * a web token. Reaped by pid if the soak dies.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { command, type RequestResult } from '../../infra/nats/client.js'
import { freePort } from '../../infra/ports.js'
import { disownPid, ownDir, ownPid } from '../procs.js'
import { isolatedVigilEnv } from '../vigilEnv.js'

const vigilBin = resolve(fileURLToPath(import.meta.url), '../../../bin/vigil.js')

export interface CameraSize {
  width: number
  height: number
  fps: number
}

export interface ChildView {
  id: string
  state: string
  status: string
  restarts: number
  pids: number[]
}

export interface SoakRig {
  pid: number
  node: string
  dataDir: string
  webUrl: string
  token: string
  nc: NatsConnection
  cmd<T = unknown>(actor: string, verb: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<RequestResult<T>>
  children(): Promise<ChildView[]>
  /** Its output so far (kept to the last 64 KB): shown when it dies. */
  output(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM, then wait for its exit (SIGKILL after `graceMs`); the data dir is removed. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`soak: ${what} not within ${timeoutMs / 1000} s`)
    await sleep(250)
  }
}

/**
 * Small log limits so rotation happens by itself during the soak too, not only on
 * `logs.rotate`; everything else is the default an operator gets.
 */
function soakConfig(cam: CameraSize): Record<string, unknown> {
  return {
    camera: { width: cam.width, height: cam.height, fps: cam.fps },
    logs: { vigilMaxBytes: 512 * 1024, commandsMaxBytes: 256 * 1024, frameDropsMaxBytes: 64 * 1024 },
  }
}

export async function startSoakRig(cam: CameraSize, node = 'soak'): Promise<SoakRig> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-soak-'))
  ownDir(dataDir)
  await writeFile(join(dataDir, 'vigil.config.json'), JSON.stringify(soakConfig(cam)))
  const natsPort = await freePort()
  const token = randomBytes(24).toString('hex')
  const child: ChildProcess = spawn(process.execPath, [vigilBin, 'start'], {
    cwd: dataDir,
    env: isolatedVigilEnv({ node, dataDir, natsPort }, { VIGIL_WEB_TOKEN: token }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  ownPid(child.pid)
  let out = ''
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-65536)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })))
  const dead = exited.then(({ code, signal }) => Promise.reject(new Error(`vigil start exited (${code ?? signal}) before it was ready:\n${out}`)))
  dead.catch(() => {})

  const natsUrl = `nats://127.0.0.1:${natsPort}`
  const nc = await Promise.race([until('the embedded nats-server', 60_000, () => connect({ servers: natsUrl, timeout: 1000, maxReconnectAttempts: -1, name: 'soak' })), dead])
  const cmd = <T>(actor: string, verb: string, args: Record<string, unknown> = {}, timeoutMs = 10_000) => command<T>(nc, node, actor, verb, args, { timeoutMs })
  const status = await Promise.race([
    until('every child running', 120_000, async () => {
      const r = await cmd<{ state: string; ports: Record<string, number | null>; children: ChildView[] }>('supervisor', 'status', {}, 3000)
      return r.ok && r.result.state === 'running' && r.result.children.every((c) => c.status === 'running') ? r.result : undefined
    }),
    dead,
  ])
  await Promise.race([
    until('the camera streaming', 90_000, async () => {
      const r = await cmd<{ state: string }>('camera', 'status', {}, 3000)
      return r.ok && r.result.state === 'streaming' ? true : undefined
    }),
    dead,
  ])
  const webPort = status.ports['web']
  if (!webPort) throw new Error('soak: the rig reports no web port')

  return {
    pid: child.pid!,
    node,
    dataDir,
    webUrl: `http://127.0.0.1:${webPort}`,
    token,
    nc,
    cmd,
    children: async () => {
      const r = await cmd<{ children: ChildView[] }>('supervisor', 'status', {}, 5000)
      return r.ok ? r.result.children : []
    },
    output: () => out,
    exited,
    stop: async (graceMs = 30_000) => {
      await nc.close().catch(() => {})
      let forced = false
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => {
          forced = true
          child.kill('SIGKILL')
        }, graceMs)
        await exited
        clearTimeout(timer)
      }
      disownPid(child.pid)
      await rm(dataDir, { recursive: true, force: true })
      return { ...(await exited), forced }
    },
  }
}
