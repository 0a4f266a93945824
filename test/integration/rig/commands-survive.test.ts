import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startTestRig, type TestRig } from '../../helpers/rig.js'
import { waitFor } from '../../helpers/wait.js'

/**
 * DESIGN.md §9.5 "commands that survive bad links", on a whole rig (real nats-server, real
 * ffmpeg camera and recorder): deadlines, and idempotency keys kept across a rig restart.
 */

t.setTimeout(240_000)

interface Session {
  id: string
  name: string
  bytes: number
}
interface Status {
  state: string
  session: Session | null
}

const SESSION_DIR = /^\d{8}T\d{6}Z-[a-z2-7]{6}$/
const sessionDirs = async (rig: TestRig) => (await readdir(join(rig.dataDir, 'recordings'))).filter((d) => SESSION_DIR.test(d)).sort()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function status(rig: TestRig): Promise<Status> {
  const r = await rig.cmd<Status>('recorder', 'status')
  if (!r.ok) throw new Error(`recorder.status: ${r.error.code}`)
  return r.result
}

t.test('a start whose deadline passed — sent late, or queued behind a slow stop — is answered TIMEOUT and never runs', async (t) => {
  const rig = await startTestRig(t, { node: 'deadline' })
  await rig.ready(['media', 'camera', 'recorder'])

  const late = await rig.cmd('recorder', 'start', { name: 'late' }, { deadline: Date.now() - 1000 })
  t.match(late, { ok: false, error: { code: 'TIMEOUT' } }, 'a deadline already past: TIMEOUT')

  // A session with bytes, so its stop waits out the post-roll tail and then finalizes: a
  // stop in flight for a good half second, behind which a start has to queue.
  const first = await rig.cmd<Session>('recorder', 'start', { name: 'first' })
  t.ok(first.ok, 'a start with no deadline runs')
  await waitFor(async () => ((await status(rig)).session?.bytes ?? 0) > 0, 30_000, 'the first session has bytes')
  const stop = rig.cmd('recorder', 'stop')
  await sleep(50)
  const queued = await rig.cmd('recorder', 'start', { name: 'ghost' }, { deadline: Date.now() + 150 })
  t.match(queued, { ok: false, error: { code: 'TIMEOUT' } }, 'queued behind the stop past its deadline: TIMEOUT')
  t.match(await stop, { ok: true, result: { name: 'first' } }, 'the stop ahead of it completes')

  await sleep(3000)
  t.equal((await status(rig)).state, 'idle', 'still idle seconds later: no ghost start')
  const dirs = await sessionDirs(rig)
  t.equal(dirs.length, 1, `one session dir only (${dirs.join(', ')})`)
})

t.test('idempotency keys survive a rig restart; other args → BAD_REQUEST; an error reply is not kept', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-keys-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))

  const first = await startTestRig(t, { node: 'keys', dataDir })
  await first.ready(['media', 'camera', 'recorder'])
  const started = await first.cmd<Session>('recorder', 'start', { name: 'nap' }, { idempotencyKey: 'click-1' })
  t.ok(started.ok, 'started')
  const again = await first.cmd<Session>('recorder', 'start', { name: 'nap' }, { idempotencyKey: 'click-1' })
  t.same(again.ok && again.result, started.ok && started.result, 'a retry gets the same reply')
  await waitFor(async () => ((await status(first)).session?.bytes ?? 0) > 0, 30_000, 'the session has bytes')
  t.match(await first.cmd('recorder', 'stop'), { ok: true })
  // A whole rig stop: the recorder's memory is gone, only the data dir remains.
  first.rig.requestShutdown('test: restart the rig')
  t.equal(await first.rig.exited, 0, 'the first rig stopped in order')

  const second = await startTestRig(t, { node: 'keys', dataDir })
  await second.ready(['media', 'camera', 'recorder'])
  const retried = await second.cmd<Session>('recorder', 'start', { name: 'nap' }, { idempotencyKey: 'click-1' })
  t.same(retried.ok && retried.result, started.ok && started.result, 'after the restart, a retry with the key gets the same reply (same session)')
  t.equal((await status(second)).state, 'idle', 'and nothing was started again')
  t.equal((await sessionDirs(second)).length, 1, 'one session on disk')

  const reused = await second.cmd('recorder', 'start', { name: 'other' }, { idempotencyKey: 'click-1' })
  t.match(reused, { ok: false, error: { code: 'BAD_REQUEST', details: { reason: 'idempotency key reused with other args' } } }, 'the same key with other args')
  t.equal((await status(second)).state, 'idle', 'ran nothing')

  // An error is not kept: the same key runs again once the error no longer holds.
  t.match(await second.cmd('recorder', 'stop', {}, { idempotencyKey: 'stop-1' }), { ok: false, error: { code: 'NOT_RECORDING' } })
  const other = await second.cmd<Session>('recorder', 'start', { name: 'second' }, { idempotencyKey: 'click-2' })
  t.ok(other.ok, 'a new key starts a new session')
  await waitFor(async () => ((await status(second)).session?.bytes ?? 0) > 0, 30_000, 'the second session has bytes')
  const stopped = await second.cmd<Session>('recorder', 'stop', {}, { idempotencyKey: 'stop-1' })
  t.match(stopped, { ok: true, result: { name: 'second' } }, 'the stop key that got an error before runs now')
})
