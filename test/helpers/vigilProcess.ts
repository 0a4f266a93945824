import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Test } from 'tap'
import { freePort } from '../../infra/ports.js'
import { waitFor } from './wait.js'
import { command } from '../../infra/nats/client.js'
import { childEnv } from '../../infra/process.js'
import { isolatedVigilEnv } from '../../tools/vigilEnv.js'

/**
 * What a test's `vigil start` runs with unless the test says otherwise: a small camera (two
 * shared cores), and the governor's CPU and memory thresholds out of reach. The governor
 * samples the whole machine: on a busy CI box its CPU CRITICAL pauses audio and motion
 * (DESIGN.md §9.3), which a test of something else must not see. Tests of the governor set
 * their own.
 */
export const TEST_VIGIL_CONFIG = {
  camera: { width: 320, height: 240, fps: 15 },
  // As startTestRig: the warm start's buffer is tested on its own.
  recorder: { warmStartS: 0 },
  media: { warmSpare: false },
  governor: {
    cpuPercent: { warn: 10000, degrade: 10001, critical: 10002 },
    memoryPercent: { warn: 10000, degrade: 10001, critical: 10002 },
  },
}

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')
export const vigilBin = join(repoRoot, 'bin/vigil.js')

/** What a finished `vigil …` run printed and how it ended. */
export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/** The environment minus every VIGIL_* variable (and systemd's NOTIFY_SOCKET), so the machine's own settings never leak in. */
export function envWithoutVigil(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(childEnv(process.env))) if (!k.startsWith('VIGIL_')) env[k] = v
  return { ...env, ...extra }
}

/**
 * `node bin/vigil.js …` the way an operator runs it, to its end. The time limit only
 * catches a CLI that hangs (one that should refuse at once but starts the rig instead):
 * a run takes ~1.4 s on a quiet machine and ~4 s with both cores busy.
 */
export function runVigil(
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [vigilBin, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? envWithoutVigil(),
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin)
  })
}

export interface VigilProcess {
  child: ChildProcess
  node: string
  natsUrl: string
  dataDir: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** A client on the rig's embedded nats-server, connected once the server is up. */
  client: () => Promise<NatsConnection>
  /** Waits for supervisor.status to say `running`; returns that status. */
  running: (nc: NatsConnection) => Promise<SupervisorStatus>
  /** Waits for camera.status to say `streaming` (a recording started then has footage to take). */
  streaming: (nc: NatsConnection) => Promise<void>
}

export interface SupervisorStatus {
  state: string
  ports: Record<string, number | null>
  children: Array<{ id: string; state: string; status: string; restarts: number; pids: number[] }>
}

/**
 * Runs `vigil start` as a real child process with its embedded nats-server on a
 * free port and a temp data dir; the test's teardown kills it if it is still alive.
 */
export async function startVigil(t: Test, opts: { node: string; env?: Record<string, string>; args?: string[] }): Promise<VigilProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-start-'))
  // Without a config of the test's own, the one `vigil start` finds in its cwd: the default
  // camera (1280x720) costs most of a core to encode, and the suite runs two rigs at once.
  if (opts.env?.['VIGIL_CONFIG'] === undefined) {
    await writeFile(join(dataDir, 'vigil.config.json'), JSON.stringify(TEST_VIGIL_CONFIG))
  }
  const natsPort = await freePort()
  const child = spawn(process.execPath, [vigilBin, 'start', ...(opts.args ?? [])], {
    cwd: dataDir,
    env: isolatedVigilEnv({ node: opts.node, dataDir, natsPort }, { VIGIL_LOG_LEVEL: 'info', ...opts.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })))
  const clients: NatsConnection[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close().catch(() => {})
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    await rm(dataDir, { recursive: true, force: true })
  })
  const natsUrl = `nats://127.0.0.1:${natsPort}`
  return {
    child,
    node: opts.node,
    natsUrl,
    dataDir,
    output: () => out,
    exited,
    running: async (nc) => {
      let status: SupervisorStatus | undefined
      await waitFor(async () => {
        const r = await command<SupervisorStatus>(nc, opts.node, 'supervisor', 'status', {}, { timeoutMs: 2000 })
        status = r.ok ? r.result : undefined
        return status?.state === 'running'
      }, 60000, `supervisor of ${opts.node} running`, 200)
      return status!
    },
    streaming: (nc) =>
      waitFor(async () => {
        const c = await command<{ state: string }>(nc, opts.node, 'camera', 'status', {}, { timeoutMs: 2000 })
        return c.ok && c.result.state === 'streaming'
      }, 90_000, `camera of ${opts.node} streaming`, 200),
    client: async () => {
      let nc: NatsConnection | undefined
      await waitFor(async () => {
        nc = await connect({ servers: natsUrl, timeout: 1000, maxReconnectAttempts: 0 }).catch(() => undefined)
        return nc !== undefined
      }, 30000, `vigil's nats-server on ${natsUrl}\n${out}`, 200)
      clients.push(nc!)
      return nc!
    },
  }
}
