import { DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager, type StreamConfig } from '@nats-io/jetstream'
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '../logger.js'
import { subjects } from '../subjects.js'

type StreamSpec = Pick<StreamConfig, 'name' | 'subjects' | 'description'> & Partial<StreamConfig>

const DAY_MS = 24 * 60 * 60 * 1000
/**
 * How long JetStream remembers a `Nats-Msg-Id`. A rig's outbox sends a message again
 * when it never saw the ack (the connection died, or the rig restarted before it wrote
 * "done"); that resend comes at the next connection, so the window must outlast an
 * outage, not just a round trip (the server's default is 2 minutes).
 */
export const DUPLICATE_WINDOW_MS = 60 * 60 * 1000

/**
 * Alerts, events and state outlive the process (DESIGN.md §1): `vigil alerts` on an
 * operator's laptop replays what happened while it was not watching, for every
 * rig on the cluster. Bounded by age and count so the store never competes with
 * recordings for the disk.
 */
export const vigilStreams: readonly StreamSpec[] = [
  {
    name: 'VIGIL_ALERTS',
    description: 'vigil alerts of every rig',
    subjects: [subjects.alertsOf('*')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(30 * DAY_MS),
    max_msgs: 100_000,
    max_bytes: 256 * 1024 * 1024,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  },
  {
    name: 'VIGIL_EVENTS',
    description: 'vigil events (motion, sound, recordings) of every rig',
    subjects: [subjects.eventsOf('*')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(7 * DAY_MS),
    max_msgs: 200_000,
    max_bytes: 256 * 1024 * 1024,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  },
  {
    name: 'VIGIL_STATE',
    description: 'last state of every actor of every rig',
    subjects: [subjects.statesOf('*')],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    // Only the current state matters: one message per vigil.<node>.state.<actor>.
    max_msgs_per_subject: 1,
    max_bytes: 64 * 1024 * 1024,
  },
]

/**
 * Replicas for the server `nc` talks to: 3 when it is one of a cluster of at least 3
 * (its INFO lists every member's client URL, itself included), else 1: a single server
 * refuses R>1, and a cluster of 2 cannot keep a quorum through the loss of one.
 */
export function replicasFor(info: { cluster?: string; connect_urls?: string[] } | undefined): number {
  if (!info?.cluster) return 1
  return (info.connect_urls?.length ?? 0) >= 3 ? 3 : 1
}

export interface EnsureStreamsResult {
  ready: string[]
  /** `transient`: the server did not answer in time (it may be restarting); worth trying again. */
  failed: Array<{ name: string; reason: string; transient: boolean; denied?: true }>
}

/**
 * The identity may not manage streams (a rig under `vigil nats-config` permissions): it
 * just publishes, and JetStream stores what it publishes in streams an operator made.
 */
function isDenied(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } } | null
  const said = (x: { name?: string; message?: string } | undefined) => x?.name === 'PermissionViolationError' || /permissions violation/i.test(x?.message ?? '')
  return said(e ?? undefined) || said(e?.cause)
}

const DENIED_MSG = 'this NATS identity may not manage JetStream streams: alerts and state are published, and kept if an operator made the streams (vigil fleet init)'

/** A timeout or a dropped connection passes; "no JetStream here", a refused config or a permission does not. */
function isTransient(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } } | null
  return e?.name === 'TimeoutError' || e?.name === 'ConnectionError' || e?.cause?.name === 'TimeoutError'
}

/**
 * Creates (or updates) the streams. Never throws: a cluster without JetStream
 * still carries live alerts, it only loses the history, which is logged.
 */
