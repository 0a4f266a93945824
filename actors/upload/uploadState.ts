import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { isSessionId } from '../recorder/sessionId.js'

/**
 * What the uploader knows of one session, in `<data>/upload/<session>.json` (beside the
 * recordings, not in them: the recorder alone owns `recordings/<session>/`).
 * - `pending`: chunk ids of puts begun and not verified, per file. Written before the first
 *   chunk goes out, so a put cut by a crash or an outage is purged on the next try.
 * - `verified`: files the bucket holds whole, with the digest that was checked.
 * - `done`: every file verified (the session is skipped from then on).
 */
export interface UploadState {
  session: string
  pending: Record<string, string[]>
  verified: Record<string, { digest: string; size: number }>
  done: boolean
}

export const emptyState = (session: string): UploadState => ({ session, pending: {}, verified: {}, done: false })

const fileOf = (dir: string, session: string) => {
  if (!isSessionId(session)) throw new Error(`not a session id: ${session}`)
  return join(dir, `${session}.json`)
}

export async function loadState(dir: string, session: string): Promise<UploadState> {
  try {
    const v = JSON.parse(await readFile(fileOf(dir, session), 'utf8')) as Partial<UploadState>
    return {
      session,
      pending: typeof v.pending === 'object' && v.pending !== null ? v.pending : {},
      verified: typeof v.verified === 'object' && v.verified !== null ? v.verified : {},
      done: v.done === true,
    }
  } catch {
    // Missing or torn (a crash mid-write cannot tear it: atomic rename; an operator's edit can).
    return emptyState(session)
  }
}

/** Atomic and synced: the journal must be on disk before the chunks it names are sent. */
export async function saveState(dir: string, state: UploadState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const target = fileOf(dir, state.session)
  const tmp = `${target}.${process.pid}.tmp`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(JSON.stringify(state))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, target)
}

export async function dropState(dir: string, session: string): Promise<void> {
  await unlink(fileOf(dir, session)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
}

/** Sessions with a state file (done or not). */
export async function listStates(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter(isSessionId)
  } catch {
    return []
  }
}
