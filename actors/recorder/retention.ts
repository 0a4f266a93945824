import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../infra/logger.js'
import { deleteSessionDir, listOwnedSessions } from './session.js'
import { tooOld } from './sessionAge.js'

export interface RetentionPolicy {
  /** 0: no limit. */
  maxSessions: number
  /** Total bytes of all owned sessions; 0: no limit. */
  maxBytes: number
  /** 0: no limit. Sessions whose start a clock jump made implausible never age out (sessionAge.ts). */
  maxAgeDays: number
}

export interface RetentionResult {
  candidates: string[]
  kept: string[]
  deleted: string[]
  /** Deletions that failed (permission, busy): kept on disk and reported. */
  failed: string[]
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => null)
    if (s?.isFile()) total += s.size
  }
  return total
}

/**
 * Deletes the oldest owned sessions until every limit holds. Candidates are only
 * owned sessions (id-named dir + valid session.json) that are finished: never the
 * active one and never one still marked `recording` (another process may own it).
 * Everything else in the dir is invisible here, so an operator's files survive.
 */
export async function applyRetention(
  recordingsDir: string,
  policy: RetentionPolicy,
  log: Logger,
  now: number,
  opts: { activeId?: string | null; node?: string } = {},
): Promise<RetentionResult> {
  // Only this rig's sessions when a node is given: a shared disk holds another rig's footage.
  const owned = (await listOwnedSessions(recordingsDir)).filter((o) => opts.node === undefined || o.session.node === opts.node)
  const candidates = owned.filter((o) => o.session.id !== opts.activeId && o.session.state !== 'recording')
  const result: RetentionResult = { candidates: candidates.map((c) => c.session.id), kept: [], deleted: [], failed: [] }
  const unlimited = policy.maxSessions <= 0 && policy.maxBytes <= 0 && policy.maxAgeDays <= 0
  if (unlimited || candidates.length === 0) {
    result.kept = result.candidates
    log.debug({ candidates: result.candidates.length }, 'retention: no limits to apply')
    return result
  }
  const sizes = new Map<string, number>()
  let totalBytes = 0
  for (const o of owned) {
    const bytes = await dirBytes(o.dir)
    sizes.set(o.session.id, bytes)
    totalBytes += bytes
  }
  // The active session counts toward the limits even though it cannot be deleted.
  let count = owned.length
  const old = new Set(tooOld(owned.map((o) => o.session), policy.maxAgeDays, now))
  for (const c of candidates) {
    const id = c.session.id
    const tooMany = policy.maxSessions > 0 && count > policy.maxSessions
    const tooBig = policy.maxBytes > 0 && totalBytes > policy.maxBytes
    const tooOld = old.has(id)
    if (!tooMany && !tooBig && !tooOld) {
      result.kept.push(id)
      continue
    }
    try {
      await deleteSessionDir(recordingsDir, c.dir)
      result.deleted.push(id)
      count -= 1
      totalBytes -= sizes.get(id) ?? 0
      log.info({ session: id, tooMany, tooBig, tooOld, bytes: sizes.get(id) }, 'retention: deleted session')
    } catch (err) {
      result.failed.push(id)
      result.kept.push(id)
      log.error({ session: id, err }, 'retention: could not delete session')
    }
  }
  log.info(
    { candidates: result.candidates, kept: result.kept, deleted: result.deleted, failed: result.failed, policy },
    'retention applied',
  )
  return result
}
