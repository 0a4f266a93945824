import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { jetstreamManager } from '@nats-io/jetstream'
import { startNatsCluster } from '../../helpers/natsCluster.js'
import { envWithoutVigil, runVigil } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'
import { RECORDINGS_STREAM } from '../../../infra/subjects.js'
import { objectName } from '../../../actors/upload/names.js'
import { readMeta } from '../../../actors/upload/objectPut.js'
import { makeSession, openFilesUnder, startUploadRig, stopped, uploadState } from './rigUpload.js'

const MiB = 1024 * 1024

t.test('uploads: finalized sessions go up, come back byte-identical; bad names refused', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a', 'b'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops')
  await cluster.jetStreamReady(ops)
  const opsEnv = envWithoutVigil(await cluster.env('ops'))
  const init = await runVigil(['fleet', 'init'], { env: opsEnv })
  t.equal(init.code, 0, `fleet init: ${init.stderr}`)
  t.match(init.stdout, /vigil_recordings {2}ready \(R3\)/, 'the bucket, three replicas on a cluster of three')

  const pullDir = await mkdtemp(join(tmpdir(), 'vigil-pull-'))
  t.teardown(() => rm(pullDir, { recursive: true, force: true }))
  const pull = (ref: string, to = pullDir) => runVigil(['recordings', 'pull', ref, '--to', to], { env: opsEnv })

  const sessions: Array<{ id: string; files: Map<string, Buffer> }> = []
  const rig = await startUploadRig(t, await cluster.env('a'), {
    before: async (dir) => {
      // Two on disk before the start (the scan finds them): one small, one with a 3 MiB segment (> 2 MiB: nats.js #430).
      sessions.push(await makeSession(dir, [200 * 1024, 150 * 1024]))
      sessions.push(await makeSession(dir, [3 * MiB + 12345, 700 * 1024]))
    },
  })
  // The third finalizes while the rig runs: the recorder's `recording.stopped` queues it.
  const third = await makeSession(rig.recordingsDir, [5 * MiB + 1, 64 * 1024, 1])
  sessions.push(third)
  stopped(rig, third.id)

  for (const s of sessions) await waitFor(async () => (await uploadState(rig.dataDir, s.id))?.done === true, 60_000, `session ${s.id} uploaded`)
  t.same(await openFilesUnder(rig.recordingsDir), [], 'no file of the recordings left open')

  // Resumable by content too: with its state file lost, a session the bucket holds whole is
  // checked file by file (digest, size, chunk count) and nothing is sent again.
  const jsmOps = await jetstreamManager(ops)
  const first = sessions[0]!
  const nuids = async () => Promise.all([...first.files.keys()].map(async (f) => (await readMeta(jsmOps, objectName({ node: 'a', session: first.id }, f)))?.nuid))
  const nuidsBefore = await nuids()
  await rm(join(rig.dataDir, 'upload', `${first.id}.json`))
  stopped(rig, first.id)
  await waitFor(async () => (await uploadState(rig.dataDir, first.id))?.done === true, 60_000, 'the session checked again')
  t.same(await nuids(), nuidsBefore, 'no file sent again')
  t.ok(rig.logLines.some((l) => l.includes(first.id) && l.includes(`"skipped":${first.files.size}`)), 'every file skipped as already whole')

  for (const s of sessions) {
    const r = await pull(`a/${s.id}`)
    t.equal(r.code, 0, `pull a/${s.id}: ${r.stderr}`)
    for (const [file, bytes] of s.files) {
      const got = await readFile(join(pullDir, s.id, file))
      t.ok(got.equals(bytes), `${s.id}/${file}: ${bytes.length} bytes, identical`)
    }
  }

  // Names that would become paths outside DIR, or that are no session: refused before any write.
  for (const bad of ['../etc', 'a/../../etc', 'a/20260101T120000Z-abcdef/../x', 'A B/x', 'a']) {
    const r = await pull(bad)
    t.equal(r.code, 2, `${JSON.stringify(bad)} refused as usage (exit 2)`)
    t.match(r.stderr, /vigil recordings pull: /, 'with a clear error')
  }
  const missing = await pull('a/20260101T000000Z-zzzzzz')
  t.equal(missing.code, 1, 'a session not in the bucket: exit 1')
  t.match(missing.stderr, /no session a\/20260101T000000Z-zzzzzz in vigil_recordings/)
  await t.rejects(access(join(pullDir, '20260101T000000Z-zzzzzz')), 'nothing made for a missing session')

  // deleteLocal: the local copy goes only once every file is verified, never the active session.
  const b = await startUploadRig(t, await cluster.env('b'), { deleteLocal: true })
  const gone = await makeSession(b.recordingsDir, [2 * MiB + 3, 1000])
  const active = await makeSession(b.recordingsDir, [4096])
  b.active.id = active.id
  stopped(b, active.id)
  stopped(b, gone.id)
  await waitFor(async () => (await uploadState(b.dataDir, gone.id))?.done === true, 60_000, 'b session uploaded')
  await waitFor(async () => access(join(b.recordingsDir, gone.id)).then(() => false, () => true), 10_000, 'local copy deleted')
  const state = await uploadState(b.dataDir, gone.id)
  t.same(Object.keys(state!.verified).sort(), [...gone.files.keys()].sort(), 'deleted only with every file verified')
  const back = await pull(`b/${gone.id}`)
  t.equal(back.code, 0, `the deleted session is whole in the bucket: ${back.stderr}`)
  for (const [file, bytes] of gone.files) t.ok((await readFile(join(pullDir, gone.id, file))).equals(bytes), `b/${gone.id}/${file} identical`)
  await access(join(b.recordingsDir, active.id))
  t.pass('the session being recorded stays on disk')
  t.equal(await uploadState(b.dataDir, active.id), null, 'and is not uploaded')

  const jsm = await jetstreamManager(ops)
  t.equal((await jsm.streams.info(RECORDINGS_STREAM)).config.num_replicas, 3)

  // A rig's rights on the bucket are the upload's calls, not stream management.
  const denied = { message: /permission/i }
  const asRig = await jetstreamManager(await cluster.connectAs('a'), { checkAPI: false, timeout: 3000 })
  await t.rejects(asRig.streams.delete(RECORDINGS_STREAM), denied, 'a rig may not delete the bucket')
  await t.rejects(asRig.streams.update(RECORDINGS_STREAM, { max_bytes: 1 }), denied, 'nor shrink it')
  await t.rejects(asRig.streams.add({ name: 'OTHER', subjects: ['other.>'] }), denied, 'nor make a stream')
  t.equal((await jsm.streams.info(RECORDINGS_STREAM)).config.max_bytes, -1, 'the bucket is as the operator made it')
})
