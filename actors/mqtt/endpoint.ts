import type { Config } from '../../infra/config/schema.js'
import { parseMqttUrl, type MqttEndpoint } from '../../infra/mqtt/client.js'
import { probeHost } from '../nats/serverArgs.js'

/**
 * Where the rig's MQTT publisher connects, or why it does not run:
 * - `mqtt.url` when given (an external broker, or the NATS cluster's own MQTT listener);
 * - else the embedded server's listener (`nats.mqttPort`), logged in with `nats.auth`
 *   (user+password as such; a token as the MQTT password, which is how nats-server takes it);
 * - else (a rig on `nats.servers` with no `mqtt.url`) none: the cluster's operator says
 *   where MQTT is.
 * `mqtt.username` / `mqtt.password` win over both.
 */
export function mqttEndpoint(config: Pick<Config, 'mqtt' | 'nats'>, embeddedMqttPort: number | null): { endpoint: MqttEndpoint } | { off: string } {
  const { mqtt, nats } = config
  if (!mqtt.enabled) return { off: 'mqtt.enabled is false' }
  let endpoint: MqttEndpoint
  if (mqtt.url) endpoint = parseMqttUrl(mqtt.url)
  else if (nats.servers.length === 0 && embeddedMqttPort !== null) {
    endpoint = { host: probeHost(nats.host), port: embeddedMqttPort }
    const auth = nats.auth
    if (auth?.user !== undefined && auth.password !== undefined) Object.assign(endpoint, { username: auth.user, password: auth.password })
    // nats-server reads the MQTT password as the token; MQTT wants some user name with a password.
    else if (auth?.token !== undefined) Object.assign(endpoint, { username: 'vigil', password: auth.token })
  } else return { off: 'nats.servers is set and mqtt.url is not: set VIGIL_MQTT_URL to the cluster\'s MQTT listener' }
  if (mqtt.username !== undefined) endpoint.username = mqtt.username
  if (mqtt.password !== undefined) endpoint.password = mqtt.password
  return { endpoint }
}
