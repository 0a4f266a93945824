/**
 * DESIGN.md §9.4 "every rig seen": three rigs on a real three-server cluster made by
 * `vigil nats-config --cluster 3`, the bucket made by `vigil fleet init`, each rig logged
 * in with nothing but its env file. Rigs a and b run in this process (light rigs); rig c is
 * a process of its own, so it can be SIGKILLed (a crash: no goodbye).
 * All at the default heartbeat (10 s): the 35 s bound is the contract's, measured from the kill.
 */
import t, { type Test } from 'tap'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { nanos } from '@nats-io/transport-node'
import { command } from '../../../infra/nats/client.js'
import { KvWatchInclude } from '@nats-io/kv'
import type { Msg, NatsConnection } from '@nats-io/transport-node'
import { startNatsCluster, type TestNatsCluster } from '../../helpers/natsCluster.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { startLightRigProcess, type LightRigProcess } from '../../helpers/lightRigProcess.js'
import { spawn } from 'node:child_process'
import { envWithoutVigil, runVigil, vigilBin } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'
import { openRigsBucket, RIGS_STREAM, type RigSummary } from '../../../infra/nats/rigsBucket.js'
import type { Alert } from '../../../infra/alerts.js'

interface Seen {
  subject: string
  alert: Alert
  at: number
}

/** Every fleet alert on `vigil.*.alert.>`, as an operator's subscriber sees it. */
function followFleetAlerts(nc: NatsConnection): Seen[] {
  const seen: Seen[] = []
  nc.subscribe('vigil.*.alert.>', {
    callback: (err: Error | null, m: Msg) => {
      if (err) return
      const alert = m.json<Alert>()
      if (alert.source === 'fleet') seen.push({ subject: m.subject, alert, at: Date.now() })
    },
  })
  return seen
}

const about = (seen: Seen[], code: string, node: string) => seen.filter((s) => s.alert.code === code && s.alert.details['node'] === node)
const ids = (list: Seen[]) => [...new Set(list.map((s) => s.alert.id))]

/** The entries of vigil_rigs, kept up to date by an operator's watch. */
async function watchBucket(t: Test, nc: NatsConnection): Promise<Map<string, RigSummary>> {
  const kv = await openRigsBucket(nc, { create: false })
  const entries = new Map<string, RigSummary>()
  const iter = await kv.watch({ include: KvWatchInclude.LastValue })
  t.teardown(() => iter.stop())
  void (async () => {
    for await (const e of iter) if (e.operation === 'PUT') entries.set(e.key, e.json<RigSummary>())
  })()
  return entries
}

/** What VIGIL_ALERTS stored of the fleet's alerts: the dedup by Nats-Msg-Id at work. */
async function storedFleetAlerts(nc: NatsConnection): Promise<Alert[]> {
  const jsm = await jetstreamManager(nc)
  const info = await jsm.streams.info('VIGIL_ALERTS')
  const out: Alert[] = []
  if (info.state.messages === 0) return out
  const c = await jetstream(nc).consumers.get('VIGIL_ALERTS', { filter_subjects: 'vigil.*.alert.*.fleet' })
  const pending = (await c.info()).num_pending
  if (pending === 0) return out
  const msgs = await c.fetch({ max_messages: pending, expires: 5000 })
  for await (const m of msgs) {
    out.push(m.json<Alert>())
    if (m.info.pending === 0) break
  }
  return out
}

