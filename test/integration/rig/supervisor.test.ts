import t, { type Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node'
import { loadConfig } from '../../../infra/config/load.js'
import { silentLogger } from '../../../infra/logger.js'
import { ProcessOwner } from '../../../infra/process.js'
import { command } from '../../../infra/nats/client.js'
import { decodeJson } from '../../../infra/nats/codec.js'
import { startRig } from '../../../actors/rig/index.js'
import { startNatsServer } from '../../helpers/natsServer.js'
import { processChild } from '../../helpers/processChild.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

type Status = { state: string; children: Array<{ id: string; state: string; restarts: number; pids: number[] }> }

/** Collects every message on a subject so a test can wait for one that matches. */
function collect(nc: NatsConnection, subject: string) {
  const seen: Array<{ subject: string; data: Record<string, unknown>; traceId: string | undefined }> = []
  const sub = nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      const decoded = decodeJson(msg.data)
      if (decoded.ok) seen.push({ subject: msg.subject, data: decoded.value as Record<string, unknown>, traceId: msg.headers?.get('Vigil-Trace-Id') })
    },
  })
  return { seen, sub }
}

async function rigWithTestChildren(t: Test, over: (c: ReturnType<typeof loadConfig>) => void = () => {}) {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const dataDir = await mkdtemp(join(tmpdir(), 'vigil-rig-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const config = loadConfig({
    env: { VIGIL_NATS_SERVERS: nats.url, VIGIL_DATA_DIR: dataDir, VIGIL_NODE: 'rigtest', VIGIL_WEB_PORT: '0', VIGIL_MEDIA_RTMP_PORT: '0', VIGIL_MEDIA_HTTP_PORT: '0' },
    cwd: dataDir,
  })
  config.supervisor.backoff = { initialMs: 300, factor: 2, maxMs: 5000, jitter: 0, resetAfterMs: 60000 }
  config.supervisor.shutdownMs = 1500
  over(config)
  const processes = new ProcessOwner()
  t.teardown(() => processes.killAll())
  const rig = await startRig({
    config,
    log: silentLogger(),
    processes,
    children: (ctx, spec) => [
      spec('worker', { factory: processChild(ctx.processes, 'worker') }),
      spec('stubborn', { factory: processChild(ctx.processes, 'stubborn', 'sh', ['-c', 'trap "" TERM; while :; do sleep 1; done']) }),
    ],
  })
  const client = await connect({ servers: nats.url })
  t.teardown(() => client.close())
  return { rig, client, nats, processes }
}

const status = async (nc: NatsConnection) => {
  const reply = await command<Status>(nc, 'rigtest', 'supervisor', 'status', {}, { timeoutMs: 3000 })
  if (!reply.ok) throw new Error(`status failed: ${reply.error.code}`)
  return reply.result
}

t.test('a killed child is restarted at once, killed again after its backoff; state changes and alerts are published', async (t) => {
  const { rig, client } = await rigWithTestChildren(t)
  const states = collect(client, 'vigil.rigtest.state.>')
  const alerts = collect(client, 'vigil.rigtest.alert.>')
  await waitFor(async () => (await status(client).catch(() => null))?.state === 'running', 15000, 'rig running')
  const restarting = () => alerts.seen.filter((a) => a.data.code === 'supervisor.child_restarting')
  const worker = async () => (await status(client)).children.find((c) => c.id === 'worker')!

  // The first crash after a stable run: restarted with no wait (DESIGN.md §9.5).
  const before = await worker()
  t.equal(before.pids.length, 1, 'the worker owns one process')
  process.kill(before.pids[0]!, 'SIGKILL')
  await waitFor(() => restarting().length >= 1, 10000, 'restart alert')
  const first = restarting()[0]!
  t.equal(first.subject, 'vigil.rigtest.alert.warning.worker')
  t.match(first.data, { node: 'rigtest', source: 'worker', severity: 'warning', count: 1, details: { delayMs: 0, attempt: 1 } })
  t.match(first.data.message, /killed by SIGKILL/)
  t.ok(first.traceId, 'alerts carry a trace id header')
  await waitFor(async () => {
    const w = await worker()
    return w.state === 'running' && w.pids[0] !== before.pids[0]
  }, 10000, 'worker back with a new pid')
  const middle = await worker()

  // The second in a row waits its backoff (300 ms in this rig's spec).
  const killedAt = performance.now()
  process.kill(middle.pids[0]!, 'SIGKILL')
  await waitFor(() => restarting().some((a) => (a.data['details'] as { attempt?: number } | undefined)?.attempt === 2), 10000, 'second restart alert')
  t.match(restarting().find((a) => (a.data['details'] as { attempt?: number } | undefined)?.attempt === 2)!.data, { details: { delayMs: 300, attempt: 2 } })
  await waitFor(async () => {
    const w = await worker()
    return w.state === 'running' && w.pids[0] !== middle.pids[0]
  }, 10000, 'worker back again with a new pid')
  const restartedAfterMs = performance.now() - killedAt
  t.ok(restartedAfterMs >= 290, `restarted no sooner than the 300 ms backoff (${Math.round(restartedAfterMs)} ms)`)
  const after = await worker()
  t.equal(after.restarts, 2)
  t.ok(states.seen.some((s) => s.subject === 'vigil.rigtest.state.worker' && s.data.state === 'restarting'), 'state change published')
  t.ok(isAlive(after.pids[0]!))
  rig.requestShutdown('test')
  t.equal(await rig.exited, 0, 'orderly stop, though stubborn needed a kill')
  t.notOk(isAlive(after.pids[0]!), 'no child process left')
})

