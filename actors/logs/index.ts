import { Type } from '@sinclair/typebox'
import { createActor, fromCallback, fromPromise, type Actor } from 'xstate'
import type { AlertInput } from '../../infra/alerts.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import { logsMachine, type LogsHealthEvent } from '../../machines/logs.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import type { LogFiles, LogsStatus } from './logFiles.js'

export { createLogFiles, logsDirOf, LOG_FILE_NAMES, type LogFiles, type LogsStatus, type LogFilesOptions } from './logFiles.js'
export { RotatedLog } from './rotatedLog.js'

export interface LogsDeps {
  logFiles: LogFiles
  alert(a: AlertInput): void
  flushTimeoutMs?: number
}

export type LogsActor = Actor<typeof logsMachine>

export function provideLogs(deps: LogsDeps) {
  const watchLogs = fromCallback<{ type: 'NONE' }>(({ sendBack }) => {
    let disposed = false
    // The current failures arrive synchronously on subscribe: defer them past the invoke.
    const off = deps.logFiles.onHealth((e) => {
      const event: LogsHealthEvent =
        e.type === 'failing' ? { type: 'LOGS.FAILING', file: e.file, code: e.code, message: e.message } : { type: 'LOGS.RECOVERED', file: e.file }
      queueMicrotask(() => {
        if (!disposed) sendBack(event)
      })
    })
    return () => {
      disposed = true
      off()
    }
  })
  const flushLogs = fromPromise<void>(() => deps.logFiles.flush())
  return logsMachine.provide({
    actors: { watchLogs, flushLogs },
    actions: {
      raiseAlert: (_, a) => {
        try {
          deps.alert({ source: 'logs', ...a })
        } catch {
          // The alert path logs too; a failure there is already counted as a dropped line.
        }
      },
    },
  })
}

export function createLogsActor(deps: LogsDeps): LogsActor {
  return createActor(provideLogs(deps), { input: deps.flushTimeoutMs === undefined ? {} : { flushTimeoutMs: deps.flushTimeoutMs } })
}

/** `logs.status`: the files (always there) plus the actor's state (`down` between restarts). */
export type LogsStatusReply = LogsStatus & { state: string }

/** Commands hold this, not an instance: the files outlive every logs actor. */
export class LogsHandle {
  readonly logFiles: LogFiles
  #current: LogsActor | null = null

  constructor(logFiles: LogFiles) {
    this.logFiles = logFiles
  }

  get current(): LogsActor | null {
    return this.#current
  }

  attach(actor: LogsActor): void {
    this.#current = actor
  }

  detach(actor: LogsActor): void {
    if (this.#current === actor) this.#current = null
  }

  async status(): Promise<LogsStatusReply> {
    const snapshot = this.#current?.getSnapshot()
    const state = !snapshot ? 'down' : typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]!
    return { state, ...(await this.logFiles.status()) }
  }
}

export function logsChild(deps: LogsDeps, handle: LogsHandle = new LogsHandle(deps.logFiles)): ChildFactory {
  return () => machineChild(() => createLogsActor(deps), { attachTo: handle })
}

const NoArgs = Type.Object({}, { additionalProperties: false })

/** `logs.status` and `logs.rotate` (DESIGN.md §4). */
export function registerLogsCommands(router: CommandRouter, handle: LogsHandle): void {
  router.register({
    actor: 'logs',
    verb: 'status',
    description: 'the log files: sizes, backups, dropped line counts, health',
    args: NoArgs,
    readOnly: true,
    handler: () => handle.status(),
  })
  router.register({
    actor: 'logs',
    verb: 'rotate',
    description: 'rotate vigil.log, commands.jsonl and frame_drops.jsonl now (empty files are left as they are)',
    args: NoArgs,
    handler: async () => ({ rotated: await handle.logFiles.rotateAll() }),
  })
}