/** `vigil alerts --follow` as an operator runs it, stopped (SIGTERM) with the test. */
async function followWithCli(t: Test, cluster: TestNatsCluster): Promise<{ out: () => string }> {
  const child = spawn(process.execPath, [vigilBin, 'alerts', '--follow'], { env: envWithoutVigil({ ...(await cluster.env('ops')), VIGIL_NODE: 'ops' }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise((res) => child.once('exit', res))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  await waitFor(() => err.includes('following vigil.*.alert.>'), 30_000, `vigil alerts --follow subscribed\n${err}`)
  return { out: () => out }
}

async function operatorCli(cluster: TestNatsCluster, args: string[]) {
  return runVigil(args, { env: envWithoutVigil({ ...(await cluster.env('ops')), VIGIL_NODE: 'ops' }) })
}

t.test('a rig killed: one fleet.rig_offline (critical) within 35 s though two rigs see it; status lists it offline; back: one fleet.rig_online; a clean stop: a warning', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a', 'b', 'c'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops', { node: 'ops' })
  await cluster.jetStreamReady(ops)

  const init = await operatorCli(cluster, ['fleet', 'init'])
  t.equal(init.code, 0, `vigil fleet init: ${init.stdout}${init.stderr}`)
  t.match(init.stdout, /^vigil_rigs {2}ready \(R3\)$/m, 'the bucket, three replicas on a cluster of three')
  const si = await (await jetstreamManager(ops)).streams.info(RIGS_STREAM)
  t.equal(si.config.num_replicas, 3)

  const entries = await watchBucket(t, ops)
  const seen = followFleetAlerts(ops)
  await ops.flush()
  const follower = await followWithCli(t, cluster)

  await startEnvRig(t, await cluster.env('a'))
  await startEnvRig(t, await cluster.env('b'))
  let c: LightRigProcess = await startLightRigProcess(t, await cluster.env('c'))
  await waitFor(() => ['a', 'b', 'c'].every((n) => entries.has(n)), 60_000, `every rig's entry in vigil_rigs\n${c.output()}`)
  const cEntry = entries.get('c')!
  t.match(cEntry, { node: 'c', state: 'running', heartbeatS: 10, children: [] }, "c's summary: what supervisor.status says, and its heartbeat")
  t.ok(Date.parse(cEntry.seenAt) > 0, 'with seenAt')
  // a and b hear their own beats come back (so they judge others) before c dies: one beat of each.
  const firstSeen = new Map([...entries].map(([n, e]) => [n, e.seenAt]))
  await waitFor(() => ['a', 'b'].every((n) => entries.get(n)!.seenAt !== firstSeen.get(n)), 30_000, 'a second beat of a and b')

  // The crash.
  const killedAt = Date.now()
  c.child.kill('SIGKILL')
  await c.exited
  const lastSeen = entries.get('c')!.seenAt
  // Both observers raise it (under one id); a generous hang guard over the 35 s bound.
  await waitFor(() => new Set(about(seen, 'fleet.rig_offline', 'c').map((s) => s.subject)).size >= 2, 90_000, 'fleet.rig_offline for c from a and from b')
  const offline = about(seen, 'fleet.rig_offline', 'c')
  const first = Math.min(...offline.map((s) => s.at))
  t.comment(`SIGKILL → first fleet.rig_offline: ${first - killedAt} ms (last seen ${lastSeen}, ${first - Date.parse(lastSeen)} ms before it)`)
  t.ok(first - killedAt <= 35_000, `raised within 35 s of the kill (${first - killedAt} ms)`)
  t.ok(first - killedAt >= 20_000, `not before 3 heartbeats could have been missed (${first - killedAt} ms)`)
  t.same(ids(offline).length, 1, `one alert for the fleet: ${offline.length} messages (${offline.map((s) => s.subject).join(', ')}), one id`)
  t.same(offline.map((s) => s.subject).sort(), ['vigil.a.alert.critical.fleet', 'vigil.b.alert.critical.fleet'], "each on its observer's own subject")
  t.match(offline[0]!.alert, { severity: 'critical', source: 'fleet', details: { node: 'c', reason: 'silent', seenAt: lastSeen } })
  // `vigil alerts --follow` got both messages (same id) and prints one line.
  await waitFor(() => follower.out().includes('fleet.rig_offline'), 10_000, `vigil alerts --follow prints it\n${follower.out()}`)
  const lines = follower.out().split('\n').filter((l) => l.includes('fleet.rig_offline'))
  t.equal(lines.length, 1, `vigil alerts --follow: one line\n${lines.join('\n')}`)
  t.match(lines[0], /CRITICAL [ab]\/fleet {2}fleet\.rig_offline {2}rig c is silent: last seen /)
  const stored = await storedFleetAlerts(ops)
  t.equal(stored.filter((a) => a.code === 'fleet.rig_offline' && a.details['node'] === 'c').length, 1, 'VIGIL_ALERTS stored it once (Nats-Msg-Id)')

  // vigil status: a and b answer, c is remembered.
  const status = await operatorCli(cluster, ['status'])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /^a {2}running/m)
  t.match(status.stdout, /^b {2}running/m)
  t.match(status.stdout, new RegExp(`^c {2}offline {2}last seen ${lastSeen.replace(/[.]/g, '\\.')} \\(\\d+s ago\\) {2}was running$`, 'm'), `c offline with its last seenAt:\n${status.stdout}`)
  const json = await operatorCli(cluster, ['status', '--json'])
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { node: string; state: string; seenAt?: string })
  t.match(rows.find((r) => r.node === 'c'), { state: 'offline', seenAt: lastSeen, stopped: false })

  // Back.
  c = await startLightRigProcess(t, await cluster.env('c'))
  await waitFor(() => about(seen, 'fleet.rig_online', 'c').length >= 2, 60_000, `fleet.rig_online for c from a and b\n${c.output()}`)
  const online = about(seen, 'fleet.rig_online', 'c')
  t.equal(ids(online).length, 1, 'one online alert for the fleet')
  t.match(online[0]!.alert, { severity: 'info', code: 'fleet.rig_online', details: { node: 'c' } })
  t.equal(about(seen, 'fleet.rig_offline', 'c').length, offline.length, 'no second offline')

  // A clean stop: the goodbye makes it a warning, at once.
  const stoppedAt = Date.now()
  c.child.kill('SIGTERM')
  t.same(await c.exited, { code: 0, signal: null }, 'c stopped cleanly')
  await waitFor(() => about(seen, 'fleet.rig_offline', 'c').some((s) => s.alert.severity === 'warning'), 30_000, 'fleet.rig_offline (warning) for c')
  const stopped = about(seen, 'fleet.rig_offline', 'c').filter((s) => s.alert.severity === 'warning')
  t.comment(`SIGTERM → fleet.rig_offline (stopped): ${Math.min(...stopped.map((s) => s.at)) - stoppedAt} ms`)
  t.equal(ids(stopped).length, 1)
  t.match(stopped[0]!.alert, { severity: 'warning', details: { node: 'c', reason: 'stopped' } })
  t.equal(entries.get('c')!.goodbye, true, 'the goodbye is in the bucket')
  const after = await operatorCli(cluster, ['status'])
  t.match(after.stdout, /^c {2}offline \(stopped\) {2}last seen /m, after.stdout)
})

