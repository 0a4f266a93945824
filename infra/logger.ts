import { pino, type Logger as PinoLogger, type DestinationStream, type LevelWithSilent } from 'pino'

export type Logger = PinoLogger
export type LogLevel = LevelWithSilent

export interface LoggerOptions {
  level?: LogLevel
  /** Human-readable lines; defaults to stdout being a terminal. */
  pretty?: boolean
  /** Extra destinations (the rotated log files), written as JSON lines. */
  streams?: DestinationStream[]
  base?: Record<string, unknown>
}

/**
 * One logger tree for the whole process: actors take `log.child({ actor })`, a
 * command takes `log.child({ traceId })`, so every line says who and why.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info'
  const pretty = opts.pretty ?? process.stdout.isTTY === true
  const stdout: DestinationStream = pretty
    ? (pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } }) as DestinationStream)
    : pino.destination({ fd: 1, sync: false })
  const streams = [{ level, stream: stdout }, ...(opts.streams ?? []).map((stream) => ({ level, stream }))]
  return pino({ level, base: opts.base ?? {}, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams))
}

/** A logger that writes nothing: for unit tests and short CLI calls. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

export function actorLogger(root: Logger, actor: string): Logger {
  return root.child({ actor })
}

export function traceLogger(log: Logger, traceId: string): Logger {
  return log.child({ traceId })
}
