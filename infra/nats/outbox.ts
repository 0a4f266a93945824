import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../logger.js'

/** One message waiting for the server to take it (JetStream's ack, or the server's PONG). */
export interface OutboxRecord {
  seq: number
  subject: string
  /** `Nats-Msg-Id`: the same on every resend, also after a restart, so JetStream stores it once. */
  msgId: string
  traceId: string
  /** The JSON body as sent. */
  body: string
  /** Epoch ms it was raised. */
  at: number
  /** Its line's length on disk (the bound counts these). */
  bytes: number
}

export interface OutboxOptions {
  /** `<data>/outbox`: made 0700; the log file 0600. */
  dir: string
  /** Past either bound the oldest messages are dropped (counted, logged once per run). */
  maxMessages: number
  maxBytes: number
  log: Logger
  now(): number
  /** Dead lines (delivered or dropped) before a compaction is considered (default 1000). */
  compactAfter?: number
}

export interface OutboxStats {
  pending: number
  bytes: number
  dropped: number
  /** Batches written and fsynced: one per burst, not one per message. */
  syncs: number
  compactions: number
  /** Lines at load that could not be read (a write cut by a crash); skipped. */
  unreadable: number
  writeFailures: number
}

/** A run of drops begins (the bound reached) or ends (back under half of it). */
export type OutboxDrops = { phase: 'started'; maxMessages: number; maxBytes: number } | { phase: 'ended'; dropped: number }

const FILE = 'outbox.jsonl'
const HEADER = JSON.stringify({ v: 1 })

/**
 * Alerts and events not yet taken by the server, on disk so they survive a rig restart
 * (DESIGN.md §9.4). One append-only JSON-lines file under `<data>/outbox/`:
 *
 *   {"v":1}                                                        header
 *   {"p":7,"s":"vigil.a.alert…","m":"<id>:1","t":"<trace>","b":"{…}","a":1760000000000}   put
 *   {"d":[5,6,7]}                                                  done (delivered or dropped)
 *
 * Appends are batched: everything added or finished within one turn of the event loop
 * goes out in one write and one fdatasync, so a burst of 1000 alerts costs a handful of
 * syncs, and adding never waits for the disk (a slow or full disk never holds the alert
 * path; the messages are kept in memory meanwhile). A line cut by a crash is skipped at
 * load. Once dead lines outnumber live ones the file is rewritten (temp file, fsync,
 * rename): it stays within about twice the bound.
 */
export class MessageOutbox {
  readonly #o: OutboxOptions
  readonly #path: string
  readonly #records = new Map<number, OutboxRecord>()
  readonly #compactAfter: number
  #fh: FileHandle | undefined
  #seq = 0
  #bytes = 0
  #dead = 0
  #lines: string[] = []
  // Finished since the last write: one `done` line for a burst of acks.
  #doneBuf: number[] = []
  #writing: Promise<void> | undefined
  #scheduled = false
  #closed = false
  #droppingSince: number | undefined
  #failing = false
  #dropListener: ((d: OutboxDrops) => void) | undefined
  readonly #stats = { dropped: 0, syncs: 0, compactions: 0, unreadable: 0, writeFailures: 0 }

  private constructor(o: OutboxOptions) {
    this.#o = o
    this.#path = join(o.dir, FILE)
    this.#compactAfter = o.compactAfter ?? 1000
  }

  /**
   * Reads what the last run left (oldest first), compacts it, and opens the file for appends.
   * Never throws: a dir it cannot use (read-only, full, a file in the way) leaves the outbox
   * in memory only, said once; the rig starts anyway, like with an unwritable log dir.
   */
  static async open(o: OutboxOptions): Promise<MessageOutbox> {
    const box = new MessageOutbox(o)
    try {
      await mkdir(o.dir, { recursive: true, mode: 0o700 })
      await box.#load()
    } catch (err) {
      box.#stats.writeFailures++
      box.#failing = true
      o.log.warn({ err, dir: o.dir }, 'outbox: cannot use its dir (alerts and events are kept in memory only until it can)')
    }
    return box
  }