t.test("a rig's identity: puts its own key, watches the bucket, cannot write another rig's key or manage the bucket", async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a', 'b'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops', { node: 'ops' })
  await cluster.jetStreamReady(ops)
  const init = await operatorCli(cluster, ['fleet', 'init'])
  t.equal(init.code, 0, init.stderr)

  const asA = await cluster.connectAs('a')
  const kv = await openRigsBucket(asA, { node: 'a', create: false })
  await kv.put('a', JSON.stringify({ mine: true }))
  const seen: string[] = []
  const iter = await kv.watch()
  t.teardown(() => iter.stop())
  void (async () => {
    for await (const e of iter) seen.push(`${e.key}=${e.string()}`)
  })()
  const asB = await cluster.connectAs('b')
  await (await openRigsBucket(asB, { node: 'b', create: false })).put('b', '{"b":1}')
  await waitFor(() => seen.includes('a={"mine":true}') && seen.includes('b={"b":1}'), 20_000, "a's watch sees a's and b's keys")
  t.pass("a's watch sees every key")

  const forged = await kv.put('b', '{"forged":true}').then(() => undefined, (err: Error) => err)
  t.ok(forged, "a's put of b's key refused")
  t.match(forged?.message ?? '', /Permissions Violation for Publish to "\$KV\.vigil_rigs\.b"/, String(forged))
  const opsKv = await openRigsBucket(ops, { create: false })
  t.equal((await opsKv.get('b'))?.string(), '{"b":1}', "b's key unchanged")

  const denied = await openRigsBucket(asA, { node: 'a', create: true }).then(
    async () => (await jetstreamManager(asA, { checkAPI: false })).streams.delete(RIGS_STREAM).then(() => 'deleted', (e: Error) => e.message),
    (e: Error) => e.message,
  )
  t.match(denied, /permission/i, `a may not delete the bucket: ${denied}`)
  const purge = await kv.purge('b').then(() => 'purged', (e: Error) => e.message)
  t.not(purge, 'purged', `nor purge b's key (${purge})`)
  t.equal((await opsKv.get('b'))?.string(), '{"b":1}', "b's key still unchanged")
})

