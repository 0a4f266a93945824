/**
 * Issue 13 (hygiene) finding 6: recordings, snapshots and logs were created 0755/0644, so
 * any local user could watch the nursery. After a rig run that records, snapshots and logs,
 * every path under the data dir is private to the rig's user: dirs 0700, files 0600 (no
 * group or other bits at all). ffmpeg writes the segments and node-media-server its files,
 * so this covers the children too. A data dir left 0755 by an older version is tightened.
 */
import { chmod, lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startTestRig } from '../helpers/rig.js'
import { waitFor } from '../helpers/wait.js'
import { must, waitCameraStreaming, type RecStatus } from '../integration/pipeline/common.js'

t.setTimeout(300_000)

/** Every path under `root` (and root itself) with its permission bits. */
async function modes(root: string): Promise<Array<{ path: string; mode: number; dir: boolean }>> {
  const out: Array<{ path: string; mode: number; dir: boolean }> = []
  const pending = [root]
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    const st = await lstat(p).catch(() => null)
    if (!st) continue
    out.push({ path: p, mode: st.mode & 0o777, dir: st.isDirectory() })
    if (st.isDirectory()) for (const e of await readdir(p).catch(() => [])) pending.push(join(p, e))
  }
  return out
}

t.test('a rig run that records, snapshots and logs leaves nothing readable by others', async (t) => {
  // An older version's data dir: world-readable.
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-modes-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  await chmod(dataDir, 0o755)
  await mkdir(join(dataDir, 'recordings'), { mode: 0o755 })
  await chmod(join(dataDir, 'recordings'), 0o755)

  const r = await startTestRig(t, { node: 'modes', dataDir })
  await r.ready(undefined, 90_000)
  await waitCameraStreaming(r)

  const started = await r.cmd('recorder', 'start', { name: 'modes' })
  t.ok(started.ok, `recorder.start: ${JSON.stringify(started)}`)
  await waitFor(async () => ((await must<RecStatus>(r, 'recorder', 'status')).session?.segments ?? 0) >= 2, 60_000, 'two segments', 250)
  const snap = await r.cmd('camera', 'snapshot')
  t.ok(snap.ok, `camera.snapshot: ${JSON.stringify(snap)}`)
  const stopped = await r.cmd('recorder', 'stop')
  t.ok(stopped.ok, 'recorder.stop')

  const all = await modes(dataDir)
  const files = all.filter((p) => !p.dir).map((p) => p.path.slice(dataDir.length))
  t.comment(`${all.length} paths: ${files.join(', ')}`)
  t.ok(files.some((f) => /^\/recordings\/[^/]+\/seg-\d+\.mp4$/.test(f)), 'segments written by ffmpeg are among them')
  t.ok(files.some((f) => /^\/recordings\/[^/]+\/session\.json$/.test(f)), 'session.json is among them')
  t.ok(files.some((f) => /^\/snapshots\/.+\.jpe?g$/.test(f)), 'a snapshot is among them')
  t.ok(files.some((f) => /^\/logs\/commands\.jsonl$/.test(f)), 'the command log is among them')
  const open = all.filter((p) => (p.mode & 0o077) !== 0).map((p) => `${p.path.slice(dataDir.length) || '/'} ${p.mode.toString(8)}`)
  t.same(open, [], 'no group or other permission bits anywhere under the data dir')
  t.same(all.filter((p) => p.dir && p.mode !== 0o700).map((p) => p.path), [], 'dirs are 0700')
})
