import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../../infra/logger.js'
import type { SavedSnapshot } from '../../machines/motion.machine.js'

/**
 * Motion snapshots: `snapshots/snap-<YYYYMMDDTHHMMSSmmmZ>-<n>.jpg`, the UTC time of the
 * motion and a counter (two in the same millisecond stay apart). The motion actor alone
 * owns the names of this pattern; pruning touches nothing else in the dir.
 */
export const SNAPSHOT_PATTERN = /^snap-(\d{8}T\d{9}Z)-(\d+)\.jpg$/

/** The exact words the runbook and the tests look for. */
export const SNAPSHOT_FAILED = 'snapshot save failed — disk may be full'

export function snapshotName(atMs: number, seq: number): string {
  const stamp = new Date(atMs).toISOString().replace(/[-:.]/g, '')
  return `snap-${stamp}-${seq}.jpg`
}

/** Oldest first: by time, then by counter (numerically: -9 before -10). */
export function compareSnapshotNames(a: string, b: string): number {
  const ma = SNAPSHOT_PATTERN.exec(a)
  const mb = SNAPSHOT_PATTERN.exec(b)
  if (!ma || !mb) return a < b ? -1 : a > b ? 1 : 0
  if (ma[1] !== mb[1]) return ma[1]! < mb[1]! ? -1 : 1
  return Number(ma[2]) - Number(mb[2])
}

/** The file operations a snapshot needs; tests swap them to make the disk fail. */
export interface SnapshotFs {
  writeFile(path: string, data: Uint8Array): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  readdir(path: string): Promise<string[]>
}

export const nodeSnapshotFs: SnapshotFs = {
  // Private whatever the process mask: a snapshot is a picture of someone's home.
  writeFile: (path, data) => fsp.writeFile(path, data, { mode: 0o600 }),
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readdir: (path) => fsp.readdir(path),
}

export interface SnapshotStoreOptions {
  dir: string
  maxSnapshots: number
  log: Logger
  fs?: SnapshotFs
}

/**
 * Writes a JPEG under its final name (through a temporary one, so a reader never
 * sees half a file) and prunes the oldest beyond `maxSnapshots`. A failed write
 * returns null and logs SNAPSHOT_FAILED with the error code; it never throws.
 */
export async function storeSnapshot(opts: SnapshotStoreOptions, jpeg: Uint8Array, name: string, atMs: number): Promise<SavedSnapshot | null> {
  const fs = opts.fs ?? nodeSnapshotFs
  const final = join(opts.dir, name)
  const temp = join(opts.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await fs.writeFile(temp, jpeg)
    await fs.rename(temp, final)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    opts.log.warn({ code: e.code ?? 'UNKNOWN', err: e.message, dir: opts.dir, file: name }, SNAPSHOT_FAILED)
    // A partial temporary file would only eat more of a full disk.
    await fs.unlink(temp).catch(() => {})
    return null
  }
  try {
    const deleted = await pruneSnapshots(fs, opts.dir, opts.maxSnapshots)
    if (deleted.length > 0) opts.log.debug({ deleted }, 'old snapshots deleted')
  } catch (err) {
    // The snapshot is saved; a failed prune is retried with the next one.
    opts.log.warn({ err: (err as Error).message, dir: opts.dir }, 'snapshot pruning failed')
  }
  return { file: name, bytes: jpeg.byteLength, at: new Date(atMs).toISOString() }
}

/** Deletes the oldest owned snapshots beyond `max`; returns their names. */
export async function pruneSnapshots(fs: SnapshotFs, dir: string, max: number): Promise<string[]> {
  const owned = (await fs.readdir(dir)).filter((n) => SNAPSHOT_PATTERN.test(n)).sort(compareSnapshotNames)
  const excess = owned.slice(0, Math.max(0, owned.length - max))
  for (const name of excess) {
    await fs.unlink(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }
  return excess
}
