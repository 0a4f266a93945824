import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { createActor, fromCallback, fromPromise, type Actor, type AnyActorRef } from 'xstate'
import type { AlertInput } from '../../infra/alerts.js'
import type { Clock } from '../../infra/clock.js'
import type { NotifyConfig, WebhookConfig } from '../../infra/config/schema.js'
import { webhookOrigin } from '../../infra/config/webhooks.js'
import type { Feed } from '../../infra/feed.js'
import type { Logger } from '../../infra/logger.js'
import type { CommandRouter } from '../../infra/nats/commands.js'
import { laneId, notifyMachine, type NotifyOutboxEvent } from '../../machines/notify.machine.js'
import { notifyLaneMachine, type DeliveryResult, type LaneContext, type LaneDrop, type LaneEntry } from '../../machines/notifyLane.machine.js'
import type { ChildFactory } from '../supervisor/child.js'
import { machineChild } from '../supervisor/machineChild.js'
import { aboutItself, messageOf, render, wants, type WebhookRoute } from './message.js'
import { NotifyOutbox } from './outbox.js'
import { postWebhook } from './post.js'

export { NotifyOutbox } from './outbox.js'
export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.js'

/** A configured webhook as the notify actor holds it. */
export interface Receiver extends WebhookRoute {
  /** Stable across restarts for the same URL and format: the outbox files name their receiver by it. */
  key: string
  url: string
  origin: string
  secret?: string | undefined
}

export function receiversOf(webhooks: WebhookConfig[]): Receiver[] {
  return webhooks.map((w, i) => ({
    key: createHash('sha256').update(`${w.format}\n${w.url}`).digest('hex').slice(0, 16),
    label: `webhook-${i + 1}`,
    url: w.url,
    origin: webhookOrigin(w.url),
    events: new Set(w.events),
    format: w.format,
    secret: w.secret,
  }))
}

/**
 * Everything the webhooks carry goes through here, for the rig's whole life (not only
 * while the notify actor runs): each alert and event a receiver subscribed to becomes an
 * outbox entry at once; the actor sends them.
 */
export function routeFeedToOutbox(feed: Feed, outbox: NotifyOutbox, receivers: Receiver[], node: string): () => void {
  if (receivers.length === 0) return () => {}
  const sub = feed.subscribe((item) => {
    const message = messageOf(item, node)
    if (!message) return
    // notify's own alerts never make another notify.failed when they cannot be delivered.
    const quiet = message['source'] === 'notify'
    for (const r of receivers) {
      if (!wants(r, message.kind) || aboutItself(r, message)) continue
      outbox.add(r.key, { id: message.id, kind: message.kind, ...render(message, r.format) }, quiet)
    }
  })
  return () => sub.unsubscribe()
}

/** `notify.outbox_full` at most once a minute, with what was dropped since the last one: never a storm of its own. */
export function overflowAlerter(deps: { alert(a: AlertInput): void; now(): number; maxPending: number; everyMs?: number }) {
  const everyMs = deps.everyMs ?? 60000
  let lastAt = -Infinity
  let dropped = 0
  return (d: { receiver: string; kind: string }) => {
    dropped += 1
    const now = deps.now()
    if (now - lastAt < everyMs) return
    lastAt = now
    deps.alert({
      source: 'notify',
      severity: 'warning',
      code: 'notify.outbox_full',
      message: `webhook outbox full (${deps.maxPending} pending): dropped the oldest ${dropped} deliveries`,
      details: { dropped, maxPending: deps.maxPending, lastKind: d.kind },
    })
    dropped = 0
  }
}

export interface NotifyDeps {
  config: NotifyConfig
  receivers: Receiver[]
  outbox: NotifyOutbox
  clock: Clock
  log: Logger
  alert(a: AlertInput): void
}

export function provideNotify(deps: NotifyDeps) {
  const byKey = new Map(deps.receivers.map((r) => [r.key, r]))
  const deliver = fromPromise<DeliveryResult, { receiver: string; entry: LaneEntry }>(async ({ input, signal }) => {
    const receiver = byKey.get(input.receiver)!
    const stored = await deps.outbox.read(input.entry.name)
    if (!stored) return { ok: false, gone: true, at: deps.clock.now(), reason: 'dropped from the outbox' }
    const result = await postWebhook({ url: receiver.url, secret: receiver.secret, timeoutMs: deps.config.timeoutMs }, stored, signal)
    if (result.ok) {
      await deps.outbox.remove(input.entry.name)
      return { ok: true, at: deps.clock.now() }
    }
    deps.log.debug({ receiver: receiver.label, origin: receiver.origin, reason: result.reason, id: stored.id }, 'webhook delivery failed; will retry')
    return { ok: false, at: deps.clock.now(), reason: result.reason }
  })
  const dropEntries = (_: unknown, drop: LaneDrop) => {
    const receiver = byKey.get(drop.receiver)!
    for (const e of drop.entries) void deps.outbox.remove(e.name)
    const minutes = Math.round(deps.config.retry.windowMs / 60000)
    deps.log.warn({ receiver: receiver.label, origin: receiver.origin, dropped: drop.entries.length, reason: drop.reason }, 'webhook deliveries dropped after the retry window')
    if (drop.told === 0) return
    deps.alert({
      source: 'notify',
      severity: 'warning',
      code: 'notify.failed',
      message: `webhook ${receiver.label} (${receiver.origin}) failed for ${minutes >= 1 ? `${minutes} min` : `${deps.config.retry.windowMs} ms`} (${drop.reason}): ${drop.told} deliveries dropped`,
      details: { receiver: receiver.label, origin: receiver.origin, dropped: drop.told, reason: drop.reason, oldestAt: new Date(drop.oldestAt).toISOString() },
    })
  }
  const loadOutbox = fromPromise(async () => deps.outbox.snapshot())
  const watchOutbox = fromCallback<{ type: 'NONE' }, { after: string }>(({ sendBack, input }) => {
    let disposed = false
    const forward = (e: NotifyOutboxEvent) => {
      if (!disposed && byKey.has(e.receiver)) sendBack(e)
    }
    const off = deps.outbox.subscribe(forward)
    // Entries added between the snapshot and now; deferred past the invoke, like every sendBack at start.
    const missed = deps.outbox.since(input.after)
    queueMicrotask(() => {
      for (const m of missed) forward({ type: 'ENQUEUED', receiver: m.receiver, entry: m.entry })
    })
    return () => {
      disposed = true
      off()
    }
  })
  return notifyMachine.provide({
    actors: {
      lane: notifyLaneMachine.provide({ actors: { deliver }, actions: { dropEntries } }),
      loadOutbox,
      watchOutbox,
    },
  })
}

