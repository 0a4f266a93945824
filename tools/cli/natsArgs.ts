import { parseArgs, type ParseArgsConfig } from 'node:util'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { Svcm } from '@nats-io/services'
import { SERVICE_NAME } from '../../infra/subjects.js'
import { command as commandRequest } from '../../infra/nats/client.js'
import { natsCredentialOptions, type NatsCredentialOptions } from '../../infra/nats/credentials.js'
import { redactCredentials } from '../../infra/redaction.js'
import { loadConfigFromArgs } from './configArgs.js'

/** Flags shared by the client subcommands (cmd, alerts, status, inspect). */
export const clientOptions = {
  config: { type: 'string', short: 'c' },
  node: { type: 'string' },
  server: { type: 'string', short: 's', multiple: true },
  // The same identity as the env (VIGIL_NATS_*); a password or token only from the env:
  // argv is visible to every local user in ps.
  user: { type: 'string' },
  nkey: { type: 'string' },
  creds: { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

export interface ClientTarget {
  servers: string[]
  node: string
  /** Whether --node was given (otherwise the config's node is a default, not a choice). */
  nodeGiven: boolean
  timeoutMs: number
  /** Login, TLS and inbox prefix, from nats.auth / nats.tls (flags over env over file). */
  credentials: NatsCredentialOptions
}

export interface ClientFlags {
  server?: string[] | undefined
  user?: string | undefined
  nkey?: string | undefined
  creds?: string | undefined
  ca?: string | undefined
}

/**
 * The env the config is loaded with: a credential flag stands for its variable and
 * replaces the env's other credentials (one login per run), so `--nkey` beats a
 * VIGIL_NATS_TOKEN left in the shell. `--user` keeps VIGIL_NATS_PASSWORD: its pair.
 */
export function envWithClientFlags(env: NodeJS.ProcessEnv, flags: ClientFlags): NodeJS.ProcessEnv {
  const out = { ...env }
  const login = flags.user !== undefined || flags.nkey !== undefined || flags.creds !== undefined
  if (login) {
    for (const name of ['VIGIL_NATS_USER', 'VIGIL_NATS_TOKEN', 'VIGIL_NATS_NKEY', 'VIGIL_NATS_CREDS']) delete out[name]
    if (flags.user === undefined) delete out['VIGIL_NATS_PASSWORD']
  }
  if (flags.user !== undefined) out['VIGIL_NATS_USER'] = flags.user
  if (flags.nkey !== undefined) out['VIGIL_NATS_NKEY'] = flags.nkey
  if (flags.creds !== undefined) out['VIGIL_NATS_CREDS'] = flags.creds
  if (flags.ca !== undefined) out['VIGIL_NATS_CA'] = flags.ca
  // The servers too: the config's rules (TLS and creds files are for nats.servers) see what is dialled.
  if (flags.server !== undefined && flags.server.length > 0) out['VIGIL_NATS_SERVERS'] = flags.server.join(',')
  return out
}

/**
 * Where to talk to: --server, else the config's nats.servers, else the embedded
 * server of the local rig (its configured port). Exit 2 on a bad config.
 */
export function clientTarget(values: { config?: string; node?: string; timeout?: string } & ClientFlags): ClientTarget | { exitCode: number } {
  const loaded = loadConfigFromArgs({ config: values.config, node: values.node }, { env: envWithClientFlags(process.env, values) })
  if ('exitCode' in loaded) return loaded
  const { config } = loaded
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout)
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    process.stderr.write(`vigil: --timeout takes milliseconds (got ${JSON.stringify(values.timeout)})\n`)
    return { exitCode: 2 }
  }
  const servers = config.nats.servers.length > 0 ? config.nats.servers : [`nats://127.0.0.1:${config.nats.port || 4222}`]
  return { servers, node: config.node, nodeGiven: values.node !== undefined, timeoutMs, credentials: natsCredentialOptions(config.nats, config.node) }
}

