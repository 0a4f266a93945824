import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { command } from '../../../infra/nats/client.js'
import { ensureRecordingsBucket } from '../../../infra/nats/recordingsBucket.js'
import type { UploadStatus } from '../../../actors/upload/index.js'
import { envWithoutVigil, runVigil, startVigil } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * The whole path on a real `vigil start` (embedded nats-server, synthetic camera, real
 * ffmpeg): a session recorded and stopped is uploaded because the recorder finalized it,
 * and `vigil recordings pull` brings back exactly the files on the rig's disk.
 */
t.test('a real rig uploads the session its recorder finalized; pulled back byte-identical', async (t) => {
  const rig = await startVigil(t, { node: 'up1', env: { VIGIL_UPLOAD_ENABLED: 'true' } })
  const nc = await rig.client()
  await rig.running(nc)
  t.same((await ensureRecordingsBucket(nc)).replicas, 1, 'R1 on the embedded single server')
  await rig.streaming(nc)
  const started = await command<{ id: string }>(nc, 'up1', 'recorder', 'start', { name: 'up' })
  t.ok(started.ok, 'recording')
  await waitFor(async () => {
    const s = await command<{ session: { bytes: number } | null }>(nc, 'up1', 'recorder', 'status')
    return s.ok && (s.result.session?.bytes ?? 0) > 100_000
  }, 60_000, 'some footage', 200)
  const stopped = await command<{ id: string; segments: number }>(nc, 'up1', 'recorder', 'stop')
  t.ok(stopped.ok, 'stopped')
  if (!stopped.ok) return
  const id = stopped.result.id
  await waitFor(async () => {
    const s = await command<UploadStatus>(nc, 'up1', 'upload', 'status')
    return s.ok && s.result.uploaded === 1 && s.result.queued === 0
  }, 60_000, 'the session uploaded', 200)

  const pullDir = await mkdtemp(join(tmpdir(), 'vigil-pull-'))
  t.teardown(() => rm(pullDir, { recursive: true, force: true }))
  const r = await runVigil(['recordings', 'pull', `up1/${id}`, '--to', pullDir], { env: envWithoutVigil({ VIGIL_NATS_SERVERS: rig.natsUrl }) })
  t.equal(r.code, 0, `pull: ${r.stderr}`)
  const local = join(rig.dataDir, 'recordings', id)
  const localFiles = (await readdir(local)).sort()
  t.ok(localFiles.includes('session.json') && localFiles.some((f) => f.startsWith('seg-')), `segments and session.json: ${localFiles.join(' ')}`)
  t.same((await readdir(join(pullDir, id))).sort(), localFiles, 'the same files')
  for (const f of localFiles) t.ok((await readFile(join(pullDir, id, f))).equals(await readFile(join(local, f))), `${f} identical`)
})
