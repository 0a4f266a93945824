import { jetstream, type JetStreamClient } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '../logger.js'
import { headersWithTrace } from './codec.js'
import type { MessageOutbox, OutboxRecord } from './outbox.js'

export interface OutboxSenderOptions {
  outbox: MessageOutbox
  log: Logger
  now(): number
  /** Messages handed over and not yet confirmed, at most (default 256). */
  window?: number
  /** Wait for one JetStream ack (default 2000 ms; an ack under load comes in well under 100 ms). */
  ackTimeoutMs?: number
  /** First pause after a publish JetStream did not take; doubles up to `retryMaxMs` (250, 500): only one message probes, so a short pause costs little and ends the election's pause sooner. */
  retryMs?: number
  retryMaxMs?: number
  /** Said once (warning) when JetStream has taken nothing for this long while connected (default 60 000). */
  warnAfterMs?: number
}

export interface OutboxSenderStats {
  /** Handed to the client for the first time. */
  sent: number
  /** Handed over again: JetStream did not take it, or the connection went before it confirmed. */
  resent: number
  /** Confirmed: a JetStream ack, or (no JetStream on the server) the server's PONG. */
  confirmed: number
  /** Of the acks, how many JetStream recognised as already stored (`Nats-Msg-Id`). */
  duplicates: number
  /** Refused for good (e.g. a JetStream limit); dropped, logged once per run. */
  failed: number
  inFlight: number
}

export interface OutboxSender {
  /** A usable connection: send what waits, oldest first. */
  start(nc: NatsConnection): void
  /** No usable connection (disconnect, hold, detach): stop; what was in flight goes again after `start`. */
  stop(): void
  /** Something was added. */
  kick(): void
  /** Resolves when nothing is in flight, or after `timeoutMs`. */
  settle(timeoutMs: number): Promise<void>
  stats(): OutboxSenderStats
}

/** The stream has no leader (an election, or no quorum), or the server is slow: worth trying again. */
function retryable(err: unknown): boolean {
  const e = err as { name?: string; status?: number } | null
  if (e?.name === 'JetStreamApiError') return (e.status ?? 0) >= 500
  return e?.name !== 'JetStreamError'
}

/**
 * Delivers the outbox (DESIGN.md §9.4). With JetStream on the server, a message is done
 * when JetStream acks it (`js.publish` with its `Nats-Msg-Id`: a resend is stored once);
 * a 503 "no responders" (the stream's leader was killed: 4.6–7.7 s on 2.9.10 until the
 * election ends) or a timeout pauses sending with backoff, and only the oldest message
 * probes until one is taken, so an election costs a few resends, not a window of them.
 * Without JetStream (an embedded server without `-js`), a message is done once a PING
 * sent after it is answered: the server has read it.
 */
