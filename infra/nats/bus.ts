import { randomUUID } from 'node:crypto'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Clock } from '../clock.js'
import type { Logger } from '../logger.js'
import { subjects } from '../subjects.js'
import type { Alert } from '../alerts.js'
import { encodeJson, headersWithTrace, newTraceId } from './codec.js'
import type { MessageOutbox, OutboxStats } from './outbox.js'
import { createOutboxSender, type OutboxSenderOptions, type OutboxSenderStats } from './outboxSender.js'

/** `vigil.<node>.state.<actor>` (DESIGN.md §4). `since` is ISO 8601 wall time. */
export interface StateMessage {
  node: string
  actor: string
  state: string
  since: string
  details: Record<string, unknown>
}

/** `vigil.<node>.alert.<severity>.<source>` (DESIGN.md §4): the alert log's record. */
export type { Alert }

/** What an alert manager hands over; the bus fills what it left out. */
export type AlertInput = Pick<Alert, 'source' | 'severity' | 'code' | 'message'> & {
  id?: string
  node?: string
  /** ISO string or epoch ms. */
  at?: string | number
  count?: number
  details?: Record<string, unknown>
}

export interface PublishOptions {
  /** The trace of the command that caused this message; a new one otherwise. */
  traceId?: string
}

export interface BusStats {
  attached: boolean
  connected: boolean
  /** The server the connection is on (`host:port`), while connected: a fleet's rigs spread over a cluster. */
  server?: string
  published: number
  /** Waiting for a connection right now. */
  buffered: number
  /** Handed to the client, not yet confirmed by the server (a PONG after it). */
  unconfirmed: number
  /** Sent again on a new connection because the old one died before confirming them. */
  resent: number
  /**
   * Sent but no longer kept for a resend: more than the buffer bound went out
   * within one round trip (a burst). Delivered unless that connection dies too.
   */
  unguarded: number
  /** Dropped (oldest first) because the buffer was full. */
  dropped: number
  /** Rejected by the client (e.g. over max_payload); not retried. */
  failed: number
  /** Alerts and events on their way through the on-disk outbox (when the bus has one). */
  outbox?: OutboxStats & OutboxSenderStats
}

export interface AttachOptions {
  /**
   * Runs on the attach and after every reconnect, before what waited goes out (the
   * rig makes sure the JetStream streams exist, so the backlog is stored). Bounded by
   * `resumeTimeoutMs`: live subscribers are not kept waiting on a slow JetStream.
   */
  beforeResume?: () => Promise<unknown>
}

export interface Bus {
  attach(nc: NatsConnection, opts?: AttachOptions): void
  detach(): void
  /**
   * The server this connection talks to is known to be gone or not answering (the
   * embedded one was killed, or missed a liveness probe): queue from now until the
   * client reports its reconnect, or `release()`, instead of writing into a socket the
   * client has not yet seen die, where the message would be lost.
   */
  hold(): void
  /** The server answers again (a probe after a miss): send what `hold()` kept. */
  release(): void
  publishState(actor: string, state: string, details?: Record<string, unknown>, opts?: PublishOptions & { since?: string | number }): void
  publishAlert(alert: AlertInput, opts?: PublishOptions): void
  /** Payload is `{ node, kind, at, ...payload }`; the payload may set its own `at`. */
  publishEvent(kind: string, payload?: Record<string, unknown>, opts?: PublishOptions): void
  /** Resolves when the server has seen everything published so far (no-op when not connected). */
  flush(): Promise<void>
  stats(): BusStats
}

export interface BusOptions {
  node: string
  log: Logger
  clock: Clock
  /** Messages kept while there is no connection; the oldest go first. */
  maxBuffered?: number
  /** Longest wait for `beforeResume` (default 5000 ms). */
  resumeTimeoutMs?: number
  /**
   * Alerts and events go through it (kept on disk until JetStream acks them, or the
   * server confirms them where it runs no JetStream); state stays in the memory buffer:
   * only its last value matters. Without one, all three use the memory buffer.
   */
  outbox?: MessageOutbox
  /** Tuning of the outbox's delivery (window, ack timeout, backoff). */
  outboxSender?: Omit<OutboxSenderOptions, 'outbox' | 'log' | 'now'>
}

