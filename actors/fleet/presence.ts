import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import type { AlertInput } from '../../infra/alerts.js'
import type { Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import { isPermissionDenied, openRigsBucket, parseRigSummary, type RigSummary } from '../../infra/nats/rigsBucket.js'
import { initialPresence, reducePresence, type PresenceEvent, type PresenceState } from '../../machines/rigPresence.policy.js'

export interface RigPresenceDeps {
  node: string
  heartbeatS: number
  log: Logger
  clock: Clock
  /** What `supervisor.status` says now, without the time stamps. */
  summary(): Omit<RigSummary, 'node' | 'heartbeatS' | 'seenAt' | 'goodbye'>
  /** The rig's alert path (alert log, log line, bus, feed). */
  alert(input: AlertInput): void
  /** Make the bucket when missing (the rig's identity may manage JetStream: the embedded server's). */
  createBucket: boolean
}

export interface RigPresence {
  /** Start writing and watching on this connection (the rig's one client; it reconnects for ever). */
  attach(nc: NatsConnection): void
  /** The summary changed (a child's state): write now rather than at the next heartbeat. */
  changed(): void
  /** A clean stop: the last write says so (others raise a warning, not a critical). Bounded. */
  goodbye(timeoutMs?: number): Promise<void>
  stop(): void
}

/**
 * The rig's part of "which rigs are up" (DESIGN.md §9.4): writes its summary to key
 * `<node>` of `vigil_rigs` on every change and every `heartbeatS`, watches the whole
 * bucket, and raises what the presence policy decides (machines/rigPresence.policy.ts).
 *
 * One heartbeat timer drives the writes and the repairs: a bucket not there yet (an
 * operator has not run `vigil fleet init`) is opened again, a watch that ended is started
 * again, at the next beat. The tick timer only asks the policy whether a silence is long
 * enough. Both are cleared by `stop()`.
 */
export function createRigPresence(deps: RigPresenceDeps): RigPresence {
  const log = deps.log.child({ component: 'fleet' })
  const { node, heartbeatS, clock } = deps
  let nc: NatsConnection | undefined
  let kv: KV | undefined
  let opening: Promise<void> | undefined
  let watching = false
  let stopped = false
  let saidBroken = false
  let writing: Promise<void> | undefined
  let writeAgain = false
  let state: PresenceState = initialPresence(node, heartbeatS)
  let beat: NodeJS.Timeout | undefined
  let tick: NodeJS.Timeout | undefined
  let stopWatch: (() => void) | undefined

  const feed = (event: PresenceEvent) => {
    const r = reducePresence(state, event)
    state = r.state
    for (const a of r.alerts) {
      deps.alert({ id: a.id, source: 'fleet', severity: a.severity, code: a.code, message: a.message, details: { ...a.details } })
    }
  }

  /** Said once per run of failures, and once when it works again. */
  const broken = (err: unknown, what: string) => {
    if (stopped) return
    if (!saidBroken) {
      saidBroken = true
      const msg = isPermissionDenied(err)
        ? 'this identity may not use the vigil_rigs bucket (vigil nats-config makes rigs that may): this rig is not seen by the fleet'
        : 'the vigil_rigs bucket is not usable yet (has an operator run `vigil fleet init`?): retrying every heartbeat'
      log.warn({ err, what }, msg)
    }
  }
  const works = () => {
    if (saidBroken) log.info('the vigil_rigs bucket works again')
    saidBroken = false
  }

  const open = () => {
    opening ??= (async () => {
      if (!nc || kv) return
      try {
        kv = await openRigsBucket(nc, { node, create: deps.createBucket })
      } catch (err) {
        if (deps.createBucket && isPermissionDenied(err)) kv = await openRigsBucket(nc, { node, create: false })
        else throw err
      }
    })()
      .catch((err: unknown) => broken(err, 'open'))
      .finally(() => {
        opening = undefined
      })
    return opening
  }

  const body = (goodbye: boolean): Uint8Array => {
    const s: RigSummary = { ...deps.summary(), node, heartbeatS, seenAt: new Date(clock.now()).toISOString(), ...(goodbye ? { goodbye: true as const } : {}) }
    return new TextEncoder().encode(JSON.stringify(s))
  }

  /** One write at a time; a change during a write is one more write after it, not a queue. */
  const write = (): Promise<void> => {
    if (writing) {
      writeAgain = true
      return writing
    }
    writing = (async () => {
      do {
        writeAgain = false
        await open()
        if (!kv || stopped) return
        try {
          await kv.put(node, body(false))
          works()
        } catch (err) {
          broken(err, 'put')
          return
        }
      } while (writeAgain && !stopped)
    })().finally(() => {
      writing = undefined
    })
    return writing
  }

  const watch = async () => {
    if (watching || !kv || stopped) return
    watching = true
    try {
      const iter = await kv.watch()
      stopWatch = () => iter.stop()
      for await (const e of iter) {
        if (e.operation !== 'PUT') continue
        const s = parseRigSummary(e)
        if (!s) continue
        const at = clock.now()
        feed({
          type: 'entry',
          entry: { node: s.node, seenAt: Date.parse(s.seenAt), heartbeatS: s.heartbeatS, goodbye: s.goodbye === true },
          at,
          ...(e.isUpdate ? {} : { initial: { writtenAt: e.created.getTime() } }),
        })
      }
    } catch (err) {
      broken(err, 'watch')
    } finally {
      watching = false
      stopWatch = undefined
    }
  }

  const onBeat = () => {
    void write().then(() => watch())
  }

  return {
    attach(conn) {
      if (stopped) return
      nc = conn
      clearInterval(beat)
      clearInterval(tick)
      beat = setInterval(onBeat, heartbeatS * 1000)
      // Fine enough to keep the 3-beat bound to within a second (or a tenth of a short beat).
      tick = setInterval(() => feed({ type: 'tick', at: clock.now() }), Math.min(1000, (heartbeatS * 1000) / 10))
      onBeat()
    },
    changed() {
      if (nc && !stopped) void write()
    },
    async goodbye(timeoutMs = 2000) {
      // No beat after the goodbye, or the fleet would see this rig back.
      stopped = true
      clearInterval(beat)
      clearInterval(tick)
      stopWatch?.()
      if (!nc || nc.isClosed()) return
      let timer: NodeJS.Timeout | undefined
      const bound = new Promise<void>((res) => {
        timer = setTimeout(() => {
          log.warn({ timeoutMs }, 'the goodbye to vigil_rigs was not confirmed in time: the fleet will see this rig as silent, not stopped')
          res()
        }, timeoutMs)
      })
      const say = (async () => {
        await writing
        await open()
        if (!kv) return
        await kv.put(node, body(true))
      })().catch((err: unknown) => log.warn({ err }, 'the goodbye to vigil_rigs failed: the fleet will see this rig as silent, not stopped'))
      await Promise.race([say, bound])
      clearTimeout(timer)
    },
    stop() {
      stopped = true
      clearInterval(beat)
      clearInterval(tick)
      stopWatch?.()
    },
  }
}
