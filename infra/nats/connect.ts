import { connect, type Authenticator, type NatsConnection, type Status } from '@nats-io/transport-node'
import type { Logger } from '../logger.js'
import type { NatsCredentialOptions } from './credentials.js'

export interface ConnectNatsOptions {
  servers: string[]
  /** Client name shown by the server's monitoring (`vigil-<node>`). */
  name: string
  log: Logger
  /** Gap between reconnect attempts; short because the server is usually local. */
  reconnectTimeWaitMs?: number
  /** Login, TLS and inbox prefix (`natsCredentialOptions`). */
  credentials?: NatsCredentialOptions
  /**
   * The server keeps turning the login down before the first connection (wrong or
   * revoked credentials, or none where the server wants some). Called once; the client
   * keeps trying, so a fixed server-side user list lets the rig in without a restart.
   */
  onLoginRefused?: (attempts: number) => void
  /** The rig is stopping: give up dialling (the promise rejects), also before the first connection. */
  signal?: AbortSignal
}

/**
 * An unattended rig must never give up on its bus: the client reconnects forever,
 * and the first connect also waits (the embedded server may still be starting or
 * restarting under the supervisor). Resolves once connected.
 *
 * The promise does not settle while no server answers; callers that need a bound
 * race it against their own deadline.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const log = opts.log.child({ component: 'nats' })
  const { authenticator, ...credentials } = opts.credentials ?? {}
  // The client asks for the login once per handshake with a server that answered; asked
  // again before the first connection resolves means that server said no.
  let logins = 0
  let firstConnected = false
  const watchLogins: Authenticator = () => {
    logins++
    if (!firstConnected && logins === 2) {
      log.error({ servers: opts.servers }, 'nats-server refuses this login (check nats.auth against its users); still trying')
      opts.onLoginRefused?.(logins)
    }
    // Adds nothing: the real credentials come from the other authenticators.
    return undefined
  }
  const nc = await connect({
    ...credentials,
    authenticator: [...(authenticator === undefined ? [] : Array.isArray(authenticator) ? authenticator : [authenticator]), watchLogins],
    // An unattended rig waits for its credentials to be accepted (a server whose user list
    // is being fixed) instead of closing for good after two refusals.
    ignoreAuthErrorAbort: true,
    // Asked before every dial: the one way to end a first connect that is still waiting
    // (no server, or a refused login), which would otherwise keep the process alive.
    reconnectToServer: () => {
      if (opts.signal?.aborted) throw new Error('the rig is stopping')
      return null
    },
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 100,
    waitOnFirstConnect: true,
    // A dead server is noticed within ~20 s even when no TCP reset arrives (cable pulled).
    pingInterval: 10_000,
    maxPingOut: 2,
  })
  firstConnected = true
  log.info({ server: nc.getServer() }, 'nats connected')
  void logStatus(nc, log)
  return nc
}

/**
 * One line per change, not per attempt: while the server is down the client
 * emits `reconnecting` every 250 ms, which would flood the log of a rig that
 * sits disconnected for an hour.
 */
async function logStatus(nc: NatsConnection, log: Logger): Promise<void> {
  let disconnected = false
  // A refused login repeats on every attempt while disconnected: once per outage.
  let loggedErrors = new Set<string>()
  try {
    for await (const s of nc.status()) {
      const line = statusLine(s)
      if (s.type === 'disconnect') {
        if (disconnected) continue
        disconnected = true
        log.warn(line.fields, line.msg)
      } else if (s.type === 'reconnect') {
        disconnected = false
        loggedErrors = new Set()
        log.info(line.fields, line.msg)
      } else if (s.type === 'error') {
        const key = s.error.message
        if (loggedErrors.has(key)) continue
        loggedErrors.add(key)
        log.warn(line.fields, line.msg)
      } else if (s.type === 'slowConsumer' || s.type === 'staleConnection') {
        log.warn(line.fields, line.msg)
      } else if (s.type === 'ldm' || s.type === 'close') {
        log.info(line.fields, line.msg)
      }
    }
  } catch (err) {
    log.warn({ err }, 'nats status stream ended')
  }
}

function statusLine(s: Status): { fields: Record<string, unknown>; msg: string } {
  switch (s.type) {
    case 'disconnect':
      return { fields: { server: s.server }, msg: 'nats disconnected; reconnecting' }
    case 'reconnect':
      return { fields: { server: s.server }, msg: 'nats reconnected' }
    case 'error':
      return { fields: { err: s.error }, msg: 'nats server error' }
    case 'slowConsumer':
      return { fields: { subject: s.sub.getSubject(), pending: s.pending }, msg: 'nats slow consumer' }
    case 'staleConnection':
      return { fields: {}, msg: 'nats connection stale' }
    case 'ldm':
      return { fields: { server: s.server }, msg: 'nats server entering lame duck mode' }
    case 'close':
      return { fields: {}, msg: 'nats connection closed' }
    default:
      return { fields: { type: s.type }, msg: 'nats status' }
  }
}
