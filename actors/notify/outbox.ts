import { mkdirSync, readdirSync, unlinkSync } from 'node:fs'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../infra/logger.js'
import type { LaneEntry } from '../../machines/notifyLane.machine.js'
import type { NotifyOutboxEvent, OutboxSnapshot } from '../../machines/notify.machine.js'
import type { RenderedDelivery } from './message.js'

/** One pending delivery as kept on disk: what to send, not how to sign it (the secret stays in the config). */
export interface StoredDelivery extends RenderedDelivery {
  v: 1
  receiver: string
  id: string
  kind: string
  createdAt: number
}

export interface NotifyOutboxOptions {
  dir: string
  /** Receiver keys of the config: entries for any other (a receiver since removed or changed) are deleted at load. */
  receivers: string[]
  maxPending: number
  now(): number
  log: Logger
  /** The oldest entry was dropped to make room (called for each; the caller aggregates the alert). */
  onOverflow(dropped: { receiver: string; id: string; kind: string }): void
}

// <seq>-<createdAt>-<receiver>[-q].json: the order, the retry window's start and the lane
// are in the name, so loading 10 000 entries is one readdir, no file read.
const NAME = /^(\d{12})-(\d{1,15})-([a-z0-9]{1,32})(-q)?\.json$/
const TMP_PREFIX = '.tmp-'

interface Pending {
  entry: LaneEntry
  receiver: string
  /** Entries made in this process are sent from memory; loaded ones are read back from their file. */
  delivery: StoredDelivery | null
  written: Promise<void>
}

/**
 * The webhooks' outbox under `<data>/notify/outbox`: one file per pending delivery,
 * written to a temp name, flushed, then renamed (a crash leaves the old state or the
 * new, never half a file); removed once delivered or dropped. Kept in memory too, so
 * adding never waits for the disk (a full or slow disk never holds the alert path) and
 * the order is the order of `add`. Bounded: past `maxPending` the oldest is dropped.
 */
export class NotifyOutbox {
  readonly #o: NotifyOutboxOptions
  readonly #pending = new Map<string, Pending>()
  readonly #listeners = new Set<(e: NotifyOutboxEvent) => void>()
  #seq = 0
  #writeFailures = 0

