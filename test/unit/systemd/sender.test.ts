import t from 'tap'
import { EventEmitter } from 'node:events'
import { PassThrough } from 'node:stream'
import type { spawn } from 'node:child_process'
import { createSdNotifySender } from '../../../actors/systemd/sender.js'
import { silentLogger } from '../../../infra/logger.js'

/** A stand-in for child_process.spawn: records each run; the test ends them. */
function fakeSpawn() {
  const runs: Array<{ args: string[]; env: NodeJS.ProcessEnv; child: EventEmitter & { pid?: number; stderr: PassThrough; kill: () => void } }> = []
  const fn = ((_file: string, args: string[], opts: { env: NodeJS.ProcessEnv }) => {
    const child = Object.assign(new EventEmitter(), { pid: 1000 + runs.length, stderr: new PassThrough(), kill: () => child.emit('exit', null, 'SIGKILL') })
    runs.push({ args, env: opts.env, child })
    return child
  }) as unknown as typeof spawn
  return { fn, runs }
}

t.test('one helper at a time; what arrives meanwhile goes out merged in the next', async (t) => {
  const { fn, runs } = fakeSpawn()
  const sender = createSdNotifySender({ socket: '/run/notify', pid: 42, log: silentLogger(), spawn: fn })
  sender.send({ watchdog: true })
  sender.send({ status: 'a' })
  sender.send({ ready: true, status: 'b' })
  t.equal(runs.length, 1, 'the second and third wait')
  t.same(runs[0]!.args, ['--pid=42', 'WATCHDOG=1'])
  t.same(Object.keys(runs[0]!.env).sort(), ['NOTIFY_SOCKET', 'PATH'], 'the helper gets the socket (and PATH), nothing else of ours')
  t.equal(runs[0]!.env.NOTIFY_SOCKET, '/run/notify')
  runs[0]!.child.emit('exit', 0, null)
  t.equal(runs.length, 2)
  t.same(runs[1]!.args, ['--pid=42', 'READY=1', 'STATUS=b'], 'merged: flags kept, the newest status')
  const drained = sender.drain(5000)
  runs[1]!.child.emit('exit', 0, null)
  await drained
  t.equal(runs.length, 2, 'nothing left')
})

t.test('a missing binary: logged once, then every message is dropped (no crash, no retry storm)', async (t) => {
  const warnings: string[] = []
  const log = Object.assign(silentLogger(), { warn: (_o: unknown, m: string) => warnings.push(m) })
  const sender = createSdNotifySender({ socket: '/run/notify', pid: 42, log, binary: '/nonexistent/systemd-notify' })
  sender.send({ ready: true })
  await sender.drain(5000)
  sender.send({ watchdog: true })
  await sender.drain(5000)
  t.equal(warnings.length, 1, warnings.join(' | '))
  t.match(warnings[0], /not found/)
})

t.test('a helper that hangs is killed after timeoutMs and the queue moves on', async (t) => {
  const { fn, runs } = fakeSpawn()
  const sender = createSdNotifySender({ socket: '/run/notify', pid: 42, log: silentLogger(), spawn: fn, timeoutMs: 20 })
  sender.send({ watchdog: true })
  sender.send({ stopping: true })
  await new Promise((r) => setTimeout(r, 100))
  t.equal(runs.length, 2, 'the hung one was killed (exit SIGKILL), the next ran')
  t.same(runs[1]!.args, ['--pid=42', 'STOPPING=1'])
  runs[1]!.child.emit('exit', 0, null)
})
