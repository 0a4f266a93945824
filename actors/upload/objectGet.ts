import { createHash } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream'
import { RECORDINGS_STREAM, subjects } from '../../infra/subjects.js'
import { objectDigest, type ObjectMeta } from './objectPut.js'

/**
 * Reads one object into `path` (through `path.part`, renamed only once the digest matched).
 * Not @nats-io/obj's `get`: in 3.4.0 it stalls after 16 chunks (2 MiB) because its push
 * consumer's flow-control request is never answered (nats.js #430). An ordered pull consumer
 * on the object's chunk subject has no flow control to miss; the digest is checked here.
 */
export async function getObjectToFile(js: JetStreamClient, meta: ObjectMeta, path: string, opts: { idleMs?: number } = {}): Promise<{ size: number; digest: string }> {
  const part = `${path}.part`
  const fh = await open(part, 'wx', 0o600)
  let ok = false
  try {
    const hash = createHash('sha256')
    let size = 0
    let got = 0
    if (meta.chunks > 0) {
      // One filter as a string (filter_subject): nats-server 2.9 has no filter_subjects list.
      const consumer = await js.consumers.get(RECORDINGS_STREAM, { filter_subjects: subjects.recordingChunks(meta.nuid), deliver_policy: DeliverPolicy.All })
      const messages = await consumer.consume({ max_messages: 64 })
      // A chunk missing from the stream would keep the loop waiting for ever: stop when none came for idleMs.
      const idleMs = opts.idleMs ?? 10_000
      let idle = setTimeout(() => messages.stop(), idleMs)
      try {
        for await (const m of messages) {
          clearTimeout(idle)
          idle = setTimeout(() => messages.stop(), idleMs)
          hash.update(m.data)
          await fh.write(m.data)
          size += m.data.length
          got++
          if (got >= meta.chunks || m.info.pending === 0) break
        }
      } finally {
        clearTimeout(idle)
        messages.stop()
        await consumer.delete().catch(() => undefined)
      }
    }
    await fh.sync()
    const digest = objectDigest(hash.digest())
    if (got !== meta.chunks || size !== meta.size) throw new Error(`${meta.name}: got ${got}/${meta.chunks} chunks, ${size}/${meta.size} bytes`)
    if (digest !== meta.digest) throw new Error(`${meta.name}: digest mismatch (bucket ${meta.digest}, received ${digest})`)
    ok = true
    return { size, digest }
  } finally {
    await fh.close()
    if (ok) await rename(part, path)
    else await unlink(part).catch(() => undefined)
  }
}
