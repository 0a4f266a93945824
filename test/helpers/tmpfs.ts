import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Why this machine cannot mount a small tmpfs (not root, or root without the right), or false: for tap's `skip`. */
export async function cannotMountTmpfs(): Promise<string | false> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root to mount a small tmpfs (mount -t tmpfs)'
  const probe = await mkdtemp(join(tmpdir(), 'vigil-mountprobe-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe])
    await run('umount', [probe])
    return false
  } catch (err) {
    return `root, but mount -t tmpfs failed (a container without CAP_SYS_ADMIN?): ${String(err).split('\n')[0]}`
  } finally {
    await rm(probe, { recursive: true, force: true })
  }
}
