import { createHash } from 'node:crypto'
import { appendFile, rename, writeFile } from 'node:fs/promises'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, basename } from 'node:path'
import type { Logger } from '../logger.js'

/**
 * The ok replies of commands sent with an idempotency key (DESIGN.md §9.5), kept 24 h so a
 * client that lost the reply (a dropped link, a rig restart in between) gets the same reply
 * on its retry instead of a second run: a second session, a second delete.
 *
 * On disk: `<data>/commands/idempotency.jsonl`, one JSON line per kept reply, appended
 * (O_APPEND, 0600). Append-only, not a rewritten JSON file, because every mutating command
 * with a key adds one entry: rewriting the whole store on each would cost the command path
 * a write of the store's size. A torn last line (a crash mid-append) is skipped at load.
 * The file is compacted (live entries written to a temp file, flushed, renamed over it, so
 * a crash leaves the old file or the new, never half of one) at load and whenever dead
 * lines (expired, evicted) outnumber the live ones. Not fsynced per append: a process
 * crash or restart keeps the line (the kernel has it); only a power cut in the same
 * instant can lose it, and then the retry runs again, which is what a client without a
 * key would get anyway.
 *
 * Bounded: entries older than `ttlMs` are dropped, a reply larger than `maxEntryBytes` is
 * not kept (logged; its retry runs again), and past `maxBytes` in all the oldest go first.
 * Only ok replies are kept (the caller decides): an error is worth retrying.
 */

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

export interface KeptReply {
  /** `<actor>.<verb>`: a key is scoped to the command it was sent with. */
  scope: string
  key: string
  /** Digest of the validated args: the same key with other args is a client bug, refused. */
  argsDigest: string
  at: number
  result: unknown
}

export interface IdempotencyStore {
  get(scope: string, key: string): KeptReply | undefined
  /** Resolves once the entry is on disk (or the write failed, which is logged): never rejects. */
  put(entry: Omit<KeptReply, 'at'>): Promise<void>
  readonly size: number
}

export interface IdempotencyStoreOptions {
  /** The jsonl file; absent: memory only (tests, tools that embed a router). */
  file?: string
  now(): number
  log: Logger
  ttlMs?: number
  maxEntryBytes?: number
  maxBytes?: number
}

/** Canonical JSON (keys sorted at every level), hashed: `{a,b}` and `{b,a}` are the same args. */
export function argsDigest(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args)).digest('hex').slice(0, 32)
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

interface Line extends KeptReply {
  v: 1
}

const FILE_MODE = 0o600

export function createIdempotencyStore(opts: IdempotencyStoreOptions): IdempotencyStore {
  const ttlMs = opts.ttlMs ?? IDEMPOTENCY_TTL_MS
  const maxEntryBytes = opts.maxEntryBytes ?? 16 * 1024
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024
  const log = opts.log.child({ component: 'idempotency' })
  const file = opts.file
  // Insertion order is age order: an entry is put once (a retry is answered from it, not re-put).
  const entries = new Map<string, { entry: KeptReply; bytes: number }>()
  let totalBytes = 0
  let linesOnDisk = 0
  // Appends and compactions in order: a compaction never races an append it would lose.
  let writes: Promise<void> = Promise.resolve()
  let warnedWrite = false

  const id = (scope: string, key: string) => `${scope}\u0000${key}`
  const lineOf = (entry: KeptReply) => `${JSON.stringify({ v: 1, ...entry } satisfies Line)}\n`

  function remember(entry: KeptReply, bytes: number): void {
    const k = id(entry.scope, entry.key)
    const old = entries.get(k)
    if (old) {
      totalBytes -= old.bytes
      entries.delete(k)
    }
    entries.set(k, { entry, bytes })
    totalBytes += bytes
  }

  /** Drops expired entries and, past maxBytes, the oldest. Returns how many went. */
  function prune(): number {
    const oldest = opts.now() - ttlMs
    let dropped = 0
    for (const [k, e] of entries) {
      if (e.entry.at >= oldest && totalBytes <= maxBytes) break
      entries.delete(k)
      totalBytes -= e.bytes
      dropped += 1
    }
    return dropped
  }

  function compactedText(): string {
    return [...entries.values()].map((e) => lineOf(e.entry)).join('')
  }

  if (file) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, file }, 'idempotency store unreadable: starting empty (retries of earlier commands run again)')
    }
    let bad = 0
    for (const raw of text.split('\n')) {
      if (raw === '') continue
      linesOnDisk += 1
      try {
        const l = JSON.parse(raw) as Line
        if (l.v !== 1 || typeof l.scope !== 'string' || typeof l.key !== 'string' || typeof l.argsDigest !== 'string' || typeof l.at !== 'number') throw new Error('not an entry')
        remember({ scope: l.scope, key: l.key, argsDigest: l.argsDigest, at: l.at, result: l.result }, Buffer.byteLength(raw) + 1)
      } catch {
        bad += 1
      }
    }
    prune()
    if (bad > 0) log.warn({ file, bad }, 'idempotency store: skipped unreadable lines (a write cut short by a crash)')
    if (linesOnDisk !== entries.size) {
      try {
        const tmp = join(dirname(file), `.${basename(file)}.tmp`)
        writeFileSync(tmp, compactedText(), { mode: FILE_MODE })
        renameSync(tmp, file)
        linesOnDisk = entries.size
      } catch (err) {
        log.warn({ err, file }, 'idempotency store: compaction failed; it is tried again later')
      }
    }
    log.info({ file, entries: entries.size }, 'idempotency store loaded')
  }

  function writeFailed(err: unknown): void {
    // A full or read-only disk must not fail the command that succeeded: it is kept in memory.
    if (!warnedWrite) log.warn({ err, file }, 'idempotency store: cannot write (disk full?); keys are kept in memory only until it can')
    warnedWrite = true
  }

  async function compact(path: string): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.tmp`)
    const text = compactedText()
    const count = entries.size
    await writeFile(tmp, text, { mode: FILE_MODE, flush: true })
    await rename(tmp, path)
    linesOnDisk = count
  }

  return {
    get(scope, key) {
      const e = entries.get(id(scope, key))
      if (!e) return undefined
      if (e.entry.at < opts.now() - ttlMs) {
        entries.delete(id(scope, key))
        totalBytes -= e.bytes
        return undefined
      }
      return e.entry
    },
    put(input) {
      const entry: KeptReply = { ...input, at: opts.now() }
      const line = lineOf(entry)
      const bytes = Buffer.byteLength(line)
      if (bytes > maxEntryBytes) {
        log.warn({ scope: entry.scope, bytes, limit: maxEntryBytes }, 'idempotency store: reply too large to keep; a retry with its key runs again')
        return Promise.resolve()
      }
      remember(entry, bytes)
      prune()
      if (!file) return Promise.resolve()
      const path = file
      writes = writes
        .then(async () => {
          await appendFile(path, line, { mode: FILE_MODE })
          linesOnDisk += 1
          warnedWrite = false
          if (linesOnDisk > 2 * entries.size + 64) await compact(path)
        })
        .catch(writeFailed)
      return writes
    },
    get size() {
      return entries.size
    },
  }
}
