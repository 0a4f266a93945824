import type { EmbeddedServerAuth } from '../../infra/nats/credentials.js'

/** Where and how the embedded nats-server runs (from config.nats and the data dir). */
export interface NatsServerConfig {
  /** 0: let the server pick a free port; the chosen one is reported when ready. */
  port: number
  host: string
  /** JetStream store (`<dataDir>/jetstream`); also holds the server's ports file. */
  storeDir: string
  confFile: string
  binary: string
  /** nats.auth as the server needs it; the server then runs from `runConfFile` (made from confFile). */
  auth?: EmbeddedServerAuth | null
  /**
   * The MQTT listener (on `host`, behind the same auth as the NATS port). It needs a
   * `server_name` and JetStream, and has no command-line flag: it goes into `runConfFile`.
   */
  mqtt?: { port: number; serverName: string } | null
  /** Where the conf with auth and/or MQTT is written (0600: it may hold the password). */
  runConfFile?: string
}

/** The conf the server reads: the policy file, or the one with the rig's credential and the MQTT listener added. */
export function serverConfFile(config: NatsServerConfig): string {
  return (config.auth || config.mqtt) && config.runConfFile ? config.runConfFile : config.confFile
}

/**
 * The command line. Flags override nats.conf, so the file holds policy (limits,
 * JetStream on) and vigil's config holds placement (address, port, store). The
 * ports file is how readiness and the real port are learned without parsing logs.
 */
export function natsServerArgs(config: NatsServerConfig, portsFileDir: string = config.storeDir): string[] {
  return [
    '-c',
    serverConfFile(config),
    '-a',
    config.host,
    // nats-server reads 0 as "the default port (4222)"; -1 is its "any free port".
    '-p',
    config.port === 0 ? '-1' : String(config.port),
    '-js',
    '-sd',
    config.storeDir,
    '--ports_file_dir',
    portsFileDir,
  ]
}

/** A wildcard bind is reached through loopback. */
export function probeHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1'
  if (host === '::' || host === '[::]') return '::1'
  return host.replace(/^\[(.*)\]$/, '$1')
}

/** Port of the first client URL in a ports file (`{"nats":["nats://127.0.0.1:4222"]}`); null when unusable. */
export function portFromPortsFile(text: string): number | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // Read while the server was still writing it: try again on the next poll.
    return null
  }
  const urls = (parsed as { nats?: unknown }).nats
  if (!Array.isArray(urls)) return null
  for (const url of urls) {
    if (typeof url !== 'string') continue
    const m = /:(\d+)\/?$/.exec(url)
    const port = m ? Number(m[1]) : NaN
    if (Number.isInteger(port) && port > 0 && port < 65536) return port
  }
  return null
}
