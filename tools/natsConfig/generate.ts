import { join } from 'node:path'
import { confString } from '../../actors/nats/serverConf.js'
import { rigPermissions, type SubjectPermissions } from '../../infra/nats/permissions.js'
import { isNodeName } from '../../infra/subjects.js'

export interface Identity {
  name: string
  /** The nkey's public key (`U…`): all the server ever learns of it. */
  publicKey: string
}

export interface NatsConfigInput {
  rigs: Identity[]
  operators: Identity[]
  /** Absolute: named in the confs (JetStream stores) and the env files (seed files). */
  outDir: string
  /** Servers: 1 writes nats-server.conf; N > 1 writes nats-server-<i>.conf, routed on loopback. */
  cluster: number
  /** Client listen address of every server. */
  host: string
  /** Client port of the first server; server i listens on port + i - 1. */
  port: number
  /** Route port of the first server (cluster only). */
  clusterPort: number
  /** Host name the rigs and operators dial (VIGIL_NATS_SERVERS). */
  advertise: string
  /** Route credential: a route bypasses every client permission, so another local user must not open one. */
  routePassword: string
  tls?: { cert: string; key: string; ca: string }
  /** Written into each file's header. */
  made?: string
}

export interface NatsConfigFile {
  file: string
  text: string
}

export interface NatsConfigOutput {
  servers: NatsConfigFile[]
  /** One `<name>.env` per identity. */
  envs: Array<NatsConfigFile & { name: string; role: 'rig' | 'operator' }>
  /** Where each identity's seed goes (`<name>.nk`); the caller writes the seed there. */
  seedFiles: Record<string, string>
}

/** Why the input cannot make a config, or undefined. */
export function natsConfigProblem(input: Pick<NatsConfigInput, 'rigs' | 'operators' | 'cluster'>): string | undefined {
  const names = [...input.rigs, ...input.operators].map((i) => i.name)
  if (input.rigs.length === 0 && input.operators.length === 0) return 'give --rigs and/or --operators'
  const bad = names.filter((n) => !isNodeName(n) || n.length > 64)
  if (bad.length > 0) return `names are rig node names ([a-z0-9_-], at most 64): ${bad.join(', ')}`
  const twice = names.filter((n, i) => names.indexOf(n) !== i)
  if (twice.length > 0) return `each name once (one identity, one file): ${[...new Set(twice)].join(', ')}`
  if (!Number.isInteger(input.cluster) || input.cluster < 1 || input.cluster > 9) return '--cluster takes 1 to 9 servers'
  return undefined
}

const list = (items: string[]) => `[${items.map(confString).join(', ')}]`

function permissionsBlock(p: SubjectPermissions): string {
  return [
    'permissions: {',
    `  publish: { allow: ${list(p.publish)} }`,
    `  subscribe: { allow: ${list(p.subscribe)} }`,
    `  allow_responses: ${p.allowResponses}`,
    '}',
  ].join('\n    ')
}

function usersBlock(input: NatsConfigInput): string {
  const users = [
    ...input.rigs.map((r) => `  # rig ${r.name}: its own subjects only\n  { nkey: ${confString(r.publicKey)}\n    ${permissionsBlock(rigPermissions(r.name))}\n  }`),
    ...input.operators.map((o) => `  # operator ${o.name}: everything\n  { nkey: ${confString(o.publicKey)} }`),
  ]
  return `# Only these identities get in: no token, no password, no anonymous user (no no_auth_user).
authorization {
  users: [
${users.join('\n')}
  ]
}`
}

function serverConf(input: NatsConfigInput, i: number): string {
  const clustered = input.cluster > 1
  const storeDir = join(input.outDir, clustered ? `jetstream-${i}` : 'jetstream')
  const lines = [
    `# nats-server config for vigil, made by \`vigil nats-config\`${input.made ? ` on ${input.made}` : ''}.`,
    '# Identities are nkeys: this file holds public keys only; each seed is in <name>.nk beside it.',
    `server_name: ${confString(clustered ? `vigil-${i}` : 'vigil')}`,
    `listen: ${confString(`${input.host}:${input.port + i - 1}`)}`,
    'max_payload: 1MB',
    'write_deadline: "5s"',
    '',
    `jetstream {\n  store_dir: ${confString(storeDir)}\n  max_memory_store: 64MB\n  max_file_store: 1GB\n}`,
  ]
  if (input.tls) {
    lines.push('', `# TLS only: clients verify this certificate against ${input.tls.ca}.`)
    lines.push(`tls {\n  cert_file: ${confString(input.tls.cert)}\n  key_file: ${confString(input.tls.key)}\n  timeout: 5\n}`)
  }
  if (clustered) {
    const routes: string[] = []
    for (let j = 1; j <= input.cluster; j++) {
      if (j !== i) routes.push(`nats-route://route:${input.routePassword}@127.0.0.1:${input.clusterPort + j - 1}`)
    }
    lines.push(
      '',
      '# Routes on loopback, behind a password: a route sees every message and no permission applies to it.',
      `cluster {\n  name: "vigil"\n  listen: ${confString(`127.0.0.1:${input.clusterPort + i - 1}`)}\n  authorization { user: "route", password: ${confString(input.routePassword)} }\n  routes: ${list(routes)}\n}`,
    )
  }
  lines.push('', usersBlock(input), '')
  return lines.join('\n')
}

function envText(input: NatsConfigInput, identity: Identity, role: 'rig' | 'operator', seedFile: string, servers: string): string {
  const lines = [
    `# vigil ${role} "${identity.name}": its NATS identity (made by \`vigil nats-config\`${input.made ? ` on ${input.made}` : ''}).`,
    `# Keep it and ${seedFile} readable by the ${role === 'rig' ? "rig's" : "operator's"} user only.`,
  ]
  // A rig's node must be the name its permissions were made for.
  if (role === 'rig') lines.push(`VIGIL_NODE=${identity.name}`)
  lines.push(`VIGIL_NATS_SERVERS=${servers}`, `VIGIL_NATS_NKEY=${seedFile}`)
  if (input.tls) lines.push(`VIGIL_NATS_CA=${input.tls.ca}`)
  return `${lines.join('\n')}\n`
}

/** Identities → server conf(s) and one env file per identity. Pure: the caller makes the keys and writes the files. */
export function generateNatsConfig(input: NatsConfigInput): NatsConfigOutput {
  const problem = natsConfigProblem(input)
  if (problem) throw new Error(problem)
  const clustered = input.cluster > 1
  const servers: NatsConfigFile[] = []
  for (let i = 1; i <= input.cluster; i++) {
    servers.push({ file: join(input.outDir, clustered ? `nats-server-${i}.conf` : 'nats-server.conf'), text: serverConf(input, i) })
  }
  const scheme = input.tls ? 'tls' : 'nats'
  const urls = Array.from({ length: input.cluster }, (_, k) => `${scheme}://${input.advertise}:${input.port + k}`).join(',')
  const seedFiles: Record<string, string> = {}
  const envs: NatsConfigOutput['envs'] = []
  for (const [role, ids] of [['rig', input.rigs], ['operator', input.operators]] as const) {
    for (const id of ids) {
      const seedFile = join(input.outDir, `${id.name}.nk`)
      seedFiles[id.name] = seedFile
      envs.push({ name: id.name, role, file: join(input.outDir, `${id.name}.env`), text: envText(input, id, role, seedFile, urls) })
    }
  }
  return { servers, envs, seedFiles }
}
