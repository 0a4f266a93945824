import { stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { createStream } from 'rotating-file-stream'

/**
 * One log file rotated by size with `backups` numbered copies (`vigil.log`,
 * `vigil.log.1` … `vigil.log.N`, .1 the newest), written through rotating-file-stream.
 *
 * The file is a convenience, never a reason to fail: a write that cannot reach the
 * disk (full, directory removed or replaced, permissions) drops its line and counts
 * it; `write` never throws. rotating-file-stream closes itself on its first error, so a
 * broken file is reopened on a later write, at most every `retryMs` (no timer: a rig
 * that logs nothing has nothing to retry). The owner hears of a failure once per
 * episode (`onFailure`) and of the recovery (`onRecovered`).
 */

export type DropReason = 'failed' | 'overflow' | 'closed'

export interface LogFailure {
  file: string
  code: string
  message: string
}

export interface RotatedLogOptions {
  dir: string
  /** File name inside `dir`: `vigil.log`. */
  name: string
  maxBytes: number
  backups: number
  /** A broken file is retried on a write at least this long after it broke. */
  retryMs?: number
  /** Lines waiting for a slow disk beyond this many bytes are dropped, not queued. */
  maxPendingBytes?: number
  /** Monotonic ms; injected by tests. */
  now?: () => number
  onFailure?(failure: LogFailure): void
  onRecovered?(info: { file: string; dropped: number }): void
  /** Tests inject a stream that fails like a full disk. */
  createStream?(opts: { dir: string; name: string; maxBytes: number; rotate: number }): Writable
}

export interface LogFileStatus {
  file: string
  path: string
  maxBytes: number
  backups: number
  /** Lines and bytes that reached the file since start. */
  lines: number
  bytesWritten: number
  dropped: number
  droppedBy: Record<DropReason, number>
  healthy: boolean
  lastError: { code: string; message: string } | null
  forcedRotations: number
}

/** What forced rotation needs of rotating-file-stream's internals (v3: `rotate()` and its write guard). */
interface RfsInternals {
  rotate?: () => Promise<void>
  timeoutPromise?: Promise<void>
}

const MIN_BYTES = 1024
const HELD_MAX_LINES = 10000

function defaultStream(opts: { dir: string; name: string; maxBytes: number; rotate: number }): Writable {
  // Classic logrotate numbering: `rotate: N` keeps .1 … .N and renames over the oldest.
  const generator = (index: number | Date): string => (typeof index === 'number' && index > 0 ? `${opts.name}.${index}` : opts.name)
  // 0600: logs name sessions, sources and clients; not for other local users.
  return createStream(generator, { path: `${opts.dir}/`, size: `${opts.maxBytes}B`, rotate: opts.rotate, mode: 0o600 })
}

export class RotatedLog {
  readonly path: string
  readonly #o: Required<Pick<RotatedLogOptions, 'dir' | 'name' | 'retryMs' | 'maxPendingBytes' | 'now'>> & RotatedLogOptions
  readonly #maxBytes: number
  #stream: Writable | null = null
  #opened = false
  #brokenAt: number | null = null
  #failing = false
  #droppedAtFailure = 0
  #inflight = 0
  #idle: Array<() => void> = []
  #holding = false
  #held: string[] = []
  #closed = false
  #lines = 0
  #bytes = 0
  #dropped: Record<DropReason, number> = { failed: 0, overflow: 0, closed: 0 }
  #lastError: { code: string; message: string } | null = null
  #forced = 0

  constructor(opts: RotatedLogOptions) {
    this.#o = { retryMs: 5000, maxPendingBytes: 8 * 1024 * 1024, now: () => performance.now(), ...opts }
    this.#maxBytes = Math.max(MIN_BYTES, Math.floor(opts.maxBytes))
    this.path = join(opts.dir, opts.name)
  }

  /** Appends one line (with its newline). Never throws. */
  write(line: string): void {
    if (this.#closed) return this.#drop('closed')
    const stream = this.#usable()
    if (!stream) return this.#drop('failed')
    if (this.#holding) {
      if (this.#held.length >= HELD_MAX_LINES) return this.#drop('overflow')
      this.#held.push(line)
      return
    }
    // A disk that stopped answering must not turn the log into a memory leak.
    if (stream.writableLength > this.#o.maxPendingBytes) return this.#drop('overflow')
    this.#send(stream, line)
  }

  /** Rotates now (`logs.rotate`); false when the file is empty or broken. */
  async rotate(): Promise<boolean> {
    const stream = this.#usable()
    if (!stream || this.#closed) return false
    this.#holding = true
    try {
      await this.#whenOpen(stream)
      await this.#whenIdle()
      if (this.#stream !== stream) return false
      const size = await stat(this.path).then((s) => s.size, () => 0)
      if (size === 0) return false
      const internal = stream as unknown as RfsInternals
      if (typeof internal.rotate !== 'function') throw new Error('this rotating-file-stream cannot rotate on demand')
      // The library's own guard for out-of-band rotation: writes wait on timeoutPromise.
      const rotation = internal.rotate.call(stream)
      internal.timeoutPromise = rotation
      try {
        await rotation
      } finally {
        delete internal.timeoutPromise
      }
      this.#forced += 1
      return true
    } catch (err) {
      this.#fail(stream, err)
      return false
    } finally {
      this.#holding = false
      const held = this.#held
      this.#held = []
      for (const line of held) this.write(line)
    }
  }

  /** Resolves when every accepted line has reached the file (or failed). */
  flush(): Promise<void> {
    return this.#whenIdle()
  }

  /** Flushes and closes; later lines are dropped as `closed`. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.flush()
    this.#closed = true
    const stream = this.#stream
    this.#stream = null
    if (!stream || stream.destroyed) return
    await new Promise<void>((resolve) => {
      stream.once('close', resolve)
      stream.once('error', () => resolve())
      stream.end()
    })
  }

  /** The live file and its backups, with their sizes (missing ones left out). */
  async files(): Promise<Array<{ name: string; bytes: number }>> {
    const names = [this.#o.name, ...Array.from({ length: this.#o.backups }, (_, i) => `${this.#o.name}.${i + 1}`)]
    const found = await Promise.all(
      names.map((name) =>
        stat(join(this.#o.dir, name)).then(
          (s) => (s.isFile() ? { name, bytes: s.size } : null),
          () => null,
        ),
      ),
    )
    return found.filter((f): f is { name: string; bytes: number } => f !== null)
  }

  status(): LogFileStatus {
    return {
      file: this.#o.name,
      path: this.path,
      maxBytes: this.#maxBytes,
      backups: this.#o.backups,
      lines: this.#lines,
      bytesWritten: this.#bytes,
      dropped: this.#dropped.failed + this.#dropped.overflow + this.#dropped.closed,
      droppedBy: { ...this.#dropped },
      healthy: !this.#failing,
      lastError: this.#lastError,
      forcedRotations: this.#forced,
    }
  }

  get healthy(): boolean {
    return !this.#failing
  }

  #drop(reason: DropReason): void {
    this.#dropped[reason] += 1
  }

  /** The open stream, a fresh one when a broken file is due for a retry, else null. */
  #usable(): Writable | null {
    if (this.#stream) return this.#stream
    if (this.#brokenAt !== null && this.#o.now() - this.#brokenAt < this.#o.retryMs) return null
    try {
      this.#stream = this.#open()
    } catch (err) {
      // Bad options or a synchronous fs error: treated as any other failure.
      this.#brokenAt = this.#o.now()
      this.#noteFailure(err)
      return null
    }
    return this.#stream
  }

  #open(): Writable {
    const rotate = Math.max(1, this.#o.backups)
    const make = this.#o.createStream ?? defaultStream
    const stream = make({ dir: this.#o.dir, name: this.#o.name, maxBytes: this.#maxBytes, rotate })
    this.#opened = false
    // Never removed: an 'error' without a listener would crash the process.
    stream.on('error', (err: Error) => this.#fail(stream, err))
    stream.on('open', () => {
      if (this.#stream === stream) this.#opened = true
    })
    if (this.#o.backups === 0) {
      // rotating-file-stream always keeps one copy; "no backups" means drop it.
      stream.on('rotated', (rotated: string) => {
        if (rotated) void unlink(rotated).catch(() => {})
      })
    }
    return stream
  }

  #send(stream: Writable, line: string): void {
    this.#inflight += 1
    const bytes = Buffer.byteLength(line)
    try {
      stream.write(line, (err?: Error | null) => {
        this.#inflight -= 1
        if (err) {
          this.#fail(stream, err)
          this.#drop('failed')
        } else {
          this.#lines += 1
          this.#bytes += bytes
          if (this.#failing && this.#stream === stream) this.#recovered()
        }
        if (this.#inflight === 0) this.#releaseIdle()
      })
    } catch (err) {
      // write() itself threw (a stream already ended): the callback will not come.
      this.#inflight -= 1
      this.#fail(stream, err)
      this.#drop('failed')
      if (this.#inflight === 0) this.#releaseIdle()
    }
  }

  #fail(stream: Writable, err: unknown): void {
    if (this.#stream !== stream) return
    this.#stream = null
    this.#brokenAt = this.#o.now()
    if (!stream.destroyed) stream.destroy()
    this.#noteFailure(err)
  }

  #noteFailure(err: unknown): void {
    const e = err as NodeJS.ErrnoException
    this.#lastError = { code: e?.code ?? 'EUNKNOWN', message: e?.message ?? String(err) }
    if (this.#failing) return
    this.#failing = true
    this.#droppedAtFailure = this.status().dropped
    this.#o.onFailure?.({ file: this.#o.name, ...this.#lastError })
  }

  #recovered(): void {
    this.#failing = false
    this.#o.onRecovered?.({ file: this.#o.name, dropped: this.status().dropped - this.#droppedAtFailure })
  }

  #whenOpen(stream: Writable): Promise<void> {
    if (this.#opened) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const onOpen = () => {
        stream.off('error', onError)
        resolve()
      }
      const onError = (err: Error) => {
        stream.off('open', onOpen)
        reject(err)
      }
      stream.once('open', onOpen)
      stream.once('error', onError)
    })
  }

  #whenIdle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve()
    return new Promise<void>((resolve) => this.#idle.push(resolve))
  }

  #releaseIdle(): void {
    const waiting = this.#idle
    this.#idle = []
    for (const resolve of waiting) resolve()
  }
}
