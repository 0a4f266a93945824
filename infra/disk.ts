import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

export interface DiskSpace {
  /** Bytes an unprivileged process may still write (statfs `bavail`, not `bfree`). */
  freeBytes: number
  totalBytes: number
}

/** Free space of the filesystem holding `path`. Injected, so tests and fault runs fill the disk by hand. */
export interface DiskProbe {
  free(path: string): Promise<DiskSpace>
}

/**
 * The real probe. A path that does not exist yet (a recordings dir before its
 * first session) is measured on its nearest existing ancestor: same filesystem
 * in every case that matters, and a probe that throws ENOENT would read as "no disk".
 */
export const systemDisk: DiskProbe = {
  async free(path: string): Promise<DiskSpace> {
    let current = resolve(path)
    for (;;) {
      try {
        const s = await statfs(current)
        // bavail, not bfree: the root-reserved blocks are not ours to fill.
        return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }
      } catch (err) {
        const parent = dirname(current)
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err
        current = parent
      }
    }
  },
}

/** A disk whose free space is set by hand: unit tests, fault injection ("the disk fills now"). */
export interface ManualDisk extends DiskProbe {
  set(freeBytes: number): void
  /** Every probe rejects with `err` until `set` is called again. */
  fail(err: Error): void
  readonly probes: number
}

export function createManualDisk(freeBytes: number, totalBytes = Math.max(freeBytes, 1)): ManualDisk {
  let free = freeBytes
  let failure: Error | null = null
  let probes = 0
  return {
    async free() {
      probes += 1
      if (failure) throw failure
      return { freeBytes: free, totalBytes: Math.max(totalBytes, free) }
    },
    set(bytes: number) {
      free = bytes
      failure = null
    },
    fail(err: Error) {
      failure = err
    },
    get probes() {
      return probes
    },
  }
}
