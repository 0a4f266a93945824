import { DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager, type StreamConfig } from '@nats-io/jetstream'
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '../logger.js'
import { subjects } from '../subjects.js'

type StreamSpec = Pick<StreamConfig, 'name' | 'subjects' | 'description'> & Partial<StreamConfig>

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * Alerts and state outlive the process (DESIGN.md §1): `vigil alerts` on an
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

export interface EnsureStreamsResult {
  ready: string[]
  failed: Array<{ name: string; reason: string }>
}

/**
 * Creates (or updates) the streams. Never throws: a cluster without JetStream
 * still carries live alerts, it only loses the history, which is logged.
 */
export async function ensureStreams(nc: NatsConnection, opts: { log: Logger; streams?: readonly StreamSpec[] }): Promise<EnsureStreamsResult> {
  const log = opts.log.child({ component: 'jetstream' })
  const result: EnsureStreamsResult = { ready: [], failed: [] }
  const specs = opts.streams ?? vigilStreams
  let jsm
  try {
    jsm = await jetstreamManager(nc)
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    log.warn({ err }, 'JetStream unavailable: alerts and state are live only, not kept')
    return { ready: [], failed: specs.map((s) => ({ name: s.name, reason })) }
  }
  for (const spec of specs) {
    try {
      try {
        await jsm.streams.info(spec.name)
        // Another rig (or an older vigil) made it: bring the limits in line with ours.
        const { name, ...update } = spec
        await jsm.streams.update(name, update)
      } catch (err) {
        if ((err as { name?: string }).name !== 'StreamNotFoundError') throw err
        await jsm.streams.add(spec)
      }
      result.ready.push(spec.name)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      log.warn({ err, stream: spec.name }, 'JetStream stream could not be created')
      result.failed.push({ name: spec.name, reason })
    }
  }
  if (result.ready.length > 0) log.info({ streams: result.ready }, 'JetStream streams ready')
  return result
}
