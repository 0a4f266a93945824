/**
 * The media server's warm spare (`media.warmSpare`, actors/media/spare.ts): a second server
 * process, loaded and waiting for its secret, holding no port. A restart (crash or freeze)
 * activates it instead of forking node anew, and a new spare follows; the rig's stop ends it.
 * Whole rig (media, camera, …) in this process; the restart's speed is the bench's to time.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startTestRig, type TestRig } from '../../helpers/rig.js'
import { processesMentioning, waitProcState } from '../../helpers/procs.js'
import { isAlive, waitFor } from '../../helpers/wait.js'
import { waitCameraStreaming } from '../pipeline/common.js'

/** The media server processes of this rig: node running server.ts with this rig's media dir. */
const mediaServers = async (r: TestRig) =>
  (await processesMentioning(join(r.rig.dirs.root, 'media'))).filter((p) => p.cmd.includes('server.ts') && !p.cmd.startsWith('setpriv'))

/** Listening TCP ports of a pid (from /proc/net/tcp and its fds): a spare must hold none. */
async function listens(pid: number): Promise<boolean> {
  const { readdir, readlink } = await import('node:fs/promises')
  const inodes = new Set<string>()
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
    const m = /^socket:\[(\d+)\]$/.exec(link)
    if (m) inodes.add(m[1]!)
  }
  const table = [await readFile('/proc/net/tcp', 'utf8').catch(() => ''), await readFile('/proc/net/tcp6', 'utf8').catch(() => '')].join('\n')
  // State 0A is LISTEN; the inode is the 10th column.
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/)
    return f[3] === '0A' && inodes.has(f[9] ?? '')
  })
}

t.test('warm spare: waits without a port, a SIGKILL and a freeze each start the spare, a new one follows, the rig stop ends it', async (t) => {
  const r = await startTestRig(t, { node: 'spare', configure: (c) => (c.media.warmSpare = true) })
  await r.ready(['media', 'camera'])
  await waitCameraStreaming(r)
  const active = () => r.child('media').then((m) => m.pids[0]!)
  // The spare is forked 5 s after the server is ready (never beside a restart).
  const spareOf = async (activePid: number) => (await mediaServers(r)).map((p) => p.pid).find((p) => p !== activePid) ?? null
  let activePid = await active()
  let spare: number | null = null
  await waitFor(async () => (spare = await spareOf(activePid)) !== null, 30000, 'a spare media server', 200)
  t.ok(spare, `spare ${spare} beside the active server ${activePid}`)
  // Loaded: give it the time a cold start takes before relying on it.
  await new Promise((res) => setTimeout(res, 2500))
  t.notOk(await listens(spare!), 'the spare holds no port (it has no secret yet)')
  t.ok(await listens(activePid), 'the active server listens')
  t.same((await r.child('media')).pids, [activePid], 'the media child lists only the active server')

  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    const restarts = (await r.child('media')).restarts
    const before = activePid
    const expected = spare!
    process.kill(before, fault)
    if (fault === 'SIGSTOP') t.equal(await waitProcState(before, 'T'), 'T', 'frozen')
    await waitFor(async () => {
      const m = await r.child('media').catch(() => null)
      return m?.status === 'running' && m.restarts > restarts && m.pids[0] !== before
    }, 30000, `media running again after ${fault}`, 50)
    activePid = await active()
    t.equal(activePid, expected, `${fault}: the restart activated the spare (${expected})`)
    t.ok(await listens(activePid), `${fault}: the spare serves now`)
    await waitFor(() => !isAlive(before), 10000, `old server ${before} gone`)
    await waitCameraStreaming(r)
    spare = null
    await waitFor(async () => (spare = await spareOf(activePid)) !== null, 30000, 'the next spare', 200)
    t.ok(spare && spare !== before, `${fault}: a new spare ${spare} waits`)
    await new Promise((res) => setTimeout(res, 2500))
  }

  // The rig's stop: nothing of the media server is left (the spare included).
  const last = spare!
  r.rig.requestShutdown('test')
  await r.rig.exited
  await waitFor(() => !isAlive(last), 10000, `the spare ${last} ended with the rig`)
  t.same(await mediaServers(r), [], 'no media server process left after the rig stopped')
})