interface Outgoing {
  subject: string
  data: Uint8Array
  traceId: string
  /** JetStream's dedup key (`Nats-Msg-Id`): an alert sent twice is stored once. */
  msgId?: string
  sent?: boolean
}

const iso = (at: string | number) => (typeof at === 'number' ? new Date(at).toISOString() : at)

/**
 * The one publisher of state, alerts and events. Callers never see a NATS error:
 * an alert raised while the server is restarting is kept (bounded) and sent when
 * the connection is back, in the order it was raised.
 *
 * At least once: a message handed to the client stays kept until a PING sent after
 * it is answered (the server has read it). A socket that dies or a server that
 * freezes before that loses what was written into it; those messages go out again,
 * first, on the next connection. A subscriber may so see one twice (same alert id);
 * JetStream stores it once (`Nats-Msg-Id`).
 */
export function createBus(opts: BusOptions): Bus {
  const { node, clock } = opts
  const log = opts.log.child({ component: 'bus' })
  const maxBuffered = Math.max(1, opts.maxBuffered ?? 1000)
  const resumeTimeoutMs = opts.resumeTimeoutMs ?? 5000
  const queue: Outgoing[] = []
  // Sent, oldest first, waiting for the server to confirm it read them.
  const unconfirmed: Outgoing[] = []
  // Bumped on each new connection: a confirmation from an older one counts for nothing.
  let epoch = 0
  let confirming = false
  let confirmAgain = false
  const since = new Map<string, { state: string; since: string }>()
  let nc: NatsConnection | undefined
  let connected = false
  let held = false
  let beforeResume: (() => Promise<unknown>) | undefined
  // Non-zero while `beforeResume` runs for the connection (re)made: publishing waits.
  let resuming = 0
  let resumes = 0
  let generation = 0
  let stopStatus: (() => void) | undefined
  const counts = { published: 0, resent: 0, unguarded: 0, dropped: 0, failed: 0 }
  // "Once per burst": the first failure of a run is logged, the rest are counted
  // and summarised when things work again, so a long outage is two lines, not thousands.
  let droppingSince: number | undefined
  let failingSince: number | undefined
  const outbox = opts.outbox
  const sender = outbox ? createOutboxSender({ ...opts.outboxSender, outbox, log, now: () => clock.now() }) : undefined
  // The sender runs while publishing is usable: started once per usable stretch, not per message.
  let senderOn = false
  const stopSender = () => {
    if (!senderOn) return
    senderOn = false
    sender?.stop()
  }

  const usable = () => nc !== undefined && connected && !held && resuming === 0 && !nc.isClosed() && !nc.isDraining()

  function enqueue(msg: Outgoing): void {
    queue.push(msg)
    trim()
  }

  function trim(): void {
    while (queue.length > maxBuffered) {
      queue.shift()
      counts.dropped++
      if (droppingSince === undefined) {
        droppingSince = counts.dropped - 1
        log.warn({ maxBuffered }, 'nats unavailable and publish buffer full: dropping oldest messages')
      }
    }
  }

  /** True when the client took the message; false when it must stay queued. */
  function send(msg: Outgoing): boolean {
    if (!usable()) return false
    try {
      const headers = headersWithTrace(msg.traceId)
      if (msg.msgId) headers.set('Nats-Msg-Id', msg.msgId)
      nc!.publish(msg.subject, msg.data, { headers })
      if (msg.sent) counts.resent++
      else counts.published++
      msg.sent = true
      unconfirmed.push(msg)
      if (unconfirmed.length > maxBuffered) {
        unconfirmed.shift()
        counts.unguarded++
      }
      confirm()
      if (failingSince !== undefined) {
        log.info({ failed: counts.failed - failingSince }, 'nats publishing again')
        failingSince = undefined
      }
      return true
    } catch (err) {
      // The connection closed under us: keep the message for the next connection.
      if (nc!.isClosed() || nc!.isDraining()) return false
      counts.failed++
      if (failingSince === undefined) {
        failingSince = counts.failed - 1
        log.warn({ err, subject: msg.subject }, 'nats publish failed')
      }
      return true
    }
  }

  /**
   * One PING in flight at a time: its PONG confirms everything sent before it. A
   * flush rejected (the connection dropped) or never answered (a frozen server)
   * leaves the messages kept; the next connection sends them again.
   */
  function confirm(): void {
    if (confirming) {
      confirmAgain = true
      return
    }
    const conn = nc
    const last = unconfirmed.at(-1)
    // Not while disconnected: the client would send that PING to the next server,
    // whose PONG says nothing about what the old one read.
    if (!conn || !last || !connected || conn.isClosed()) return
    confirming = true
    const mine = epoch
    conn.flush().then(
      () => {
        if (mine !== epoch) return
        const upTo = unconfirmed.indexOf(last)
        if (upTo >= 0) unconfirmed.splice(0, upTo + 1)
      },
      () => undefined,
    ).finally(() => {
      if (mine !== epoch) return
      confirming = false
      if (confirmAgain) {
        confirmAgain = false
        confirm()
      }
    })
  }

  function forgetPendingConfirm(): void {
    epoch++
    confirming = false
    confirmAgain = false
  }

  /** A new connection: what the old one never confirmed goes out again, ahead of the queue. */
  function resendUnconfirmed(): void {
    forgetPendingConfirm()
    if (unconfirmed.length === 0) return
    queue.unshift(...unconfirmed.splice(0))
    trim()
  }

  /** A connection made or remade: the unconfirmed go out again, after `beforeResume`. */
  function resume(): void {
    resendUnconfirmed()
    const hook = beforeResume
    if (!hook) return drainQueue()
    const id = ++resumes
    resuming = id
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((res) => {
      timer = setTimeout(() => {
        log.warn({ timeoutMs: resumeTimeoutMs }, 'nats: publishing resumed before the reconnect hook finished (JetStream streams may be missing)')
        res()
      }, resumeTimeoutMs)
    })
    void Promise.race([hook().then(() => undefined, (err: unknown) => log.warn({ err }, 'nats: before resuming publishing')), bound]).then(() => {
      clearTimeout(timer)
      if (resuming !== id) return // disconnected or detached meanwhile
      resuming = 0
      drainQueue()
    })
  }

  function drainQueue(): void {
    if (sender && !senderOn && usable()) {
      senderOn = true
      sender.start(nc!)
    }
    while (queue.length > 0) {
      if (!send(queue[0]!)) return
      queue.shift()
    }
    if (droppingSince !== undefined) {
      log.warn({ dropped: counts.dropped - droppingSince }, 'nats publish buffer flushed; messages were dropped while unavailable')
      droppingSince = undefined
    }
  }

  function publish(subject: string, body: unknown, traceId: string | undefined, msgId?: string): void {
    let msg: Outgoing
    try {
      msg = { subject, data: encodeJson(body), traceId: traceId ?? newTraceId(), ...(msgId ? { msgId } : {}) }
    } catch (err) {
      // A circular `details` is a caller bug; it must not take the caller down with it.
      counts.failed++
      log.warn({ err, subject }, 'nats message could not be encoded')
      return
    }
    // Keep order: nothing overtakes what is already waiting.
    if (queue.length > 0 || !send(msg)) enqueue(msg)
    if (queue.length > 0 && usable()) drainQueue()
  }

  /** Alerts and events: through the outbox when there is one, else like state. */
  function keep(subject: string, body: unknown, traceId: string | undefined, msgId: string): void {
    if (!outbox) return publish(subject, body, traceId, msgId)
    let text: string
    try {
      text = JSON.stringify(body)
    } catch (err) {
      counts.failed++
      log.warn({ err, subject }, 'nats message could not be encoded')
      return
    }
    outbox.add({ subject, msgId, traceId: traceId ?? newTraceId(), body: text })
    if (senderOn) sender!.kick()
  }

  function subject<T>(build: () => T): T | undefined {
    try {
      return build()
    } catch (err) {
      counts.failed++
      log.warn({ err }, 'nats message has an invalid subject token')
      return undefined
    }
  }

  async function watch(conn: NatsConnection, gen: number): Promise<void> {
    const status = conn.status() as AsyncIterable<{ type: string }> & { stop?: () => void }
    stopStatus = () => status.stop?.()
    try {
      for await (const s of status) {
        if (gen !== generation) return
        if (s.type === 'disconnect') {
          connected = false
          resuming = 0
          stopSender()
          forgetPendingConfirm()
        } else if (s.type === 'reconnect') {
          connected = true
          // A new server (the restarted one): whatever `hold()` guarded against is over.
          held = false
          resume()
        }
      }
    } catch (err) {
      log.debug({ err }, 'nats status stream ended')
    }
  }

  function detach(): void {
    stopSender()
    generation++
    stopStatus?.()
    stopStatus = undefined
    nc = undefined
    connected = false
    resuming = 0
  }

  return {
    attach(conn, o = {}) {
      detach()
      const gen = ++generation
      nc = conn
      connected = !conn.isClosed()
      held = false
      beforeResume = o.beforeResume
      void watch(conn, gen)
      void conn.closed().then(() => {
        if (gen !== generation) return
        connected = false
        stopSender()
      })
      resume()
    },
    detach,
    hold() {
      // `watch` clears it on the client's next `reconnect`, and drains the queue.
      if (!held) log.debug('nats server not answering: holding publishes')
      held = true
      stopSender()
    },
    release() {
      if (!held) return
      held = false
      log.debug('nats server answers again: publishing what was held')
      drainQueue()
    },
    publishState(actor, state, details = {}, o = {}) {
      const subj = subject(() => subjects.state(node, actor))
      if (!subj) return
      const prev = since.get(actor)
      const at =
        o.since !== undefined ? iso(o.since) : prev && prev.state === state ? prev.since : new Date(clock.now()).toISOString()
      since.set(actor, { state, since: at })
      const body: StateMessage = { node, actor, state, since: at, details }
      publish(subj, body, o.traceId)
    },
    publishAlert(input, o = {}) {
      const subj = subject(() => subjects.alert(node, input.severity, input.source))
      if (!subj) return
      const body: Alert = {
        id: input.id ?? randomUUID(),
        node: input.node ?? node,
        source: input.source,
        severity: input.severity,
        code: input.code,
        message: input.message,
        at: iso(input.at ?? clock.now()),
        count: input.count ?? 1,
        details: input.details ?? {},
      }
      // A repeat of an alert (count > 1) is a new message: the id alone would be deduplicated away.
      keep(subj, body, o.traceId, `${body.id}:${body.count}`)
    },
    publishEvent(kind, payload = {}, o = {}) {
      const subj = subject(() => subjects.event(node, kind))
      if (!subj) return
      // Every event carries an id (receivers dedupe by it; JetStream by its `Nats-Msg-Id`).
      const id = typeof payload['id'] === 'string' ? payload['id'] : randomUUID()
      keep(subj, { node, kind, at: new Date(clock.now()).toISOString(), ...payload, id }, o.traceId, id)
    },
    async flush() {
      // What is in flight through the outbox gets a moment for its ack; what is not stays on disk.
      if (senderOn) await sender!.settle(2000)
      if (!usable()) return
      try {
        await nc!.flush()
      } catch (err) {
        log.debug({ err }, 'nats flush failed')
      }
    },
    stats() {
      const base = {
        attached: nc !== undefined,
        connected: usable(),
        ...(nc !== undefined && usable() ? { server: nc.getServer() } : {}),
        buffered: queue.length,
        unconfirmed: unconfirmed.length,
        ...counts,
      }
      if (!outbox || !sender) return base
      const box = { ...outbox.stats(), ...sender.stats() }
      return {
        ...base,
        buffered: base.buffered + box.pending - box.inFlight,
        unconfirmed: base.unconfirmed + box.inFlight,
        published: base.published + box.sent,
        resent: base.resent + box.resent,
        dropped: base.dropped + box.dropped,
        failed: base.failed + box.failed,
        outbox: box,
      }
    },
  }
}
