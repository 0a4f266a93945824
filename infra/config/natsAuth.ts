import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { nkeys } from '@nats-io/transport-node'
import type { NatsAuthConfig, NatsConfig } from './schema.js'

/**
 * The NATS credential variables (DESIGN.md §9.1). Kept apart from `envRules` because
 * they do not merge field by field: any of them replaces the file's `nats.auth` as a
 * whole, so `VIGIL_NATS_TOKEN` over a file with `{ user, password }` is a token login,
 * not a "two kinds of credentials" error.
 */
export const natsAuthEnv = {
  VIGIL_NATS_USER: 'user',
  VIGIL_NATS_PASSWORD: 'password',
  VIGIL_NATS_TOKEN: 'token',
  VIGIL_NATS_NKEY: 'nkeySeedFile',
  VIGIL_NATS_CREDS: 'credsFile',
} as const satisfies Record<string, keyof NatsAuthConfig>

/** The CA file for TLS to nats.servers; merges into `nats.tls` like any other field. */
export const NATS_CA_ENV = 'VIGIL_NATS_CA'

type Json = Record<string, unknown>

/** `{ nats: { auth?, tls? } }` from the environment, or `{}` when none of the variables is set. */
export function natsEnvLayer(env: NodeJS.ProcessEnv): Json {
  const auth: Json = {}
  for (const [name, field] of Object.entries(natsAuthEnv)) {
    const value = env[name]
    if (value !== undefined && value !== '') auth[field] = value
  }
  const ca = env[NATS_CA_ENV]
  const nats: Json = {}
  if (Object.keys(auth).length > 0) nats['auth'] = auth
  if (ca !== undefined && ca !== '') nats['tls'] = { ca }
  return Object.keys(nats).length > 0 ? { nats } : {}
}

/** `base` without its `nats.auth` when `over` brings one: credentials replace, they never mix across layers. */
export function withoutReplacedAuth(base: Json, over: Json): Json {
  const overNats = over['nats'] as Json | undefined
  const baseNats = base['nats'] as Json | undefined
  if (!overNats || overNats['auth'] === undefined || typeof baseNats !== 'object' || baseNats === null) return base
  const { auth: _replaced, ...rest } = baseNats
  return { ...base, nats: rest }
}

export type NatsAuthKind = 'user' | 'token' | 'nkey' | 'creds'

/** Which kinds of credential `auth` carries (a valid one carries exactly one). */
export function authKinds(auth: Partial<NatsAuthConfig>): NatsAuthKind[] {
  const kinds: NatsAuthKind[] = []
  if (auth.user !== undefined || auth.password !== undefined) kinds.push('user')
  if (auth.token !== undefined) kinds.push('token')
  if (auth.nkeySeedFile !== undefined) kinds.push('nkey')
  if (auth.credsFile !== undefined) kinds.push('creds')
  return kinds
}

/** How the credential is described to an operator: the kind and a file path, never a secret. */
export function describeAuth(auth: NatsAuthConfig | undefined): string {
  if (!auth) return 'none'
  if (auth.nkeySeedFile) return `nkey (${auth.nkeySeedFile})`
  if (auth.credsFile) return `creds (${auth.credsFile})`
  if (auth.token) return 'token'
  return `user ${auth.user}`
}

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message

/** The seed's bytes; throws with a message that never holds the file's content. */
export function readNkeySeed(path: string): Uint8Array {
  const seed = new TextEncoder().encode(readFileSync(path, 'utf8').trim())
  let ok = false
  try {
    // A user seed starts "SU"; fromSeed checks the checksum too.
    ok = seed[0] === 0x53 && seed[1] === 0x55 && nkeys.fromSeed(seed).getPublicKey().startsWith('U')
  } catch {
    ok = false
  }
  if (!ok) throw new Error('does not hold an nkey user seed (a line starting "SU")')
  return seed
}

/** The public key (`U…`) a seed file stands for: what a server config names. */
export function nkeyPublicKey(seedFile: string): string {
  return nkeys.fromSeed(readNkeySeed(seedFile)).getPublicKey()
}

function fileProblem(field: string, path: string, check?: (path: string) => void): string | undefined {
  try {
    if (check) check(path)
    else readFileSync(path)
    return undefined
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code ? `cannot read ${path} (${e.code})` : `${path} ${e.message}`
    return `${field}: ${why}`
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * The rules the schema cannot say: one kind of credential, files that can be read, and
 * an embedded server reachable from the network only behind credentials. Paths are
 * taken as already resolved. Messages name fields and paths, never a secret.
 */
export function natsAuthProblems(nats: Partial<NatsConfig>): string[] {
  const problems: string[] = []
  const { auth, tls } = nats
  const embedded = Array.isArray(nats.servers) && nats.servers.length === 0
  if (auth) {
    const kinds = authKinds(auth)
    const names = 'user+password, token, nkeySeedFile or credsFile'
    if (kinds.length === 0) problems.push(`nats.auth: give one of ${names}`)
    else if (kinds.length > 1) problems.push(`nats.auth: give only one of ${names} (got ${kinds.join(', ')})`)
    if (kinds.includes('user')) {
      if (auth.user === undefined) problems.push('nats.auth.user: required with nats.auth.password (VIGIL_NATS_USER)')
      if (auth.password === undefined) problems.push('nats.auth.password: required with nats.auth.user (VIGIL_NATS_PASSWORD)')
    }
    if (auth.nkeySeedFile !== undefined) {
      const p = fileProblem('nats.auth.nkeySeedFile', auth.nkeySeedFile, readNkeySeed)
      if (p) problems.push(p)
    }
    if (auth.credsFile !== undefined) {
      const p = fileProblem('nats.auth.credsFile', auth.credsFile)
      if (p) problems.push(p)
      if (embedded) problems.push('nats.auth.credsFile: a creds file is for a JWT-based cluster (set nats.servers); the embedded server takes user+password, token or nkeySeedFile')
    }
  }
  if (tls) {
    for (const field of ['ca', 'cert', 'key'] as const) {
      const path = tls[field]
      if (path === undefined) continue
      const p = fileProblem(`nats.tls.${field}`, path)
      if (p) problems.push(p)
    }
    if ((tls.cert === undefined) !== (tls.key === undefined)) problems.push('nats.tls: cert and key go together (a client certificate needs its key)')
    if (embedded) problems.push('nats.tls: only for nats.servers; the embedded nats-server listens without TLS')
  }
  if (embedded && typeof nats.host === 'string' && !isLoopbackHost(nats.host) && !auth) {
    problems.push(
      `nats.auth: required when the embedded nats-server binds nats.host ${JSON.stringify(nats.host)}, which is not loopback: set VIGIL_NATS_NKEY (seed file), VIGIL_NATS_USER + VIGIL_NATS_PASSWORD or VIGIL_NATS_TOKEN, or bind 127.0.0.1`,
    )
  }
  return problems
}

/** File paths in `nats.auth` / `nats.tls` resolved against `cwd`, in place, so later reads do not depend on it. */
export function resolveNatsFiles(nats: Partial<NatsConfig>, cwd: string): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p))
  const { auth, tls } = nats
  if (auth?.nkeySeedFile !== undefined) auth.nkeySeedFile = abs(auth.nkeySeedFile)
  if (auth?.credsFile !== undefined) auth.credsFile = abs(auth.credsFile)
  if (tls) {
    tls.ca = abs(tls.ca)
    if (tls.cert !== undefined) tls.cert = abs(tls.cert)
    if (tls.key !== undefined) tls.key = abs(tls.key)
  }
}
