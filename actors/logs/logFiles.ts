import { resolve } from 'node:path'
import type { Config } from '../../infra/config/schema.js'
import { RotatedLog, type LogFailure, type LogFileStatus, type RotatedLogOptions } from './rotatedLog.js'

/**
 * The three files of DESIGN.md §6, made once per process (before the logger, which
 * writes vigil.log through `mainStream`) and shared by every logs actor instance:
 *
 * | file | from | limit |
 * | --- | --- | --- |
 * | vigil.log | pino, via `mainStream` | logs.vigilMaxBytes × (1 + logs.vigilBackups) |
 * | commands.jsonl | the command router's onCommand, via `commandLog` | logs.commandsMaxBytes × (1 + logs.commandsBackups) |
 * | frame_drops.jsonl | the camera's onFrameDrop, via `frameDropLog` | logs.frameDropsMaxBytes × (1 + logs.frameDropsBackups) |
 *
 * A failing disk is reported once per episode through `warn` (stderr by default:
 * never the file that fails) and to `onHealth` listeners (the logs actor's alert).
 */

export type LogName = 'vigil' | 'commands' | 'frameDrops'

export const LOG_FILE_NAMES: Record<LogName, string> = {
  vigil: 'vigil.log',
  commands: 'commands.jsonl',
  frameDrops: 'frame_drops.jsonl',
}

export type HealthEvent = { type: 'failing'; file: string; code: string; message: string } | { type: 'recovered'; file: string }

export type LogsConfig = Pick<
  Config['logs'],
  'vigilMaxBytes' | 'vigilBackups' | 'commandsMaxBytes' | 'commandsBackups' | 'frameDropsMaxBytes' | 'frameDropsBackups'
>

export interface LogFilesOptions {
  dir: string
  config: LogsConfig
  /** Where the one warning of a failure episode goes; default: a JSON line on stderr. */
  warn?(fields: Record<string, unknown>, msg: string): void
  info?(fields: Record<string, unknown>, msg: string): void
  retryMs?: number
  maxPendingBytes?: number
  now?: () => number
  createStream?: RotatedLogOptions['createStream']
}

export interface LogsStatus {
  dir: string
  healthy: boolean
  /** Bytes on disk now, all files and backups. */
  totalBytes: number
  /** What the table allows: every file at its limit with all its backups. */
  limitBytes: number
  dropped: number
  files: Array<LogFileStatus & { bytes: number; files: Array<{ name: string; bytes: number }> }>
}

/** A pino destination: pino calls write() with one serialized line, newline included. */
export interface LineDestination {
  write(line: string): void
}

export interface RecordWriter {
  write(record: object): void
}

export interface LogFiles {
  readonly dir: string
  /** For createLogger({ streams: [logFiles.mainStream] }). */
  readonly mainStream: LineDestination
  /** For createCommandRouter({ onCommand: (r) => logFiles.commandLog.write(r) }). */
  readonly commandLog: RecordWriter
  /** For the camera's onFrameDrop. */
  readonly frameDropLog: RecordWriter
  readonly logs: Record<LogName, RotatedLog>
  rotateAll(): Promise<Array<{ file: string; rotated: boolean }>>
  status(): Promise<LogsStatus>
  /** Files failing now. */
  failing(): LogFailure[]
  /** Listener gets the current failures at once, then every change. */
  onHealth(listener: (event: HealthEvent) => void): () => void
  flush(): Promise<void>
  close(): Promise<void>
}

const stderrLine = (level: number) => (fields: Record<string, unknown>, msg: string) => {
  try {
    process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), ...fields, msg })}\n`)
  } catch {
    // stderr itself is gone: there is no one left to tell.
  }
}

export function createLogFiles(opts: LogFilesOptions): LogFiles {
  const warn = opts.warn ?? stderrLine(40)
  const info = opts.info ?? stderrLine(30)
  const failures = new Map<string, LogFailure>()
  const listeners = new Set<(event: HealthEvent) => void>()
  const tell = (event: HealthEvent) => {
    for (const l of listeners) {
      try {
        l(event)
      } catch {
        // A listener's bug must not turn a log write into a crash.
      }
    }
  }

  const make = (name: LogName, maxBytes: number, backups: number) =>
    new RotatedLog({
      dir: opts.dir,
      name: LOG_FILE_NAMES[name],
      maxBytes,
      backups,
      ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
      ...(opts.maxPendingBytes !== undefined ? { maxPendingBytes: opts.maxPendingBytes } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.createStream ? { createStream: opts.createStream } : {}),
      onFailure: (f) => {
        // One warning per episode for the whole set: a removed dir fails all three at once.
        if (failures.size === 0) {
          warn({ file: f.file, code: f.code, err: f.message, dir: opts.dir }, 'log write failed: dropping log lines until the disk recovers')
        }
        failures.set(f.file, f)
        tell({ type: 'failing', ...f })
      },
      onRecovered: ({ file, dropped }) => {
        failures.delete(file)
        if (failures.size === 0) info({ file, dropped, dir: opts.dir }, 'log writes resumed')
        tell({ type: 'recovered', file })
      },
    })

  const c = opts.config
  const logs: Record<LogName, RotatedLog> = {
    vigil: make('vigil', c.vigilMaxBytes, c.vigilBackups),
    commands: make('commands', c.commandsMaxBytes, c.commandsBackups),
    frameDrops: make('frameDrops', c.frameDropsMaxBytes, c.frameDropsBackups),
  }
  const all = Object.values(logs)

  const recordWriter = (log: RotatedLog): RecordWriter => ({
    write(record) {
      let line: string
      try {
        line = `${JSON.stringify(record)}\n`
      } catch {
        // A record that cannot be serialised (a cycle, a BigInt) is a caller's bug, not a disk problem.
        line = `${JSON.stringify({ unserialisable: true, at: new Date().toISOString() })}\n`
      }
      log.write(line)
    },
  })

  return {
    dir: opts.dir,
    mainStream: {
      write(line: string) {
        logs.vigil.write(line.endsWith('\n') ? line : `${line}\n`)
      },
    },
    commandLog: recordWriter(logs.commands),
    frameDropLog: recordWriter(logs.frameDrops),
    logs,
    async rotateAll() {
      return Promise.all(all.map(async (log) => ({ file: log.status().file, rotated: await log.rotate() })))
    },
    async status() {
      const files = await Promise.all(
        all.map(async (log) => {
          const s = log.status()
          const present = await log.files()
          return { ...s, bytes: present.find((f) => f.name === s.file)?.bytes ?? 0, files: present }
        }),
      )
      return {
        dir: opts.dir,
        healthy: files.every((f) => f.healthy),
        totalBytes: files.reduce((sum, f) => sum + f.files.reduce((s, x) => s + x.bytes, 0), 0),
        limitBytes: files.reduce((sum, f) => sum + f.maxBytes * (1 + f.backups), 0),
        dropped: files.reduce((sum, f) => sum + f.dropped, 0),
        files,
      }
    },
    failing: () => [...failures.values()],
    onHealth(listener) {
      listeners.add(listener)
      for (const f of failures.values()) listener({ type: 'failing', ...f })
      return () => listeners.delete(listener)
    },
    async flush() {
      await Promise.all(all.map((l) => l.flush()))
    },
    async close() {
      await Promise.all(all.map((l) => l.close()))
    },
  }
}

/** `<dataDir>/logs`, known before the data dir is prepared (the logger comes first). */
export function logsDirOf(dataDir: string): string {
  return resolve(dataDir, 'logs')
}