export type NotifyActor = Actor<ReturnType<typeof provideNotify>>

export function createNotifyActor(deps: NotifyDeps): NotifyActor {
  return createActor(provideNotify(deps), { input: { receivers: deps.receivers.map((r) => r.key), retry: deps.config.retry } })
}

export interface ReceiverStatus {
  receiver: string
  origin: string
  format: 'json' | 'ntfy'
  events: string[]
  signed: boolean
  state: string
  pending: number
  delivered: number
  dropped: number
  /** Failed attempts since the last success. */
  failures: number
  lastSuccessAt: string | null
  lastFailureAt: string | null
  lastFailure: string | null
}

export interface NotifyStatus {
  state: string
  pending: number
  maxPending: number
  retry: NotifyConfig['retry']
  timeoutMs: number
  receivers: ReceiverStatus[]
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** Commands hold this, not an instance: the outbox outlives every notify actor. */
export class NotifyHandle {
  readonly #deps: Pick<NotifyDeps, 'config' | 'receivers' | 'outbox'>
  #current: NotifyActor | null = null

  constructor(deps: Pick<NotifyDeps, 'config' | 'receivers' | 'outbox'>) {
    this.#deps = deps
  }

  attach(actor: NotifyActor): void {
    this.#current = actor
  }

  detach(actor: NotifyActor): void {
    if (this.#current === actor) this.#current = null
  }

  /** `notify.status`: no URL path or query, no secret (an ntfy topic is as good as a password). */
  status(): NotifyStatus {
    const snapshot = this.#current?.getSnapshot()
    const state = !snapshot ? 'down' : typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value)[0]!
    const children = (snapshot?.children ?? {}) as Record<string, AnyActorRef | undefined>
    const { config, outbox } = this.#deps
    return {
      state,
      pending: outbox.size,
      maxPending: config.maxPending,
      retry: { ...config.retry },
      timeoutMs: config.timeoutMs,
      receivers: this.#deps.receivers.map((r) => {
        const lane = children[laneId(r.key)]?.getSnapshot() as { value: unknown; context: LaneContext } | undefined
        const ctx = lane?.context
        return {
          receiver: r.label,
          origin: r.origin,
          format: r.format,
          events: [...r.events],
          signed: Boolean(r.secret),
          state: lane ? String(lane.value) : 'down',
          pending: outbox.countFor(r.key),
          delivered: ctx?.delivered ?? 0,
          dropped: ctx?.dropped ?? 0,
          failures: ctx?.failures ?? 0,
          lastSuccessAt: iso(ctx?.lastSuccessAt ?? null),
          lastFailureAt: iso(ctx?.lastFailureAt ?? null),
          lastFailure: ctx?.lastFailure ?? null,
        }
      }),
    }
  }
}

export function notifyChild(deps: NotifyDeps, handle: NotifyHandle): ChildFactory {
  return () => machineChild(() => createNotifyActor(deps), { attachTo: handle })
}

const NoArgs = Type.Object({}, { additionalProperties: false })

/** `notify.status`: pending count, each receiver's last success and failure (docs/SUBJECTS.md). */
export function registerNotifyCommands(router: CommandRouter, handle: NotifyHandle): void {
  router.register({
    actor: 'notify',
    verb: 'status',
    description: 'webhook deliveries: pending in the outbox, each receiver\'s last success and failure (no URLs beyond the origin, no secrets)',
    args: NoArgs,
    readOnly: true,
    handler: async () => handle.status(),
  })
}

/** Where the outbox lives in the data dir. */
export const outboxDirOf = (dataDir: string) => join(dataDir, 'notify', 'outbox')

/** The rig's notify subsystem: outbox and routing made once (they outlive restarts of the actor), the child, the command. */
export function notifySubsystem(deps: { config: NotifyConfig; dataDir: string; node: string; feed: Feed; clock: Clock; log: Logger; alert(a: AlertInput): void; router: CommandRouter }) {
  const receivers = receiversOf(deps.config.webhooks)
  const alertOverflow = overflowAlerter({ alert: deps.alert, now: () => deps.clock.monotonic(), maxPending: deps.config.maxPending })
  const outbox = new NotifyOutbox({
    dir: outboxDirOf(deps.dataDir),
    receivers: receivers.map((r) => r.key),
    maxPending: deps.config.maxPending,
    now: () => deps.clock.now(),
    log: deps.log,
    onOverflow: alertOverflow,
  })
  routeFeedToOutbox(deps.feed, outbox, receivers, deps.node)
  const handle = new NotifyHandle({ config: deps.config, receivers, outbox })
  registerNotifyCommands(deps.router, handle)
  return { outbox, handle, receivers, factory: notifyChild({ config: deps.config, receivers, outbox, clock: deps.clock, log: deps.log, alert: deps.alert }, handle) }
}
