/**
 * A NATS bus secured the way an operator secures it: `vigil nats-config` writes the
 * server conf and one env file per identity; the server runs from that conf; rigs and
 * clients log in with nothing but their env file's values.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { pino } from 'pino'
import type { Test } from 'tap'
import { loadConfig } from '../../infra/config/load.js'
import type { Config } from '../../infra/config/schema.js'
import { natsCredentialOptions } from '../../infra/nats/credentials.js'
import { ProcessOwner } from '../../infra/process.js'
import { startRig, type Rig } from '../../actors/rig/index.js'
import { run as natsConfig } from '../../tools/cli/nats-config.js'
import { freePort, startNatsServer, type TestNatsServer } from './natsServer.js'

/** `KEY=VALUE` lines of an env file (comments and blanks skipped). */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line)
    if (m) env[m[1]!] = m[2]!
  }
  return env
}

/** A throwaway CA and a certificate for 127.0.0.1/localhost signed by it (openssl CLI). */
export async function makeTlsFiles(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const f = (name: string) => join(dir, name)
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ossl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=vigil test CA')
  ossl('req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1')
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext'))
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') }
}

/** `vigil nats-config ARGV` in this process; throws unless it exits 0. */
export async function runNatsConfig(argv: string[]): Promise<void> {
  const write = process.stdout.write
  // The command prints where it wrote; not this test's output.
  process.stdout.write = (() => true) as typeof process.stdout.write
  let code
  try {
    code = await natsConfig(argv)
  } finally {
    process.stdout.write = write
  }
  if (code !== 0) throw new Error(`vigil nats-config ${argv.join(' ')} exited ${code}`)
}

export interface SecuredBus {
  dir: string
  server: TestNatsServer
  /** The env file of an identity, as `KEY=VALUE`. */
  env(name: string): Promise<Record<string, string>>
  /** A client logged in as `name` (with its inbox prefix when it is a rig). */
  connectAs(name: string, node?: string): Promise<NatsConnection>
}

/** `vigil nats-config` into a temp dir, then a real nats-server from the conf it wrote. */
export async function startSecuredBus(t: Test, opts: { rigs: string[]; operators: string[]; tls?: boolean }): Promise<SecuredBus> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-secured-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const tls = opts.tls ? await makeTlsFiles(dir) : undefined
  const out = join(dir, 'nats')
  const argv = ['--rigs', opts.rigs.join(','), '--operators', opts.operators.join(','), '--out', out, '--port', String(port), '--host', '127.0.0.1', '--advertise', '127.0.0.1']
  if (tls) argv.push('--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-ca', tls.ca)
  await runNatsConfig(argv)
  // The conf holds the store dir: no -js/-sd from the helper (nats-server refuses a store_dir given twice).
  const server = await startNatsServer({ port, confFile: join(out, 'nats-server.conf'), jetstream: false })
  t.teardown(() => server.stop())
  const env = (name: string) => readEnvFile(join(out, `${name}.env`))
  return {
    dir: out,
    server,
    env,
    async connectAs(name, node) {
      const config = loadConfig({ env: await env(name), cwd: dir })
      const nc = await connect({ servers: config.nats.servers, ...natsCredentialOptions(config.nats, node ?? config.node) })
      t.teardown(() => nc.close().catch(() => {}))
      return nc
    },
  }
}

export interface EnvRig {
  rig: Rig
  /** The rig's log lines (JSON), to show what it said once. */
  logLines: string[]
}

/**
 * A rig in this process started from an env file's values (its identity, node and
 * servers) with no subsystem children: the router, bus and JetStream keeper are real.
 * `dataDir`: the caller's (kept; a second rig on it is the first one restarted); else a temp one.
 */
export async function startEnvRig(t: Test, env: Record<string, string>, configure?: (c: Config) => void, opts: { dataDir?: string } = {}): Promise<EnvRig> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'vigil-envrig-')))
  if (!opts.dataDir) t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({ env: { ...env, VIGIL_DATA_DIR: dataDir, VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' }, cwd: dataDir })
  configure?.(config)
  const logLines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) })
  const processes = new ProcessOwner()
  const rig = await startRig({ config, log, processes, children: () => [] })
  let exited = false
  void rig.exited.then(() => (exited = true))
  t.teardown(async () => {
    // Stopped by the test already (a restart): a second request would force it.
    if (exited) return processes.killAll()
    rig.requestShutdown('test teardown')
    const timer = setTimeout(() => rig.requestShutdown('test teardown took too long'), 20000)
    await rig.exited
    clearTimeout(timer)
    processes.killAll()
  })
  return { rig, logLines }
}
