import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { natsServerChild } from '../nats/index.js'
import type { ChildFactory } from '../supervisor/child.js'
import type { RigContext } from './children.js'

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..')

/**
 * The embedded nats-server. Its stop first runs `beforeStop` (publish
 * shutdown_complete, drain), because nothing can be published once it is gone.
 */
export function embeddedNatsChild(ctx: RigContext, binary: string, beforeStop: () => Promise<void>): ChildFactory {
  const inner = natsServerChild({
    config: {
      port: ctx.ports.nats!,
      host: ctx.config.nats.host,
      storeDir: ctx.dirs.jetstream,
      confFile: resolve(repoRoot, ctx.config.nats.confFile),
      binary,
    },
    processes: ctx.processes,
    log: ctx.log.child({ actor: 'nats' }),
  })
  return () => {
    const instance = inner()
    return {
      ...instance,
      actor: instance.actor,
      start: (events) => instance.start(events),
      kill: () => instance.kill(),
      pids: () => instance.pids(),
      stop: () => {
        // stop() runs inside the supervisor's transition; deferring lets the
        // `shutting_down` state be published before `shutdown_complete`.
        void new Promise<void>((resolve) => setImmediate(resolve))
          .then(beforeStop)
          .catch((err: unknown) => ctx.log.warn({ err }, 'before-stop of nats failed'))
          .finally(() => instance.stop())
      },
    }
  }
}
