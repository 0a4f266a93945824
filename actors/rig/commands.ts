import { Type } from '@sinclair/typebox'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { AlertLog } from '../../infra/alerts.js'
import type { BusStats } from '../../infra/nats/bus.js'
import type { SupervisorHandle } from '../supervisor/index.js'
import type { RigPorts } from './index.js'

const NoArgs = Type.Object({}, { additionalProperties: false })

/** supervisor.status|restart|shutdown and alerts.list (DESIGN.md §4). */
export function registerSupervisorCommands(
  router: CommandRouter,
  deps: { node: string; supervisor: SupervisorHandle; ports: RigPorts; alerts: AlertLog; bus: { stats(): BusStats }; requestShutdown(reason: string): void },
): void {
  const { supervisor } = deps
  router.register({
    actor: 'supervisor',
    verb: 'status',
    description: 'the tree: every child with its state, restarts, pids; the NATS link and its outbox',
    args: NoArgs,
    handler: async () => ({
      node: deps.node,
      state: supervisor.state(),
      uptimeS: supervisor.uptimeS(),
      ports: deps.ports,
      children: supervisor.children(),
      // What waits for NATS and what was dropped on the way: an operator's first question after an outage.
      nats: deps.bus.stats(),
    }),
  })
  router.register({
    actor: 'supervisor',
    verb: 'restart',
    description: 'stop and start one child now (no backoff)',
    args: Type.Object({ child: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    handler: async (args: { child: string }) => {
      supervisor.restart(args.child)
      return { child: args.child, accepted: true }
    },
  })
  router.register({
    actor: 'supervisor',
    verb: 'shutdown',
    description: 'orderly shutdown of the whole rig',
    args: NoArgs,
    handler: async () => {
      // After the reply is on its way: the shutdown stops accepting commands.
      setImmediate(() => deps.requestShutdown('supervisor.shutdown command'))
      return { accepted: true }
    },
  })
  router.register({
    actor: 'alerts',
    verb: 'list',
    description: 'the last alerts (newest first) and counts by severity',
    args: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }, { additionalProperties: false }),
    handler: async (args: { limit?: number }) => ({ alerts: deps.alerts.list(args.limit), counts: deps.alerts.counts() }),
  })
}
