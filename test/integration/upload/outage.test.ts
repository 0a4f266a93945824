import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { command } from '../../../infra/nats/client.js'
import type { UploadStatus } from '../../../actors/upload/index.js'
import { startNatsCluster } from '../../helpers/natsCluster.js'
import { envWithoutVigil, runVigil } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'
import { RECORDINGS_STREAM } from '../../../infra/subjects.js'
import { objectName } from '../../../actors/upload/names.js'
import { readMeta, storedChunks, type ObjectMeta } from '../../../actors/upload/objectPut.js'
import { makeSession, openFilesUnder, startUploadRig, stopped, uploadState } from './rigUpload.js'

const MiB = 1024 * 1024

t.test('an upload cut by a cluster outage resumes: no duplicate object, no orphan chunk, no open file', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops')
  await cluster.jetStreamReady(ops)
  const opsEnv = envWithoutVigil(await cluster.env('ops'))
  t.equal((await runVigil(['fleet', 'init'], { env: opsEnv })).code, 0, 'fleet init')

  let session!: { id: string; files: Map<string, Buffer> }
  const rig = await startUploadRig(t, await cluster.env('a'), {
    before: async (dir) => {
      session = await makeSession(dir, Array.from({ length: 8 }, (_, k) => 10 * MiB + k * 4099))
    },
  })
  const jsm = await jetstreamManager(ops)
  const name = (file: string) => objectName({ node: 'a', session: session.id }, file)

  // Cut once the first file is verified and before the session is done.
  await waitFor(async () => Object.keys((await uploadState(rig.dataDir, session.id))?.verified ?? {}).length >= 1, 60_000, 'a first file verified')
  const before = await uploadState(rig.dataDir, session.id)
  t.notOk(before!.done, 'cut mid-upload')
  const kept = new Map<string, string>()
  for (const file of Object.keys(before!.verified)) kept.set(file, (await readMeta(jsm, name(file)))!.nuid)
  const failuresBefore = rig.logLines.filter((l) => l.includes('upload: failed')).length
  await Promise.all([cluster.stop(1), cluster.stop(2), cluster.stop(3)])
  await waitFor(() => rig.logLines.filter((l) => l.includes('upload: failed')).length > failuresBefore, 60_000, 'the uploader saw the outage')
  await waitFor(async () => (await openFilesUnder(rig.recordingsDir)).length === 0, 10_000, 'no recording file left open after the failed put')
  t.pass('no file of the recordings open while the cluster is down')
  t.notOk((await uploadState(rig.dataDir, session.id))!.done, 'not done while the cluster is down')

  await Promise.all([cluster.restart(1), cluster.restart(2), cluster.restart(3)])
  await cluster.jetStreamReady(ops)
  await waitFor(async () => (await uploadState(rig.dataDir, session.id))?.done === true, 120_000, 'the upload completed after the outage')
  t.same(await openFilesUnder(rig.recordingsDir), [], 'no file of the recordings left open')

  // The bucket holds exactly one object per file, each with exactly its own chunks.
  const si = await jsm.streams.info(RECORDINGS_STREAM, { subjects_filter: '$O.vigil_recordings.>' })
  const subjects = si.state.subjects ?? {}
  const metaSubjects = Object.keys(subjects).filter((s) => s.startsWith('$O.vigil_recordings.M.'))
  const chunkSubjects = Object.keys(subjects).filter((s) => s.startsWith('$O.vigil_recordings.C.'))
  t.equal(metaSubjects.length, session.files.size, `one object per file (${session.files.size}), no duplicate`)
  t.ok(metaSubjects.every((s) => subjects[s] === 1), 'one meta message per object')
  const metas: ObjectMeta[] = []
  for (const file of session.files.keys()) {
    const m = await readMeta(jsm, name(file))
    t.ok(m && !m.deleted, `${file} is in the bucket`)
    metas.push(m!)
  }
  t.same(chunkSubjects.map((s) => s.split('.').at(-1)).sort(), metas.map((m) => m.nuid).sort(), 'no chunk subject that no object names (no orphan)')
  for (const m of metas) t.equal(subjects[`$O.vigil_recordings.C.${m.nuid}`], m.chunks, `${m.name}: ${m.chunks} chunks stored, no more`)
  t.equal(si.state.messages, metas.reduce((n, m) => n + m.chunks, 0) + metas.length, 'stream messages = chunks + metas')
  for (const [file, nuid] of kept) t.equal((await readMeta(jsm, name(file)))!.nuid, nuid, `${file}, verified before the cut, was not sent again`)

  const purged = rig.logLines.filter((l) => l.includes('purged the chunks of an earlier')).length
  t.comment(`puts cut by the outage and purged on resume: ${purged}; failed tries: ${rig.logLines.filter((l) => l.includes('upload: failed')).length}`)

  const pullDir = await mkdtemp(join(tmpdir(), 'vigil-pull-'))
  t.teardown(() => rm(pullDir, { recursive: true, force: true }))
  const r = await runVigil(['recordings', 'pull', `a/${session.id}`, '--to', pullDir], { env: opsEnv })
  t.equal(r.code, 0, `pull: ${r.stderr}`)
  for (const [file, bytes] of session.files) t.ok((await readFile(join(pullDir, session.id, file))).equals(bytes), `${file} identical`)

  // A put cut by a crash leaves chunks with no meta: only the journal names them. They are
  // purged before the session goes up (at a start, the scan finds such a session the same way).
  const crashed = await makeSession(rig.recordingsDir, [300 * 1024])
  const cutId = randomBytes(16).toString('hex')
  await mkdir(join(rig.dataDir, 'upload'), { recursive: true })
  await writeFile(join(rig.dataDir, 'upload', `${crashed.id}.json`), JSON.stringify({ session: crashed.id, pending: { 'seg-00001.mp4': [cutId] }, verified: {}, done: false }))
  const js = jetstream(ops)
  for (let k = 0; k < 3; k++) await js.publish(`$O.vigil_recordings.C.${cutId}`, randomBytes(1000))
  t.equal(await storedChunks(jsm, cutId), 3, 'the cut put left 3 chunks')
  stopped(rig, crashed.id)
  await waitFor(async () => (await uploadState(rig.dataDir, crashed.id))?.done === true, 60_000, 'the crashed session uploaded')
  t.equal(await storedChunks(jsm, cutId), 0, 'the chunks of the cut put are purged')

  const status = await command<UploadStatus>(ops, 'a', 'upload', 'status')
  t.ok(status.ok, 'upload.status answers')
  if (status.ok) t.match(status.result, { state: 'idle', queued: 0, uploaded: 2, current: null, attempt: 0, lastError: null }, 'upload.status: both sessions up, nothing waiting')
})
