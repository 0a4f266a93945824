import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import type { AnyActorRef } from 'xstate'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { natsServerChild, type NatsServerConfig } from '../../../actors/nats/index.js'
import { topStateName } from '../../../machines/stateName.js'
import type { ChildExit, ChildInstance } from '../../../actors/supervisor/child.js'
import { freePort, natsServerBinary, repoRoot } from '../../helpers/natsServer.js'

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

interface Started {
  child: ChildInstance
  processes: ProcessOwner
  ready: Promise<void>
  exit: Promise<ChildExit>
  snapshot(): { value: unknown; context: { port: number | null; pids: number[] } }
}

/** Starts the child the way the supervisor does; every process is killed in teardown. */
async function startChild(t: Tap, overrides: Partial<NatsServerConfig> = {}): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-nats-child-'))
  const processes = new ProcessOwner()
  const config: NatsServerConfig = {
    port: await freePort(),
    host: '127.0.0.1',
    storeDir: join(dir, 'jetstream'),
    confFile: join(repoRoot, 'nats.conf'),
    binary: natsServerBinary(),
    ...overrides,
  }
  const child = natsServerChild({ config, processes, log: silentLogger(), stopGraceMs: 5000 })()
  t.teardown(async () => {
    child.kill()
    processes.killAll()
    await until(() => processes.pids().length === 0, 'owned processes to exit')
    await rm(dir, { recursive: true, force: true })
  })
  let onReady!: () => void
  let onExit!: (e: ChildExit) => void
  const ready = new Promise<void>((r) => (onReady = r))
  const exit = new Promise<ChildExit>((r) => (onExit = r))
  child.start({ onReady, onExit })
  const actor = child.actor as AnyActorRef
  return { child, processes, ready, exit, snapshot: () => actor.getSnapshot() }
}

type Tap = { teardown(fn: () => unknown): void }

t.test('starts, reports ready and its pid, stops cleanly', async (t) => {
  const s = await startChild(t)
  await s.ready
  const pids = s.child.pids()
  t.equal(pids.length, 1)
  t.ok(alive(pids[0]!), 'the reported pid is a live process')
  t.same(s.processes.pids(), pids, 'owned by the ProcessOwner')
  t.equal(topStateName(s.snapshot().value), 'running', 'running (probing between substates)')
  const port = s.snapshot().context.port!
  const nc = await connect({ servers: `nats://127.0.0.1:${port}` })
  t.ok((await nc.rtt()) >= 0, 'clients can connect')
  t.ok(nc.info?.jetstream, 'JetStream is on')
  await nc.close()

  s.child.stop()
  const exit = await s.exit
  t.same(exit, { normal: true, reason: 'stopped' })
  await until(() => !alive(pids[0]!), 'the server process to be gone')
  t.same(s.child.pids(), [])
})

t.test('SIGKILL of the server ends the machine in failed with a reason', async (t) => {
  const s = await startChild(t)
  await s.ready
  const [pid] = s.child.pids()
  process.kill(pid!, 'SIGKILL')
  const exit = await s.exit
  t.equal(exit.normal, false)
  t.match(exit.reason, /killed by SIGKILL/)
  t.equal(s.snapshot().value, 'failed')
})

t.test('a port already in use fails with a reason naming the port', async (t) => {
  const blocker: Server = createServer()
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())))
  const addr = blocker.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  const s = await startChild(t, { port })
  let readyCalled = false
  void s.ready.then(() => (readyCalled = true))
  const exit = await s.exit
  t.equal(exit.normal, false)
  t.match(exit.reason, /already in use/)
  t.match(exit.reason, new RegExp(`:${port}\\b`))
  t.notOk(readyCalled, 'never reported ready (the TCP probe alone would have been fooled)')
  t.equal(s.snapshot().value, 'failed')
})

t.test('port 0 picks a free port and reports it', async (t) => {
  const s = await startChild(t, { port: 0 })
  await s.ready
  const port = s.snapshot().context.port
  t.ok(port && port > 0, `listening on ${port}`)
  const nc = await connect({ servers: `nats://127.0.0.1:${port}` })
  await nc.close()
  s.child.stop()
  t.same(await s.exit, { normal: true, reason: 'stopped' })
})

t.test('a missing binary fails with a reason', async (t) => {
  const s = await startChild(t, { binary: '/nonexistent/nats-server' })
  const exit = await s.exit
  t.equal(exit.normal, false)
  t.match(exit.reason, /nats-server/)
})