t.test('bad requests get BAD_REQUEST and the router lives on; restart and shutdown over NATS', async (t) => {
  const { rig, client } = await rigWithTestChildren(t)
  const states = collect(client, 'vigil.rigtest.state.supervisor')
  await waitFor(async () => (await status(client).catch(() => null))?.state === 'running', 15000, 'rig running')
  const malformed = await client.request('vigil.rigtest.cmd.supervisor.status', '{not json', { timeout: 3000 })
  t.match(decodeJson(malformed.data), { ok: true, value: { ok: false, error: { code: 'BAD_REQUEST' } } }, 'malformed JSON')
  const unknownVerb = await command(client, 'rigtest', 'supervisor', 'explode', {}, { timeoutMs: 3000 })
  t.match(unknownVerb, { ok: false, error: { code: 'BAD_REQUEST' } }, 'unknown verb')
  const unknownArg = await command(client, 'rigtest', 'supervisor', 'restart', { child: 'worker', force: true }, { timeoutMs: 3000 })
  t.match(unknownArg, { ok: false, error: { code: 'BAD_REQUEST' } }, 'unknown arg')
  const noSuchChild = await command(client, 'rigtest', 'supervisor', 'restart', { child: 'nope' }, { timeoutMs: 3000 })
  t.match(noSuchChild, { ok: false, error: { code: 'NOT_FOUND' } })
  t.equal((await status(client)).state, 'running', 'still answering')

  const pid = (await status(client)).children.find((c) => c.id === 'worker')!.pids[0]!
  const restarted = await command(client, 'rigtest', 'supervisor', 'restart', { child: 'worker' }, { timeoutMs: 3000 })
  t.match(restarted, { ok: true, result: { child: 'worker', accepted: true } })
  await waitFor(async () => {
    const w = (await status(client)).children.find((c) => c.id === 'worker')!
    return w.state === 'running' && w.pids[0] !== pid
  }, 10000, 'operator restart')
  t.notOk(isAlive(pid), 'old process stopped')

  const listed = await command<{ alerts: unknown[] }>(client, 'rigtest', 'alerts', 'list', {}, { timeoutMs: 3000 })
  t.ok(listed.ok, 'alerts.list answers')

  const all = (await status(client)).children.flatMap((c) => c.pids)
  const shutdown = await command(client, 'rigtest', 'supervisor', 'shutdown', {}, { timeoutMs: 3000 })
  t.match(shutdown, { ok: true })
  t.equal(await rig.exited, 0)
  // The rig's client flushed it to the server before the exit; reaching this client is a hop later.
  await waitFor(() => states.seen.some((s) => s.data.state === 'shutdown_complete'), 5000, 'shutdown_complete received').catch(() => {})
  t.ok(states.seen.some((s) => s.data.state === 'shutdown_complete'), 'shutdown_complete published')
  for (const p of all) t.notOk(isAlive(p), `pid ${p} gone`)
})

t.test('a second shutdown request forces: exit 1, everything killed', async (t) => {
  const { rig, client } = await rigWithTestChildren(t, (c) => {
    c.supervisor.shutdownMs = 60000
  })
  await waitFor(async () => (await status(client).catch(() => null))?.state === 'running', 15000, 'rig running')
  const pids = (await status(client)).children.flatMap((c) => c.pids)
  rig.requestShutdown('SIGTERM')
  const during = await command(client, 'rigtest', 'supervisor', 'status', {}, { timeoutMs: 3000 })
  t.match(during, { ok: false, error: { code: 'SHUTTING_DOWN' } }, 'commands refused while shutting down')
  rig.requestShutdown('SIGTERM again')
  t.equal(await rig.exited, 1)
  await waitFor(() => pids.every((p) => !isAlive(p)), 5000, 'children killed')
  t.pass('no child left')
})
