import { readFileSync } from 'node:fs'
import { credsAuthenticator, nkeyAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node'
import { nkeyPublicKey, readNkeySeed } from '../config/natsAuth.js'
import type { NatsAuthConfig, NatsConfig } from '../config/schema.js'
import { subjects } from '../subjects.js'

export type NatsCredentialOptions = Pick<NodeConnectionOptions, 'user' | 'pass' | 'token' | 'authenticator' | 'tls' | 'inboxPrefix'>

/**
 * What a client adds to `connect()` for `nats.auth` / `nats.tls`: the rig and the CLI
 * log in the same way. `node`: replies come to `_INBOX_<node>.>`, the only inbox a rig's
 * identity may read, so no rig reads another's replies (DESIGN.md §9.1). Files are read
 * now: the config loader has checked them, and a reconnect must not fail on a moved file.
 */
export function natsCredentialOptions(nats: Pick<NatsConfig, 'auth' | 'tls'>, node?: string): NatsCredentialOptions {
  const out: NatsCredentialOptions = {}
  const { auth, tls } = nats
  if (auth?.nkeySeedFile) out.authenticator = nkeyAuthenticator(readNkeySeed(auth.nkeySeedFile))
  else if (auth?.credsFile) out.authenticator = credsAuthenticator(readFileSync(auth.credsFile))
  else if (auth?.token) out.token = auth.token
  else if (auth?.user !== undefined) {
    out.user = auth.user
    out.pass = auth.password ?? ''
  }
  if (tls) out.tls = { caFile: tls.ca, ...(tls.cert ? { certFile: tls.cert } : {}), ...(tls.key ? { keyFile: tls.key } : {}) }
  if (node !== undefined) out.inboxPrefix = subjects.inboxPrefix(node)
  return out
}

/** How the embedded nats-server is told to require the rig's own credential. */
export type EmbeddedServerAuth = { user: string; password: string } | { token: string } | { nkey: string }

/** null: no auth configured (the loopback demo). A creds file never gets here (the loader refuses it for the embedded server). */
export function embeddedServerAuth(auth: NatsAuthConfig | undefined): EmbeddedServerAuth | null {
  if (!auth) return null
  if (auth.nkeySeedFile) return { nkey: nkeyPublicKey(auth.nkeySeedFile) }
  if (auth.token) return { token: auth.token }
  if (auth.user !== undefined && auth.password !== undefined) return { user: auth.user, password: auth.password }
  return null
}
