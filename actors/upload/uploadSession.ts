import { join } from 'node:path'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { Logger } from '../../infra/logger.js'
import { deleteSessionDir, readSession, SESSION_FILE, type SessionFile } from '../recorder/session.js'
import { objectName } from './names.js'
import { fileDigest, isVerified, purgeChunks, putFile, readMeta, storedChunks } from './objectPut.js'
import { dropState, loadState, saveState, type UploadState } from './uploadState.js'

export interface SessionUploadDeps {
  js: JetStreamClient
  jsm: JetStreamManager
  node: string
  recordingsDir: string
  stateDir: string
  deleteLocal: boolean
  /** The session being recorded now (never uploaded, never deleted). */
  activeSession(): string | null
  log: Logger
  timeoutMs?: number
}

export type SessionUploadResult =
  | { outcome: 'uploaded'; files: number; bytes: number; skipped: number; deletedLocal: boolean }
  | { outcome: 'gone' | 'not-final' | 'already-done' }

/** The files of a final session, media first and session.json last: its presence means "whole". */
export function sessionFiles(session: SessionFile): string[] {
  return [...(session.preRollFiles ?? []).map((f) => f.file), ...session.segments.map((s) => s.file), SESSION_FILE]
}

/** Chunks of earlier tries that were never verified: purged before anything else is sent. */
async function purgePending(deps: SessionUploadDeps, state: UploadState, keep: ReadonlySet<string>): Promise<void> {
  for (const [file, ids] of Object.entries(state.pending)) {
    for (const id of ids) {
      if (keep.has(id)) continue
      const purged = await purgeChunks(deps.jsm, id)
      if (purged > 0) deps.log.info({ session: state.session, file, chunkId: id, purged }, 'upload: purged the chunks of an earlier, unfinished put')
    }
    delete state.pending[file]
    await saveState(deps.stateDir, state)
  }
}

/**
 * Uploads one finalized session, file by file, each verified by digest before the next;
 * resumable (verified files are skipped, a file the bucket already holds whole is not sent
 * again). Throws on a bus failure: the caller retries with backoff, and this picks up where
 * it stopped.
 */
export async function uploadSession(deps: SessionUploadDeps, id: string, signal?: AbortSignal): Promise<SessionUploadResult> {
  const { jsm, log } = deps
  const dir = join(deps.recordingsDir, id)
  const state = await loadState(deps.stateDir, id)
  if (state.done) return { outcome: 'already-done' }
  const session = await readSession(dir)
  if (!session) {
    // Deleted by retention or an operator before it went up: drop the chunks of a cut put.
    await purgePending(deps, state, new Set())
    await dropState(deps.stateDir, id)
    log.warn({ session: id }, 'upload: the session is gone from the disk before it was uploaded (retention or a delete)')
    return { outcome: 'gone' }
  }
  if (session.state === 'recording' || deps.activeSession() === id) return { outcome: 'not-final' }
  await purgePending(deps, state, new Set())

  let files = 0
  let bytes = 0
  let skipped = 0
  for (const file of sessionFiles(session)) {
    if (state.verified[file]) continue
    // Stopped (a shutdown): the next start resumes at this file.
    signal?.throwIfAborted()
    const name = objectName({ node: deps.node, session: id }, file)
    const path = join(dir, file)
    const before = await readMeta(jsm, name)
    if (before && !before.deleted) {
      const local = await fileDigest(path)
      if (await isVerified(jsm, before, local)) {
        state.verified[file] = { digest: local.digest, size: local.size }
        await saveState(deps.stateDir, state)
        skipped++
        continue
      }
    }
    const meta = await putFile(deps.js, {
      name,
      path,
      ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
      journal: async (chunkId) => {
        state.pending[file] = [...(state.pending[file] ?? []), chunkId]
        await saveState(deps.stateDir, state)
      },
    })
    // Verified against what the bucket says now, not what was sent: the stored meta's digest
    // and size, and the chunk count the stream holds for it.
    const after = await readMeta(jsm, name)
    const stored = after ? await storedChunks(jsm, after.nuid) : 0
    if (!after || after.nuid !== meta.nuid || after.digest !== meta.digest || after.size !== meta.size || stored !== meta.chunks) {
      throw new Error(`upload of ${name} not verified: the bucket holds ${after ? `${stored}/${after.chunks} chunks, digest ${after.digest}` : 'no object'}`)
    }
    // Verified: the earlier tries of this file and the version it replaced are garbage now.
    const stale = new Set(state.pending[file] ?? [])
    if (before && before.nuid !== meta.nuid) stale.add(before.nuid)
    stale.delete(meta.nuid)
    for (const old of stale) await purgeChunks(jsm, old)
    delete state.pending[file]
    state.verified[file] = { digest: meta.digest, size: meta.size }
    await saveState(deps.stateDir, state)
    files++
    bytes += meta.size
    log.debug({ object: name, bytes: meta.size, chunks: meta.chunks }, 'upload: file verified')
  }
  state.done = true
  await saveState(deps.stateDir, state)
  let deletedLocal = false
  if (deps.deleteLocal && deps.activeSession() !== id) {
    await deleteSessionDir(deps.recordingsDir, dir)
    deletedLocal = true
  }
  log.info({ session: id, files, bytes, skipped, deletedLocal }, 'upload: session verified in the bucket')
  return { outcome: 'uploaded', files, bytes, skipped, deletedLocal }
}
