import { StorageType, jetstreamManager } from '@nats-io/jetstream'
import { Objm } from '@nats-io/obj'
import type { NatsConnection } from '@nats-io/transport-node'
import { RECORDINGS_BUCKET, RECORDINGS_STREAM } from '../subjects.js'

export interface BucketResult {
  replicas: number
}

/**
 * Makes the recordings bucket (an operator's job: `vigil fleet init`). Three replicas on a
 * cluster of three or more; a single server refuses R3 ("replicas > 1 not supported in
 * non-clustered mode" / "insufficient resources"), so R1 there. An existing bucket is left as
 * it is (its replicas are an operator's choice once made).
 */
export async function ensureRecordingsBucket(nc: NatsConnection, opts: { replicas?: number } = {}): Promise<BucketResult> {
  const jsm = await jetstreamManager(nc)
  try {
    const si = await jsm.streams.info(RECORDINGS_STREAM)
    return { replicas: si.config.num_replicas }
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err
  }
  const objm = new Objm(nc)
  const make = (replicas: number) =>
    objm.create(RECORDINGS_BUCKET, { replicas, storage: StorageType.File, description: 'vigil: off-box copies of finalized recording sessions, <node>/<session>/<file>' })
  if (opts.replicas !== undefined) {
    await make(opts.replicas)
    return { replicas: opts.replicas }
  }
  try {
    await make(3)
    return { replicas: 3 }
  } catch (err) {
    const msg = (err as Error).message
    if (!/replicas|insufficient resources|clustered/i.test(msg)) throw err
  }
  await make(1)
  return { replicas: 1 }
}