  constructor(opts: NotifyOutboxOptions) {
    this.#o = opts
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 })
    const known = new Set(opts.receivers)
    let orphans = 0
    for (const file of readdirSync(opts.dir).sort()) {
      const m = NAME.exec(file)
      if (!m) {
        // A temp file is a write the last run did not finish: that entry was never added.
        if (file.startsWith(TMP_PREFIX)) this.#unlinkQuietly(file)
        continue
      }
      this.#seq = Math.max(this.#seq, Number(m[1]))
      if (!known.has(m[3]!)) {
        orphans += 1
        this.#unlinkQuietly(file)
        continue
      }
      this.#pending.set(file, { entry: { name: file, createdAt: Number(m[2]), quiet: m[4] === '-q' }, receiver: m[3]!, delivery: null, written: Promise.resolve() })
    }
    if (orphans > 0) opts.log.warn({ orphans }, 'notify outbox: dropped deliveries for webhooks no longer configured')
    if (this.#pending.size > 0) opts.log.info({ pending: this.#pending.size }, 'notify outbox: resuming pending deliveries')
  }

  get size(): number {
    return this.#pending.size
  }

  countFor(receiver: string): number {
    let n = 0
    for (const p of this.#pending.values()) if (p.receiver === receiver) n += 1
    return n
  }

  /** Queues a delivery now (memory) and on disk (soon); returns its entry. */
  add(receiver: string, delivery: Omit<StoredDelivery, 'v' | 'receiver' | 'createdAt'>, quiet: boolean): LaneEntry {
    while (this.#pending.size >= this.#o.maxPending) this.#dropOldest()
    const createdAt = this.#o.now()
    this.#seq += 1
    const name = `${String(this.#seq).padStart(12, '0')}-${createdAt}-${receiver}${quiet ? '-q' : ''}.json`
    const stored: StoredDelivery = { v: 1, receiver, createdAt, ...delivery }
    const entry: LaneEntry = { name, createdAt, quiet }
    const written = this.#write(name, JSON.stringify(stored))
    this.#pending.set(name, { entry, receiver, delivery: stored, written })
    this.#emit({ type: 'ENQUEUED', receiver, entry })
    return entry
  }

  /** What to send for an entry; null when it is gone (dropped by an overflow, or unreadable: then removed). */
  async read(name: string): Promise<StoredDelivery | null> {
    const p = this.#pending.get(name)
    if (!p) return null
    if (p.delivery) return p.delivery
    try {
      const parsed = JSON.parse(await readFile(join(this.#o.dir, name), 'utf8')) as StoredDelivery
      if (parsed.v !== 1 || typeof parsed.body !== 'string' || typeof parsed.headers !== 'object') throw new Error('not an outbox entry')
      return parsed
    } catch (err) {
      this.#o.log.warn({ err, file: name }, 'notify outbox: unreadable entry dropped')
      await this.remove(name)
      return null
    }
  }

  /** Delivered or given up: off the list, then off the disk (after its write, so no file comes back). */
  async remove(name: string): Promise<void> {
    const p = this.#pending.get(name)
    if (!p) return
    this.#pending.delete(name)
    await p.written
    await unlink(join(this.#o.dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.#o.log.warn({ err, file: name }, 'notify outbox: cannot remove a finished entry (it may be sent again after a restart)')
    })
  }

  /** Every pending entry by receiver, oldest first, and the newest name (for `after`). */
  snapshot(): OutboxSnapshot {
    const pending: Record<string, LaneEntry[]> = {}
    let after = ''
    for (const p of this.#pending.values()) {
      ;(pending[p.receiver] ??= []).push(p.entry)
      after = p.entry.name
    }
    return { pending, after }
  }

  /** Pending entries newer than `after` (added between a snapshot and a subscription). */
  since(after: string): Array<{ receiver: string; entry: LaneEntry }> {
    return [...this.#pending.values()].filter((p) => p.entry.name > after).map((p) => ({ receiver: p.receiver, entry: p.entry }))
  }

  subscribe(listener: (e: NotifyOutboxEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves once every write begun so far has reached the disk (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending.values()].map((p) => p.written))
  }

  #emit(e: NotifyOutboxEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e)
      } catch (err) {
        this.#o.log.warn({ err }, 'notify outbox: a listener failed')
      }
    }
  }

  #dropOldest(): void {
    const [name, p] = this.#pending.entries().next().value as [string, Pending]
    void this.remove(name)
    this.#emit({ type: 'DISCARDED', receiver: p.receiver, name })
    this.#o.onOverflow({ receiver: p.receiver, id: p.delivery?.id ?? '', kind: p.delivery?.kind ?? '' })
  }

  async #write(name: string, text: string): Promise<void> {
    const tmp = join(this.#o.dir, `${TMP_PREFIX}${name}`)
    try {
      const fh = await open(tmp, 'w', 0o600)
      try {
        await fh.writeFile(text)
        await fh.datasync()
      } finally {
        await fh.close()
      }
      await rename(tmp, join(this.#o.dir, name))
    } catch (err) {
      // Still sent from memory in this run; only a restart before delivery loses it.
      this.#writeFailures += 1
      if (this.#writeFailures === 1 || this.#writeFailures % 100 === 0) {
        this.#o.log.warn({ err, failures: this.#writeFailures }, 'notify outbox: cannot write an entry (disk full?); it is kept in memory only')
      }
      await unlink(tmp).catch(() => {})
    }
  }

  #unlinkQuietly(file: string): void {
    try {
      unlinkSync(join(this.#o.dir, file))
    } catch {
      // Gone already, or not ours to remove: loading goes on without it.
    }
  }
}
