import { childEnv } from '../infra/process.js'

/**
 * The environment of a `vigil start` that a tool or a test runs beside others on one box:
 * its own node name, data dir and embedded nats-server port, every other port picked free
 * (0), and nothing of systemd's notify variables (a runner that is itself a service must
 * not have its rigs ping its socket). `extra` comes last and wins.
 */
export function isolatedVigilEnv(o: { node: string; dataDir: string; natsPort: number }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...childEnv(process.env),
    VIGIL_NODE: o.node,
    VIGIL_DATA_DIR: o.dataDir,
    VIGIL_NATS_PORT: String(o.natsPort),
    // 1883 may be taken (a broker on the box, another rig).
    VIGIL_MQTT_PORT: '0',
    VIGIL_WEB_PORT: '0',
    VIGIL_MEDIA_RTMP_PORT: '0',
    VIGIL_MEDIA_HTTP_PORT: '0',
    ...extra,
  }
}