t.test("a rig's consumer right on the bucket cannot be aimed at another rig's commands", async (t) => {
  // The watch needs consumer create; a consumer names its deliver subject. An empty message
  // on vigil.b.cmd.supervisor.shutdown is a shutdown request (no args needed), and a push
  // consumer sends empty heartbeats: the server must not deliver there for a.
  const cluster = await startNatsCluster(t, { rigs: ['a', 'b'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops', { node: 'ops' })
  await cluster.jetStreamReady(ops)
  t.equal((await operatorCli(cluster, ['fleet', 'init'])).code, 0)
  const b = await startEnvRig(t, await cluster.env('b'))
  await waitFor(async () => (await command<{ state: string }>(ops, 'b', 'supervisor', 'status', {}, { timeoutMs: 2000 })).ok, 30_000, 'b answers')
  const asA = await cluster.connectAs('a')
  const jsm = await jetstreamManager(asA, { checkAPI: false })
  // Plainly, and in the service endpoints' queue group ("q": a push consumer delivers to a group only when named).
  for (const [name, group] of [['aimed', undefined], ['aimed-q', 'q']] as const) {
    const aimed = await jsm.consumers
      .add(RIGS_STREAM, { name, deliver_subject: 'vigil.b.cmd.supervisor.shutdown', ...(group ? { deliver_group: group } : { idle_heartbeat: nanos(500) }), filter_subject: '$KV.vigil_rigs.a', ack_policy: AckPolicy.None })
      .then(() => 'created', (e: Error) => e.message)
    t.comment(`a consumer aimed at b's shutdown${group ? ` (group ${group})` : ''}: ${aimed}`)
  }
  // The control: the same consumer aimed at a's own inbox, made after it, gets a's put.
  const mine: string[] = []
  asA.subscribe('_INBOX_a.control', { callback: (_e, m) => void mine.push(m.subject) })
  await asA.flush()
  await jsm.consumers.add(RIGS_STREAM, { name: 'control', deliver_subject: '_INBOX_a.control', idle_heartbeat: nanos(500), filter_subject: '$KV.vigil_rigs.a', ack_policy: AckPolicy.None })
  asA.publish('$KV.vigil_rigs.a', '')
  await waitFor(() => mine.length > 0 && mine.length >= 3, 20_000, "the control consumer's delivery and heartbeats")
  t.equal(b.rig.supervisor.state(), 'running', 'b did not shut down')
  const still = await command<{ state: string }>(ops, 'b', 'supervisor', 'status', {}, { timeoutMs: 3000 })
  t.ok(still.ok && still.result.state === 'running', 'b still answers, running')
})

t.test('a rig started before `vigil fleet init` says so once, and writes its entry once the bucket is there', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops', { node: 'ops' })
  await cluster.jetStreamReady(ops)
  // A short heartbeat (fleet.heartbeatS): the retries come every second.
  const a = await startEnvRig(t, await cluster.env('a'), (c) => (c.fleet.heartbeatS = 1))
  const said = () => a.logLines.filter((l) => l.includes('vigil_rigs bucket is not usable yet'))
  await waitFor(() => said().length > 0, 30_000, 'the rig says the bucket is not there')
  const init = await operatorCli(cluster, ['fleet', 'init'])
  t.equal(init.code, 0, init.stderr)
  const entries = await watchBucket(t, ops)
  await waitFor(() => entries.get('a')?.heartbeatS === 1, 30_000, "a's entry after fleet init")
  t.equal(said().length, 1, 'said once, not per heartbeat')
  await waitFor(() => a.logLines.some((l) => l.includes('the vigil_rigs bucket works again')), 10_000, 'and that it works now')
})
