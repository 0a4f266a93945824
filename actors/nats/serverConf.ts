import type { EmbeddedServerAuth } from '../../infra/nats/credentials.js'

/** A conf-file string: double quotes with JSON's escapes, which nats-server's parser reads, and no `$VAR` expansion. */
export const confString = (value: string) => JSON.stringify(value)

/**
 * The embedded server's conf when the rig has credentials: the policy file (`nats.conf`)
 * as it is, plus an `authorization` block that admits only the rig's own credential.
 * Copied rather than `include`d: nats-server resolves an include against the including
 * file's folder, and this one lives in the data dir.
 */
export function embeddedServerConf(policy: string, auth: EmbeddedServerAuth): string {
  const login =
    'nkey' in auth
      ? `users: [ { nkey: ${confString(auth.nkey)} } ]`
      : 'token' in auth
        ? `token: ${confString(auth.token)}`
        : `user: ${confString(auth.user)}\n  password: ${confString(auth.password)}`
  return `${policy.trimEnd()}

# Added by vigil (nats.auth is set): only the rig's own credential gets in; no anonymous clients.
authorization {
  ${login}
}
`
}
