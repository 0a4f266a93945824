import type { Config } from '../../infra/config/schema.js'
import type { DataDirs } from '../../infra/config/load.js'
import type { Logger } from '../../infra/logger.js'
import type { ProcessOwner } from '../../infra/process.js'
import type { Clock } from '../../infra/clock.js'
import type { AlertInput } from '../../infra/alerts.js'
import type { Bus } from '../../infra/nats/bus.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import type { SupervisedChild } from '../supervisor/index.js'
import type { ChildFactory } from '../supervisor/child.js'
import type { RigPorts } from './index.js'

/** What every subsystem of a rig is built from. */
export interface RigContext {
  config: Config
  log: Logger
  clock: Clock
  processes: ProcessOwner
  dirs: DataDirs
  ports: RigPorts
  node: string
  alert(input: AlertInput): void
  bus: Bus
  router: CommandRouter
}

export type SpecBuilder = (id: string, over: Partial<SupervisedChild> & { factory: ChildFactory }) => SupervisedChild

/**
 * DESIGN.md §3's shutdown list: recording first (finalize the session), then
 * capture, then media and web, then the rest; nats is stopped last, after
 * shutdown_complete has been published through it.
 */
export const shutdownOrder = ['recorder', 'motion', 'audio', 'camera', 'media', 'web', 'governor', 'logs', 'nats']

/** The subsystems of DESIGN.md §3 in start order, as far as they are built. */
export async function defaultChildren(_ctx: RigContext, _spec: SpecBuilder): Promise<SupervisedChild[]> {
  return []
}
