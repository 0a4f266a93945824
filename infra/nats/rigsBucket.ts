import { jetstream } from '@nats-io/jetstream'
import { Kvm, type KV, type KvEntry } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { RIGS_BUCKET, subjects } from '../subjects.js'

/** A child of a rig's `supervisor.status`, as the fleet bucket keeps it. */
export interface RigSummaryChild {
  id: string
  state: string
  status: string
  restarts: number
}

/**
 * The value of key `<node>` in `vigil_rigs` (DESIGN.md §9.4): what `supervisor.status` says
 * of the rig, plus when it said it. `vigil status` prints it for a rig that no longer answers.
 */
export interface RigSummary {
  node: string
  state: string
  uptimeS: number
  ports: Record<string, number | null>
  children: RigSummaryChild[]
  /** The rig's `fleet.heartbeatS`: others judge its silence by it. */
  heartbeatS: number
  /** ISO 8601, the rig's clock. */
  seenAt: string
  /** Written on a clean stop (the last write of that run). */
  goodbye?: true
}

/** The bucket's stream, as JetStream names it. */
export const RIGS_STREAM = `KV_${RIGS_BUCKET}`

/**
 * R3 on a cluster of three or more servers, so the bucket outlives any one of them; R1
 * on a single server (JetStream refuses more replicas than servers). The servers a client
 * was told of (`connect_urls`) are the cluster's client URLs.
 */
export function rigsBucketReplicas(nc: NatsConnection): 1 | 3 {
  const info = nc.info
  if (!info?.cluster) return 1
  const urls = new Set([...(info.connect_urls ?? []), `${info.host}:${info.port}`])
  return urls.size >= 3 ? 3 : 1
}

/**
 * The bucket's handle. `create`: make it when missing (an operator's `vigil fleet init`, or a
 * rig whose identity may: the embedded server's). Without the right, the handle is bound
 * to the name and works once an operator made it.
 * `node`: a rig's watch delivers to its own inboxes (`_INBOX_<node>.…`), the only ones its
 * identity may read; JetStream's default would be the shared `_INBOX.`.
 */
export async function openRigsBucket(nc: NatsConnection, opts: { node?: string; create: boolean }): Promise<KV> {
  const js = jetstream(nc, { checkAPI: false, ...(opts.node ? { watcherPrefix: subjects.inboxPrefix(opts.node) } : {}) })
  const kvm = new Kvm(js)
  if (!opts.create) return kvm.open(RIGS_BUCKET)
  return kvm.create(RIGS_BUCKET, { history: 1, replicas: rigsBucketReplicas(nc) })
}

/** Every rig's summary in the bucket (deleted keys left out), by node. */
export async function readRigSummaries(kv: KV): Promise<RigSummary[]> {
  const out: RigSummary[] = []
  const keys: string[] = []
  for await (const k of await kv.keys()) keys.push(k)
  for (const key of keys.sort()) {
    const e = await kv.get(key)
    const s = e && e.operation === 'PUT' ? parseRigSummary(e) : undefined
    if (s) out.push(s)
  }
  return out
}

/** A summary from an entry; undefined for one that is not (a foreign writer, an older shape). */
export function parseRigSummary(e: Pick<KvEntry, 'key' | 'string'>): RigSummary | undefined {
  try {
    const v = JSON.parse(e.string()) as Partial<RigSummary>
    if (typeof v.seenAt !== 'string' || !Number.isFinite(Date.parse(v.seenAt))) return undefined
    if (typeof v.heartbeatS !== 'number' || v.heartbeatS <= 0) return undefined
    // The key is the writer's identity (a rig may write only its own): it, not the value, names the rig.
    return { ...v, node: e.key } as RigSummary
  } catch {
    return undefined
  }
}

export function isPermissionDenied(err: unknown): boolean {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } } | null
  const said = (x: { name?: string; message?: string } | undefined) => x?.name === 'PermissionViolationError' || /permissions violation/i.test(x?.message ?? '')
  return said(e ?? undefined) || said(e?.cause)
}
