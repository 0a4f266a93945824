/**
 * A real nats-server for tests: free port, temp store dir, readiness from its own
 * ports file, and a stop that is safe to call twice (put it in t.teardown).
 *
 *   const nats = await startNatsServer()
 *   t.teardown(nats.stop)
 *   const nc = await connect({ servers: nats.url })
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../infra/ports.js'

export interface TestNatsServer {
  url: string
  port: number
  pid: number
  /** Temp dir holding the JetStream store and the ports file; removed by stop(). */
  dir: string
  /** Exits (resolved) when the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM, SIGKILL after 5 s, then remove the dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL (a crash), wait, remove the dir. Restart on the same port with `startNatsServer({ port })`. */
  kill(): Promise<void>
  stderr(): string
}

export interface StartNatsServerOptions {
  /** Reuse a port (restart scenarios); default: a free one. */
  port?: number
  jetstream?: boolean
  /** Default: the repo's nats.conf, so tests run with the rig's policy. */
  confFile?: string | null
  binary?: string
  readyTimeoutMs?: number
  /** The server's environment (default: this process's). */
  env?: NodeJS.ProcessEnv
}

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')

export function natsServerBinary(): string {
  return process.env['NATS_SERVER_BIN'] ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server')
}

// The tests import it from here with the server helpers.
export { freePort }

const SETPRIV = '/usr/bin/setpriv'

export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<TestNatsServer> {
  const port = opts.port ?? (await freePort())
  const dir = await mkdtemp(join(tmpdir(), 'vigil-nats-'))
  const args = ['-a', '127.0.0.1', '-p', String(port), '--ports_file_dir', dir]
  const conf = opts.confFile === undefined ? join(repoRoot, 'nats.conf') : opts.confFile
  if (conf) args.unshift('-c', conf)
  if (opts.jetstream !== false) args.push('-js', '-sd', join(dir, 'store'))
  const binary = opts.binary ?? natsServerBinary()
  // If the test process dies, the kernel takes the server with it: no stray servers.
  const [file, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args]
  const child: ChildProcess = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...(opts.env ? { env: opts.env } : {}) })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }))
    child.once('error', () => res({ code: null, signal: null }))
  })
  let alive = true
  void exited.then(() => {
    alive = false
  })
  const pid = child.pid ?? -1

  const kill = async () => {
    if (alive) child.kill('SIGKILL')
    await exited
    await rm(dir, { recursive: true, force: true })
  }
  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      if (alive) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      await rm(dir, { recursive: true, force: true })
    })())

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000)
  while (true) {
    if (!alive) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`nats-server exited before it was ready:\n${stderr.slice(-2000)}`)
    }
    const names = await readdir(dir).catch(() => [] as string[])
    const portsFile = names.find((n) => n.endsWith(`_${pid}.ports`))
    if (portsFile && (await readFile(join(dir, portsFile), 'utf8').catch(() => '')).includes(`:${port}`)) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`nats-server not ready within ${opts.readyTimeoutMs ?? 10_000} ms:\n${stderr.slice(-2000)}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return { url: `nats://127.0.0.1:${port}`, port, pid, dir, exited, stop, kill, stderr: () => stderr }
}
