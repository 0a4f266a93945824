import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { embeddedServerAuth, natsCredentialOptions } from '../../infra/nats/credentials.js'
import { natsServerChild } from '../nats/index.js'
import type { ChildFactory } from '../supervisor/child.js'
import type { RigContext } from './children.js'

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')

/**
 * The embedded nats-server. Its stop during the rig's shutdown first runs
 * `beforeStop` (publish shutdown_complete, drain), because nothing can be published
 * once it is gone.
 */
export function embeddedNatsChild(ctx: RigContext, binary: string, beforeStop: () => Promise<void>): ChildFactory {
  const inner = natsServerChild({
    config: {
      port: ctx.ports.nats!,
      host: ctx.config.nats.host,
      storeDir: ctx.dirs.jetstream,
      confFile: resolve(repoRoot, ctx.config.nats.confFile),
      binary,
      auth: embeddedServerAuth(ctx.config.nats.auth),
      mqtt: ctx.ports.mqtt !== null ? { port: ctx.ports.mqtt, serverName: `vigil-${ctx.node}` } : null,
      runConfFile: resolve(ctx.dirs.root, 'nats-server.conf'),
    },
    processes: ctx.processes,
    log: ctx.log.child({ actor: 'nats' }),
    probeIntervalMs: ctx.config.nats.probeIntervalMs,
    // The embedded server has no TLS listener: its credential only.
    probeCredentials: natsCredentialOptions({ auth: ctx.config.nats.auth }),
    probeMisses: ctx.config.nats.probeMisses,
    // A frozen server still takes what the rig's client writes and never reads it: from
    // its first missed probe, hold publishes (kept by the bus) until it answers again or,
    // once it is killed, until the client has reconnected to its successor.
    onNotAnswering: () => ctx.bus.hold(),
    onAnsweringAgain: () => ctx.bus.release(),
  })
  return () => {
    const instance = inner()
    return {
      ...instance,
      actor: instance.actor,
      start: (events) => {
        instance.start({
          onReady: () => events.onReady(),
          // The process is dead (or SIGKILLed, when a probe found it frozen) but the rig's
          // client may not have seen its socket close yet: what the supervisor publishes
          // about this exit (child_restarting, the nats state) must wait for the reconnect.
          onExit: (exit) => {
            ctx.bus.hold()
            events.onExit(exit)
          },
        })
      },
      kill: () => instance.kill(),
      pids: () => instance.pids(),
      stop: () => {
        // Only the rig's shutdown says goodbye and drains: a restart of this child alone
        // (`supervisor.restart {child: nats}`, a restart strategy) must leave the rig's
        // client to reconnect to the new server, not close it for good.
        // stop() runs inside the supervisor's transition; deferring lets the
        // `shutting_down` state be published before `shutdown_complete`, and lets the
        // supervisor's state settle before it is read.
        void new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => (ctx.supervisor().state() === 'shutting_down' ? beforeStop() : undefined))
          .catch((err: unknown) => ctx.log.warn({ err }, 'before-stop of nats failed'))
          .finally(() => instance.stop())
      },
    }
  }
}
