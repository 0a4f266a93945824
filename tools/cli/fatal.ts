import { inspect } from 'node:util'
import type { EventEmitter } from 'node:events'
import type { Logger } from '../../infra/logger.js'
import { isTraceId, newTraceId } from '../../infra/nats/codec.js'

/** `vigil start`'s exit code after an uncaught exception or unhandled rejection (EX_SOFTWARE). */
export const EXIT_FATAL = 70

export type FatalKind = 'uncaughtException' | 'unhandledRejection'

export interface FatalInfo {
  kind: FatalKind
  err: Error
  /** The error's own trace id when it carries one (a command's), else a fresh one for this crash. */
  traceId: string
}

export interface FatalHandlers {
  /** The first fatal error, once there was one. */
  readonly first: FatalInfo | undefined
  remove(): void
}

export interface FatalHandlerOptions {
  log: Logger
  /** The first fatal: start the bounded, ordered shutdown. */
  onFirst(info: FatalInfo): void
  /** Any later one (while that shutdown runs): force it. */
  onAgain(info: FatalInfo): void
  /** process, or a stand-in in unit tests. */
  target?: EventEmitter
}

/**
 * DESIGN.md §9.3 "Crash handling". Node's default (print, exit 1 at once) would leave the
 * recording's session.json `recording` and its ffmpeg killed mid-fragment; instead the
 * first fatal error is logged once with its stack and asks for the same ordered shutdown
 * a SIGTERM gets (bounded by shutdown.timeoutMs), and the caller exits 70 so systemd
 * (Restart=always) and an operator can tell a crash from a stop. A second one while that
 * runs forces it; a flood after that is not logged line by line.
 */
export function installFatalHandlers(opts: FatalHandlerOptions): FatalHandlers {
  const target = opts.target ?? process
  let count = 0
  let first: FatalInfo | undefined
  const handler = (kind: FatalKind) => (reason: unknown) => {
    count += 1
    const err = reason instanceof Error ? reason : new Error(`${kind} with a non-Error value: ${inspect(reason, { depth: 2, breakLength: Infinity })}`)
    const own = (reason as { traceId?: unknown } | null)?.traceId
    const info: FatalInfo = { kind, err, traceId: isTraceId(own) ? own : newTraceId() }
    if (count === 1) {
      first = info
      opts.log.fatal({ err, kind, traceId: info.traceId }, `fatal ${kind}: ${err.message} (stopping in order, then exit ${EXIT_FATAL})`)
      opts.onFirst(info)
      return
    }
    if (count === 2) opts.log.fatal({ err, kind, traceId: info.traceId, firstTraceId: first?.traceId }, `another fatal ${kind} while stopping: forcing the shutdown`)
    opts.onAgain(info)
  }
  const onException = handler('uncaughtException')
  const onRejection = handler('unhandledRejection')
  target.on('uncaughtException', onException)
  target.on('unhandledRejection', onRejection)
  return {
    get first() {
      return first
    },
    remove() {
      target.off('uncaughtException', onException)
      target.off('unhandledRejection', onRejection)
    },
  }
}