  async #load(): Promise<void> {
    let text = ''
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    for (const line of text.split('\n')) {
      if (line === '' || line === HEADER) continue
      let rec: { p?: unknown; s?: unknown; m?: unknown; t?: unknown; b?: unknown; a?: unknown; d?: unknown }
      try {
        rec = JSON.parse(line) as typeof rec
      } catch {
        this.#stats.unreadable++
        continue
      }
      if (Array.isArray(rec.d)) {
        for (const seq of rec.d) if (typeof seq === 'number') this.#forget(seq)
      } else if (typeof rec.p === 'number' && typeof rec.s === 'string' && typeof rec.m === 'string' && typeof rec.b === 'string') {
        this.#seq = Math.max(this.#seq, rec.p)
        this.#keep({ seq: rec.p, subject: rec.s, msgId: rec.m, traceId: typeof rec.t === 'string' ? rec.t : '', body: rec.b, at: typeof rec.a === 'number' ? rec.a : 0, bytes: line.length + 1 })
      } else this.#stats.unreadable++
    }
    if (this.#stats.unreadable > 0) this.#o.log.warn({ unreadable: this.#stats.unreadable }, 'outbox: skipped unreadable lines (a write cut by a crash)')
    if (this.#records.size > 0) this.#o.log.info({ pending: this.#records.size }, 'outbox: alerts and events from the last run, sending them')
    this.#trim()
    // Start from a clean file: the header and what is still owed.
    await this.#rewrite()
  }

  get size(): number {
    return this.#records.size
  }

  /** Pending records, oldest first (the order they were raised). */
  pending(): IterableIterator<OutboxRecord> {
    return this.#records.values()
  }

  has(seq: number): boolean {
    return this.#records.has(seq)
  }

  stats(): OutboxStats {
    return { pending: this.#records.size, bytes: this.#bytes, ...this.#stats }
  }

  /**
   * Told when a run of drops begins and when it ends, instead of the log (the rig raises
   * alerts: they are logged there). Set after open: a trim at load is only logged.
   */
  onDrops(listener: (d: OutboxDrops) => void): void {
    this.#dropListener = listener
  }

  /** Keeps a message now (memory) and on disk within this turn's batch. */
  add(msg: Omit<OutboxRecord, 'seq' | 'bytes' | 'at'> & { at?: number }): OutboxRecord {
    const seq = ++this.#seq
    const at = msg.at ?? this.#o.now()
    const line = JSON.stringify({ p: seq, s: msg.subject, m: msg.msgId, t: msg.traceId, b: msg.body, a: at })
    const rec: OutboxRecord = { seq, subject: msg.subject, msgId: msg.msgId, traceId: msg.traceId, body: msg.body, at, bytes: line.length + 1 }
    this.#keep(rec)
    this.#append(line)
    this.#trim()
    return rec
  }

  /** Taken by the server (or given up on): off the list, and a `done` line in this turn's batch. */
  done(seqs: readonly number[]): void {
    const gone = seqs.filter((s) => this.#forget(s))
    if (gone.length > 0) this.#dropsMaybeEnded()
    if (gone.length === 0 || this.#closed) return
    this.#doneBuf.push(...gone)
    this.#schedule()
  }

  /** Resolves once everything added or finished so far is on disk (or its write failed). */
  async synced(): Promise<void> {
    while (this.#writing || this.#lines.length > 0 || this.#doneBuf.length > 0) await (this.#writing ?? this.#flush())
  }

  async close(): Promise<void> {
    await this.synced()
    this.#closed = true
    await this.#fh?.close().catch(() => undefined)
    this.#fh = undefined
  }

  #keep(rec: OutboxRecord): void {
    this.#records.set(rec.seq, rec)
    this.#bytes += rec.bytes
  }

  #forget(seq: number): boolean {
    const rec = this.#records.get(seq)
    if (!rec) return false
    this.#records.delete(seq)
    this.#bytes -= rec.bytes
    this.#dead++
    return true
  }

  /** The oldest go first past either bound; counted, and said once per run of drops. */
  #trim(): void {
    const dropped: number[] = []
    let count = this.#records.size
    let bytes = this.#bytes
    for (const rec of this.#records.values()) {
      if (count <= this.#o.maxMessages && bytes <= this.#o.maxBytes) break
      dropped.push(rec.seq)
      count--
      bytes -= rec.bytes
    }
    if (dropped.length === 0) {
      this.#dropsMaybeEnded()
      return
    }
    for (const seq of dropped) this.#forget(seq)
    const started = this.#droppingSince === undefined
    if (started) this.#droppingSince = this.#stats.dropped
    this.#stats.dropped += dropped.length
    // At load the rewrite that follows leaves them out; otherwise a `done` line says so.
    this.#append(JSON.stringify({ d: dropped }))
    if (!started) return
    const { maxMessages, maxBytes } = this.#o
    if (this.#dropListener) this.#dropListener({ phase: 'started', maxMessages, maxBytes })
    else this.#o.log.warn({ maxMessages, maxBytes }, 'outbox full (no server has taken alerts and events for a while): dropping the oldest')
  }

  /** A run of drops ends once the outbox is back under half its bound (so a full one does not flap). */
  #dropsMaybeEnded(): void {
    if (this.#droppingSince === undefined || this.#records.size > this.#o.maxMessages / 2 || this.#bytes > this.#o.maxBytes / 2) return
    const dropped = this.#stats.dropped - this.#droppingSince
    this.#droppingSince = undefined
    if (this.#dropListener) this.#dropListener({ phase: 'ended', dropped })
    else this.#o.log.warn({ dropped }, 'outbox: below its bound again; the oldest alerts and events were dropped meanwhile')
  }

  #append(line: string): void {
    if (this.#closed) return
    this.#lines.push(line)
    this.#schedule()
  }

  /** One batch per turn: a burst raised in one tick is one write and one sync. */
  #schedule(): void {
    if (this.#scheduled || this.#writing) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#flush()
    })
  }

  #flush(): Promise<void> {
    this.#writing ??= (async () => {
      while ((this.#lines.length > 0 || this.#doneBuf.length > 0) && !this.#closed) {
        if (this.#doneBuf.length > 0) {
          this.#lines.push(JSON.stringify({ d: this.#doneBuf }))
          this.#doneBuf = []
        }
        const batch = this.#lines
        this.#lines = []
        try {
          this.#fh ??= await open(this.#path, 'a', 0o600)
          await this.#fh.write(batch.join('\n') + '\n')
          await this.#fh.datasync()
          this.#stats.syncs++
          if (this.#failing) {
            this.#failing = false
            this.#o.log.info('outbox: writing to disk again')
            // What failed to be written is lost from the file, not from memory: write a clean file.
            await this.#rewrite()
          }
        } catch (err) {
          this.#stats.writeFailures++
          if (!this.#failing) this.#o.log.warn({ err, file: this.#path }, 'outbox: cannot write (alerts and events are kept in memory only until it can)')
          this.#failing = true
          await this.#fh?.close().catch(() => undefined)
          this.#fh = undefined
          break
        }
        if (this.#dead >= this.#compactAfter && this.#dead > this.#records.size) await this.#rewrite()
      }
    })().finally(() => {
      this.#writing = undefined
      // After a failed write the next add or done tries again.
      if ((this.#lines.length > 0 || this.#doneBuf.length > 0) && !this.#closed && !this.#failing) this.#schedule()
    })
    return this.#writing
  }

  /** The header and the live records into a temp file, synced, renamed over the log (a crash leaves one or the other). */
  async #rewrite(): Promise<void> {
    const tmp = `${this.#path}.tmp`
    const lines = [HEADER]
    for (const r of this.#records.values()) lines.push(JSON.stringify({ p: r.seq, s: r.subject, m: r.msgId, t: r.traceId, b: r.body, a: r.at }))
    // Lines queued before this point describe records already reflected above.
    this.#lines = []
    this.#doneBuf = []
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.write(lines.join('\n') + '\n')
      await fh.sync()
    } finally {
      await fh.close()
    }
    await this.#fh?.close().catch(() => undefined)
    this.#fh = undefined
    await rename(tmp, this.#path)
    const dir = await open(this.#o.dir, 'r')
    await dir.sync().catch(() => undefined)
    await dir.close()
    this.#fh = await open(this.#path, 'a', 0o600)
    this.#dead = 0
    this.#stats.compactions++
  }
}
