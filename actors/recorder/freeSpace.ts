import type { DiskProbe } from '../../infra/disk.js'
import type { Logger } from '../../infra/logger.js'
import { deleteSessionDir, listOwnedSessions } from './session.js'

export interface MakeRoomOptions {
  recordingsDir: string
  keepFreeBytes: number
  /** Only this rig's sessions are deleted (session.json `node`). */
  node: string
  disk: DiskProbe
  log: Logger
  /** The session being recorded: never a candidate. */
  activeId: string | null
}

/**
 * Free-space retention (DESIGN.md §9.3): deletes the oldest finished sessions of this rig,
 * one at a time, re-measuring after each, until free space is back to `keepFreeBytes` or
 * nothing is left to delete. Never the active session, never one still `recording`
 * (another process may own it), never anything that is not an owned session dir.
 */
export async function makeRoom(o: MakeRoomOptions): Promise<{ deleted: string[]; freeBytes: number }> {
  let { freeBytes } = await o.disk.free(o.recordingsDir)
  const deleted: string[] = []
  if (freeBytes >= o.keepFreeBytes) return { deleted, freeBytes }
  const candidates = (await listOwnedSessions(o.recordingsDir)).filter(
    (s) => s.session.id !== o.activeId && s.session.state !== 'recording' && s.session.node === o.node,
  )
  for (const c of candidates) {
    if (freeBytes >= o.keepFreeBytes) break
    try {
      await deleteSessionDir(o.recordingsDir, c.dir)
      deleted.push(c.session.id)
    } catch (err) {
      o.log.error({ err, session: c.session.id }, 'retention: could not delete session')
      continue
    }
    freeBytes = (await o.disk.free(o.recordingsDir)).freeBytes
  }
  o.log.info({ deleted, freeBytes, keepFreeBytes: o.keepFreeBytes, candidates: candidates.length }, 'retention: made room (free space below keepFreeBytes)')
  return { deleted, freeBytes }
}