export async function ensureStreams(
  nc: NatsConnection,
  opts: { log: Logger; streams?: readonly StreamSpec[]; /** Said already: a refusal is not logged again. */ deniedKnown?: boolean },
): Promise<EnsureStreamsResult> {
  const log = opts.log.child({ component: 'jetstream' })
  const result: EnsureStreamsResult = { ready: [], failed: [] }
  const specs = opts.streams ?? vigilStreams
  let jsm
  try {
    jsm = await jetstreamManager(nc)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    if (isDenied(err)) {
      if (!opts.deniedKnown) log.info(DENIED_MSG)
      return { ready: [], failed: specs.map((s) => ({ name: s.name, reason, transient: false, denied: true as const })) }
    }
    log.warn({ err }, 'JetStream unavailable: alerts and state are live only, not kept')
    return { ready: [], failed: specs.map((s) => ({ name: s.name, reason, transient: isTransient(err) })) }
  }
  const replicas = replicasFor(nc.info)
  for (const spec of specs) {
    try {
      try {
        const info = await jsm.streams.info(spec.name)
        // Another rig (or an older vigil) made it: bring the limits in line with ours.
        // Never fewer replicas than it has: a server down while this runs makes the
        // cluster look smaller than it is.
        const { name, ...update } = spec
        await jsm.streams.update(name, { ...update, num_replicas: Math.max(replicas, info.config.num_replicas ?? 1) })
      } catch (err) {
        if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err
        await jsm.streams.add({ ...spec, num_replicas: replicas })
      }
      result.ready.push(spec.name)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      if (isDenied(err)) {
        if (!opts.deniedKnown && !result.failed.some((f) => f.denied)) log.info({ stream: spec.name }, DENIED_MSG)
        result.failed.push({ name: spec.name, reason, transient: false, denied: true })
        continue
      }
      log.warn({ err, stream: spec.name }, 'JetStream stream could not be created')
      result.failed.push({ name: spec.name, reason, transient: isTransient(err) })
    }
  }
  if (result.ready.length > 0) log.info({ streams: result.ready, replicas }, 'JetStream streams ready')
  return result
}

export interface KeepStreamsOptions {
  log: Logger
  streams?: readonly StreamSpec[]
  /** First wait before a pass that failed on a live connection is tried again; doubles up to `retryMaxMs`. */
  retryMs?: number
  retryMaxMs?: number
  /** The pass itself; tests wrap it to restart the server in the middle of one. */
  ensure?: typeof ensureStreams
  /**
   * true: passes run only when `refresh()` asks (and their retries): the caller calls it
   * on the first connection and after every reconnect (the rig's bus does, through
   * `beforeResume`), so a reconnect costs one pass, not one each. Default false: a pass
   * now and one after every reconnect, on its own.
   */
  driven?: boolean
}

export interface StreamKeeper {
  /** Resolves when no pass is running or owed. */
  idle(): Promise<void>
  /**
   * A pass now (after the one running, if any); resolves when done. The bus awaits it
   * on every (re)connect before sending its backlog, so the backlog is stored.
   */
  refresh(): Promise<void>
  stop(): void
}

/**
 * Keeps the streams on whichever server the client is on: a pass now, another after
 * every reconnect (the server that comes back may have lost its store), and a retry
 * with backoff of a pass that timed out on a live connection. The status watch
 * starts before the first pass: a server restarted during it is not missed.
 * `driven`: no pass and no watch of its own; `refresh()` is called for each connection.
 */
export function keepStreams(nc: NatsConnection, opts: KeepStreamsOptions): StreamKeeper {
  const ensure = opts.ensure ?? ensureStreams
  const firstRetryMs = opts.retryMs ?? 1000
  const maxRetryMs = opts.retryMaxMs ?? 30_000
  let owed = opts.driven !== true
  let stopped = false
  let retryMs = firstRetryMs
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  // A refusal is said once per connection's lifetime, not on every reconnect.
  let denied = false

  const pass = (): Promise<void> => {
    running ??= (async () => {
      while (owed && !stopped && !nc.isClosed()) {
        owed = false
        const r = await ensure(nc, { log: opts.log, deniedKnown: denied, ...(opts.streams ? { streams: opts.streams } : {}) })
        if (r.failed.some((f) => f.denied)) denied = true
        if (owed || stopped) continue // a reconnect came during the pass: run it again at once
        if (r.failed.some((f) => f.transient)) {
          clearTimeout(timer)
          timer = setTimeout(() => {
            owed = true
            void pass()
          }, retryMs)
          retryMs = Math.min(retryMs * 2, maxRetryMs)
        } else retryMs = firstRetryMs
      }
    })().finally(() => {
      running = undefined
      // A reconnect between the loop's last check and here found `running` still set.
      if (owed && !stopped) void pass()
    })
    return running
  }

  /** A pass is owed now (a new connection, or asked): the backoff of old failures is over. */
  const passAgain = () => {
    clearTimeout(timer)
    retryMs = firstRetryMs
    owed = true
    void pass()
  }
  const status = opts.driven ? undefined : (nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void })
  if (status) {
    void (async () => {
      for await (const s of status) if (s.type === 'reconnect' && !stopped) passAgain()
    })().catch((err: unknown) => opts.log.debug({ err }, 'nats status stream ended'))
  }
  const stop = () => {
    stopped = true
    clearTimeout(timer)
    status?.stop?.()
  }
  void nc.closed().then(stop)
  if (!opts.driven) void pass()
  const idle = async () => {
    while (running) await running
  }
  return {
    idle,
    refresh() {
      passAgain()
      return idle()
    },
    stop,
  }
}
