import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { parseFlags } from './parseFlags.js'
import { nkeys } from '@nats-io/transport-node'
import { generateNatsConfig, natsConfigProblem, type Identity } from '../natsConfig/generate.js'

const help = `usage: vigil nats-config --rigs a,b --operators ops --out DIR [--cluster N]
                         [--host 0.0.0.0] [--port 4222] [--cluster-port 6222] [--advertise HOST]
                         [--tls-cert F --tls-key F --tls-ca F] [--force]

Writes a nats-server config where every rig and operator has its own nkey identity:
  DIR/nats-server.conf            (or DIR/nats-server-<i>.conf for --cluster N, routed on loopback)
  DIR/<name>.env, DIR/<name>.nk   one per rig and operator: VIGIL_NATS_* lines, and the seed
A rig may publish only vigil.<name>.> and replies, and subscribe only to its own commands,
its own inboxes and service discovery; an operator may do everything; anonymous clients are
refused. Start the server with nats-server -c DIR/nats-server.conf, then a rig with its env
file (e.g. set -a; . DIR/a.env; set +a; vigil start). Files are 0600, DIR 0700.
--advertise is the host the env files dial (default: this host's name); --tls-* makes the
servers TLS-only and puts the CA in the env files. An existing file is not overwritten
(new keys lock out the rigs that hold the old ones) unless --force.
`

const csv = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)

function port(name: string, raw: string): number {
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new Error(`--${name} takes a port (1-65535), got ${JSON.stringify(raw)}`)
  return n
}

function writePrivate(file: string, text: string, force: boolean): void {
  writeFileSync(file, text, { mode: 0o600, flag: force ? 'w' : 'wx' })
  // An existing file keeps its mode on overwrite.
  chmodSync(file, 0o600)
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    'nats-config',
    argv,
    {
      rigs: { type: 'string' },
      operators: { type: 'string' },
      out: { type: 'string' },
      cluster: { type: 'string', default: '1' },
      host: { type: 'string', default: '0.0.0.0' },
      port: { type: 'string', default: '4222' },
      'cluster-port': { type: 'string', default: '6222' },
      advertise: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    help, { usageOnError: true },
  )
  if ('exit' in parsed) return parsed.exit
  const { values } = parsed
  const usage = (msg: string) => {
    process.stderr.write(`vigil nats-config: ${msg}\n`)
    return 2
  }
  if (!values.out) return usage('--out DIR is required')
  const tlsGiven = [values['tls-cert'], values['tls-key'], values['tls-ca']].filter((v) => v !== undefined).length
  if (tlsGiven !== 0 && tlsGiven !== 3) return usage('--tls-cert, --tls-key and --tls-ca go together')
  let ports
  try {
    ports = { port: port('port', values.port!), clusterPort: port('cluster-port', values['cluster-port']!) }
  } catch (err) {
    return usage((err as Error).message)
  }
  const names = { rigs: csv(values.rigs), operators: csv(values.operators) }
  const cluster = Number(values.cluster)
  const placeholder = (name: string): Identity => ({ name, publicKey: '' })
  const problem = natsConfigProblem({ rigs: names.rigs.map(placeholder), operators: names.operators.map(placeholder), cluster })
  if (problem) return usage(problem)

  const outDir = resolve(values.out)
  const keys = new Map([...names.rigs, ...names.operators].map((n) => [n, nkeys.createUser()]))
  const identity = (name: string): Identity => ({ name, publicKey: keys.get(name)!.getPublicKey() })
  const abs = (p: string | undefined) => resolve(p!)
  const output = generateNatsConfig({
    rigs: names.rigs.map(identity),
    operators: names.operators.map(identity),
    outDir,
    cluster,
    host: values.host!,
    ...ports,
    advertise: values.advertise ?? hostname(),
    routePassword: randomBytes(24).toString('hex'),
    ...(tlsGiven === 3 ? { tls: { cert: abs(values['tls-cert']), key: abs(values['tls-key']), ca: abs(values['tls-ca']) } } : {}),
    made: new Date().toISOString(),
  })
  const files = [...output.servers.map((s) => s.file), ...output.envs.map((e) => e.file), ...Object.values(output.seedFiles)]
  const force = values.force === true
  const existing = files.filter((f) => existsSync(f))
  if (existing.length > 0 && !force) {
    process.stderr.write(`vigil nats-config: not overwriting ${existing.join(', ')} (rigs holding those keys would be locked out); --force to replace\n`)
    return 1
  }
  mkdirSync(outDir, { recursive: true, mode: 0o700 })
  chmodSync(outDir, 0o700)
  for (const [name, seedFile] of Object.entries(output.seedFiles)) {
    writePrivate(seedFile, `${new TextDecoder().decode(keys.get(name)!.getSeed())}\n`, force)
  }
  for (const f of [...output.servers, ...output.envs]) writePrivate(f.file, f.text, force)
  process.stdout.write(
    [
      ...output.servers.map((s) => `server   ${s.file}`),
      ...output.envs.map((e) => `${e.role.padEnd(8)} ${e.file}`),
      '',
      `start:   ${output.servers.map((s) => `nats-server -c ${s.file}`).join(' & ')}`,
      `a rig:   set -a; . ${output.envs[0]!.file}; set +a; vigil start`,
      '',
    ].join('\n'),
  )
  return 0
}