export function createOutboxSender(o: OutboxSenderOptions): OutboxSender {
  const { outbox, now } = o
  const log = o.log.child({ component: 'outbox' })
  const window = Math.max(1, o.window ?? 256)
  const ackTimeoutMs = o.ackTimeoutMs ?? 2000
  const firstRetryMs = o.retryMs ?? 250
  const retryMaxMs = o.retryMaxMs ?? 500
  const warnAfterMs = o.warnAfterMs ?? 60_000
  const encoder = new TextEncoder()
  const stats = { sent: 0, resent: 0, confirmed: 0, duplicates: 0, failed: 0 }
  // seq → the connection epoch it was sent on: an answer from an older one frees nothing.
  const inFlight = new Map<number, number>()
  const tried = new WeakSet<OutboxRecord>()
  let nc: NatsConnection | undefined
  let js: JetStreamClient | undefined
  let epoch = 0
  let failingSince: number | undefined
  let warned = false
  let pausedUntil = 0
  let retryMs = firstRetryMs
  let timer: NodeJS.Timeout | undefined
  let giveUpLogged = false
  let settleWaiters: Array<() => void> = []
  // Off the outbox's list at once (so the next pump does not send it again); its
  // `done` line joins the outbox's next batched write.
  const markDone = (seq: number) => outbox.done([seq])

  function release(seq: number, mine: number): void {
    if (inFlight.get(seq) === mine) inFlight.delete(seq)
    if (inFlight.size === 0 && settleWaiters.length > 0) {
      const w = settleWaiters
      settleWaiters = []
      for (const f of w) f()
    }
  }

  function pump(): void {
    if (!nc || nc.isClosed()) return
    const wait = pausedUntil - now()
    if (wait > 0) {
      clearTimeout(timer)
      timer = setTimeout(pump, wait)
      return
    }
    // While JetStream is not taking anything, one probe at a time (the oldest).
    const limit = failingSince === undefined ? window : 1
    for (const rec of outbox.pending()) {
      if (inFlight.size >= limit) break
      if (inFlight.has(rec.seq)) continue
      send(rec)
      if (!nc) break
    }
  }

  function send(rec: OutboxRecord): void {
    const conn = nc!
    const mine = epoch
    const headers = headersWithTrace(rec.traceId)
    const data = encoder.encode(rec.body)
    if (tried.has(rec)) stats.resent++
    else {
      stats.sent++
      tried.add(rec)
    }
    inFlight.set(rec.seq, mine)
    if (js) {
      js.publish(rec.subject, data, { msgID: rec.msgId, headers, timeout: ackTimeoutMs }).then(
        (ack) => {
          stats.confirmed++
          if (ack.duplicate) stats.duplicates++
          markDone(rec.seq)
          release(rec.seq, mine)
          if (mine === epoch && failingSince !== undefined) {
            log.info({ pausedMs: now() - failingSince, pending: outbox.size }, 'JetStream takes alerts and events again')
            failingSince = undefined
            warned = false
            retryMs = firstRetryMs
          }
          if (mine === epoch) pump()
        },
        (err: unknown) => {
          release(rec.seq, mine)
          if (mine !== epoch) return // that connection is gone; `start` sends it again
          if (!retryable(err)) return giveUp(rec, err)
          const at = now()
          if (failingSince === undefined) {
            failingSince = at
            log.debug({ err, subject: rec.subject }, 'JetStream did not take a message: retrying with backoff')
          } else if (!warned && at - failingSince >= warnAfterMs) {
            warned = true
            log.warn({ err, failingMs: at - failingSince, pending: outbox.size }, 'JetStream has taken no alert or event for a while (no stream leader or no quorum; or no stream: run vigil fleet init): kept in the outbox')
          }
          if (at >= pausedUntil) {
            pausedUntil = at + retryMs
            retryMs = Math.min(retryMs * 2, retryMaxMs)
          }
          pump()
        },
      )
      return
    }
    try {
      headers.set('Nats-Msg-Id', rec.msgId)
      conn.publish(rec.subject, data, { headers })
    } catch (err) {
      release(rec.seq, mine)
      // The connection closed under us: `start` on the next one sends it again.
      if (conn.isClosed() || conn.isDraining()) return
      return giveUp(rec, err)
    }
    // The PONG to a PING sent after it: the server has read it.
    conn.flush().then(
      () => {
        if (mine !== epoch) return
        stats.confirmed++
        markDone(rec.seq)
        release(rec.seq, mine)
        pump()
      },
      () => release(rec.seq, mine),
    )
  }

  function giveUp(rec: OutboxRecord, err: unknown): void {
    stats.failed++
    if (!giveUpLogged) {
      giveUpLogged = true
      log.warn({ err, subject: rec.subject }, 'outbox: a message was refused for good (not retried)')
    }
    markDone(rec.seq)
    pump()
  }

  return {
    start(conn) {
      epoch++
      inFlight.clear()
      nc = conn
      // The server's INFO says whether JetStream runs there; a reconnect may land elsewhere.
      js = conn.info?.jetstream ? jetstream(conn, { timeout: ackTimeoutMs }) : undefined
      pausedUntil = 0
      retryMs = firstRetryMs
      giveUpLogged = false
      pump()
    },
    stop() {
      epoch++
      nc = undefined
      js = undefined
      clearTimeout(timer)
      inFlight.clear()
      const w = settleWaiters
      settleWaiters = []
      for (const f of w) f()
    },
    kick() {
      if (nc && inFlight.size < (failingSince === undefined ? window : 1)) pump()
    },
    settle(timeoutMs) {
      if (inFlight.size === 0) return Promise.resolve()
      return new Promise<void>((res) => {
        const t = setTimeout(res, timeoutMs)
        settleWaiters.push(() => {
          clearTimeout(t)
          res()
        })
      })
    },
    stats: () => ({ ...stats, inFlight: inFlight.size }),
  }
}