/** One connect attempt, bounded: a CLI should say "cannot reach" rather than hang. */
export async function connectClient(target: ClientTarget): Promise<NatsConnection | null> {
  try {
    return await connect({ ...target.credentials, servers: target.servers, name: 'vigil-cli', timeout: Math.min(target.timeoutMs, 5000), maxReconnectAttempts: 0 })
  } catch (err) {
    const where = redactCredentials(target.servers.join(','))
    if ((err as Error).name === 'AuthorizationError') {
      process.stderr.write(`vigil: NATS at ${where} refused the login: give an identity (VIGIL_NATS_NKEY, VIGIL_NATS_USER + VIGIL_NATS_PASSWORD, VIGIL_NATS_TOKEN, VIGIL_NATS_CREDS, or --nkey/--user/--creds)\n`)
      return null
    }
    process.stderr.write(`vigil: cannot reach NATS at ${where}: ${redactCredentials((err as Error).message)}\n`)
    return null
  }
}

/** Every vigil rig that answers $SRV.PING on this cluster, by node name. */
export async function discoverNodes(nc: NatsConnection, timeoutMs: number): Promise<string[]> {
  // @nats-io/services pins its own nats-core build; the connection is the same at runtime.
  // 'stall': stop collecting once no rig has answered for 300 ms, bounded by maxWait.
  const client = new Svcm(nc as never).client({ strategy: 'stall', stall: 300, maxWait: Math.min(timeoutMs, 2000) })
  const nodes = new Set<string>()
  for await (const identity of await client.ping(SERVICE_NAME)) {
    const node = identity.metadata?.node
    if (typeof node === 'string') nodes.add(node)
  }
  return [...nodes].sort()
}

/**
 * Asks `actor.verb` of --node N, or of every rig that answers $SRV.PING; calls `onReply`
 * for each ok reply, prints each error. Exit code: 0 when every node answered ok.
 */
export async function askEachNode<T>(
  nc: NatsConnection,
  target: ClientTarget,
  command: string,
  actor: string,
  verb: string,
  onReply: (node: string, result: T) => void,
  /** `quietWhenNone`: the caller says itself that no rig answered (status lists remembered rigs). */
  opts: { quietWhenNone?: boolean } = {},
): Promise<number> {
  const nodes = target.nodeGiven ? [target.node] : await discoverNodes(nc, target.timeoutMs)
  if (nodes.length === 0) {
    if (!opts.quietWhenNone) process.stderr.write(`vigil ${command}: no rig answered on this NATS server\n`)
    return 1
  }
  let failed = false
  for (const node of nodes) {
    const reply = await commandRequest<T>(nc, node, actor, verb, {}, { timeoutMs: target.timeoutMs })
    if (reply.ok) onReply(node, reply.result)
    else {
      failed = true
      process.stderr.write(`${node}: ${reply.error.code}: ${reply.error.message}\n`)
    }
  }
  return failed ? 1 : 0
}

type ClientValues = { [K in keyof typeof clientOptions]?: (typeof clientOptions)[K] extends { multiple: true } ? string[] : (typeof clientOptions)[K] extends { type: 'boolean' } ? boolean : string }

/**
 * The shape every client subcommand shares: parse (exit 2 on a bad flag), --help, find the
 * target, connect (exit 1 when unreachable), run `body`, close the connection.
 */
export async function runClient<V extends Record<string, unknown>>(
  command: string,
  help: string,
  argv: string[],
  extra: ParseArgsConfig['options'],
  body: (nc: NatsConnection, target: ClientTarget, values: ClientValues & V) => Promise<number>,
): Promise<number> {
  let values: ClientValues & V
  try {
    values = parseArgs({ args: argv, options: { ...clientOptions, ...extra }, strict: true }).values as ClientValues & V
  } catch (err) {
    process.stderr.write(`vigil ${command}: ${(err as Error).message}\n${help}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  const target = clientTarget(values)
  if ('exitCode' in target) return target.exitCode
  const nc = await connectClient(target)
  if (!nc) return 1
  try {
    return await body(nc, target, values)
  } finally {
    if (!nc.isClosed()) await nc.close()
  }
}
