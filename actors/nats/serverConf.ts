import type { EmbeddedServerAuth } from '../../infra/nats/credentials.js'

/** A conf-file string: double quotes with JSON's escapes, which nats-server's parser reads, and no `$VAR` expansion. */
export const confString = (value: string) => JSON.stringify(value)

/**
 * The embedded server's conf when the rig has credentials or an MQTT listener: the policy
 * file (`nats.conf`) as it is, plus the MQTT listener and an `authorization` block that
 * admits only the rig's own credential.
 * Copied rather than `include`d: nats-server resolves an include against the including
 * file's folder, and this one lives in the data dir.
 */
export function embeddedServerConf(
  policy: string,
  auth: EmbeddedServerAuth | null,
  extra: { mqtt?: { host: string; port: number; serverName: string } | null } = {},
): string {
  let out = policy.trimEnd()
  if (extra.mqtt) out += `\n\n${mqttConf(extra.mqtt)}`
  if (auth) out += `\n\n${authorizationConf(auth)}`
  return `${out}\n`
}

/**
 * nats-server's MQTT listener: MQTT clients see the rig's subjects as topics (`.` ↔ `/`).
 * It refuses to start without an explicit server_name and JetStream (its sessions and
 * retained messages are streams: `$MQTT_sess`, `$MQTT_msgs`, `$MQTT_rmsgs`). Its clients
 * log in against the same authorization block as NATS clients (user+password, or a token
 * as the MQTT password); an nkey cannot be presented over MQTT.
 */
function mqttConf(mqtt: { host: string; port: number; serverName: string }): string {
  return `# Added by vigil (nats.mqttPort): MQTT for home automation, on nats.host like the NATS port.
server_name: ${confString(mqtt.serverName)}
mqtt {
  host: ${confString(mqtt.host)}
  port: ${mqtt.port}
}`
}

function authorizationConf(auth: EmbeddedServerAuth): string {
  const login =
    'nkey' in auth
      ? `users: [ { nkey: ${confString(auth.nkey)} } ]`
      : 'token' in auth
        ? `token: ${confString(auth.token)}`
        : `user: ${confString(auth.user)}\n  password: ${confString(auth.password)}`
  return `# Added by vigil (nats.auth is set): only the rig's own credential gets in; no anonymous clients.
authorization {
  ${login}
}`
}
