import { createHash, randomBytes } from 'node:crypto'
import { open } from 'node:fs/promises'
import { headers } from '@nats-io/transport-node'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { RECORDINGS_BUCKET, RECORDINGS_STREAM, subjects } from '../../infra/subjects.js'
import { encodeObjectName } from './names.js'

/** The Object Store's own default chunk: `nats object get` and @nats-io/obj read it as usual. */
export const CHUNK_BYTES = 128 * 1024
/** Chunk publishes in flight at once: one round trip per chunk would cap a file at ~RTT/128 KiB. */
const WINDOW = 16
const DIGEST_PREFIX = 'SHA-256='

/** What the bucket says about an object (the Object Store's meta message). */
export interface ObjectMeta {
  name: string
  bucket: string
  nuid: string
  size: number
  chunks: number
  mtime: string
  digest: string
  deleted?: boolean
  options?: { max_chunk_size?: number }
}

/** `SHA-256=<base64url, padded>`: the Object Store's digest format. */
export function objectDigest(sha256: Buffer): string {
  return DIGEST_PREFIX + sha256.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
}

/** The file's SHA-256 in the Object Store's format, read through one fd closed on every path. */
export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const fh = await open(path, 'r')
  try {
    const hash = createHash('sha256')
    let size = 0
    for await (const chunk of fh.createReadStream({ autoClose: false, highWaterMark: 1024 * 1024 })) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
    return { digest: objectDigest(hash.digest()), size }
  } finally {
    await fh.close()
  }
}

/** A fresh chunk-subject id (the Object Store uses a nuid; any plain token will do). */
export function newChunkId(): string {
  return randomBytes(16).toString('hex')
}

export async function readMeta(jsm: JetStreamManager, name: string): Promise<ObjectMeta | null> {
  try {
    const m = await jsm.streams.getMessage(RECORDINGS_STREAM, { last_by_subj: subjects.recordingMeta(encodeObjectName(name)) })
    if (!m) return null
    return m.json<ObjectMeta>()
  } catch (err) {
    if (/no message found|message not found/i.test((err as Error).message)) return null
    throw err
  }
}

/** How many chunk messages the stream holds for one object version (what a reader would get). */
export async function storedChunks(jsm: JetStreamManager, chunkId: string): Promise<number> {
  const subject = subjects.recordingChunks(chunkId)
  const si = await jsm.streams.info(RECORDINGS_STREAM, { subjects_filter: subject })
  return si.state.subjects?.[subject] ?? 0
}

export async function purgeChunks(jsm: JetStreamManager, chunkId: string): Promise<number> {
  const r = await jsm.streams.purge(RECORDINGS_STREAM, { filter: subjects.recordingChunks(chunkId) })
  return r.purged
}

/** The object is there, whole, and holds the bytes of the local file. */
export async function isVerified(jsm: JetStreamManager, meta: ObjectMeta | null, local: { digest: string; size: number }): Promise<boolean> {
  if (!meta || meta.deleted || meta.digest !== local.digest || meta.size !== local.size) return false
  return (await storedChunks(jsm, meta.nuid)) === meta.chunks
}

export interface PutOptions {
  name: string
  path: string
  /** Called (and awaited) with the chunk id before its first chunk is sent: a crash after it leaves a name to purge. */
  journal(chunkId: string): Promise<void>
  timeoutMs?: number
  chunkBytes?: number
}

/**
 * Puts one file as an Object Store object, the way @nats-io/obj lays it out (chunks on
 * `$O.<bucket>.C.<id>`, then a rollup meta on `$O.<bucket>.M.<name>`), with two differences
 * that make a cut upload recoverable: the chunk id is journaled before the first chunk (the
 * library picks it inside `put`, so chunks a crash leaves behind are named by nothing), and
 * each chunk carries a message id (`<id>.<k>`) so a chunk the client sends again after a
 * reconnect is stored once. The file is read through one fd, closed on every path.
 */
export async function putFile(js: JetStreamClient, opts: PutOptions): Promise<ObjectMeta> {
  const chunkBytes = opts.chunkBytes ?? CHUNK_BYTES
  const timeout = opts.timeoutMs ?? 10_000
  const chunkId = newChunkId()
  await opts.journal(chunkId)
  const chunkSubject = subjects.recordingChunks(chunkId)
  const hash = createHash('sha256')
  let size = 0
  let chunks = 0
  const fh = await open(opts.path, 'r')
  try {
    const inFlight = new Set<Promise<unknown>>()
    let failed: unknown = null
    for (;;) {
      const buf = Buffer.allocUnsafe(chunkBytes)
      let filled = 0
      while (filled < chunkBytes) {
        const { bytesRead } = await fh.read(buf, filled, chunkBytes - filled, null)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      if (filled === 0) break
      const payload = buf.subarray(0, filled)
      hash.update(payload)
      size += filled
      const k = chunks++
      const p = js.publish(chunkSubject, payload, { msgID: `${chunkId}.${k}`, timeout }).then(
        () => undefined,
        (err: unknown) => {
          failed ??= err
        },
      )
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
      if (inFlight.size >= WINDOW) await Promise.race(inFlight)
      if (failed) break
      if (filled < chunkBytes) break
    }
    await Promise.all(inFlight)
    if (failed) throw failed
  } finally {
    await fh.close()
  }
  const meta: ObjectMeta = {
    name: opts.name,
    bucket: RECORDINGS_BUCKET,
    nuid: chunkId,
    size,
    chunks,
    mtime: new Date().toISOString(),
    digest: objectDigest(hash.digest()),
    deleted: false,
    options: { max_chunk_size: chunkBytes },
  }
  const h = headers()
  // One meta per name: the newest replaces the older (the Object Store's own rule).
  h.set('Nats-Rollup', 'sub')
  await js.publish(subjects.recordingMeta(encodeObjectName(opts.name)), JSON.stringify(meta), { headers: h, timeout })
  return meta
}
