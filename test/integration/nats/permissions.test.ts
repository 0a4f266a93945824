/**
 * DESIGN.md §9.1 "Per-rig permissions" against a real nats-server running the conf
 * `vigil nats-config --rigs a,b --operators ops` wrote (TLS-only, with a test CA): two
 * rigs run from their env files; an operator commands both; rig a's identity can neither
 * command b, nor hear b's commands, nor answer in b's service group (the forged-reply
 * finding of issue 13), nor read b's replies or alerts; anonymous clients are refused.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { envWithoutVigil, runVigil } from '../../helpers/vigilProcess.js'
import { connect, nkeys, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { Type } from '@sinclair/typebox'
import { command } from '../../../infra/nats/client.js'
import { decodeJson } from '../../../infra/nats/codec.js'
import type { Rig } from '../../../actors/rig/index.js'
import { startEnvRig, startSecuredBus } from '../../helpers/securedNats.js'
import { waitFor } from '../../helpers/wait.js'

const bus = await startSecuredBus(t, { rigs: ['a', 'b'], operators: ['ops'], tls: true })

/** recorder.status as a counting stand-in: what b executed is what this counter saw. */
function countStatus(rig: Rig): { calls: number } {
  const seen = { calls: 0 }
  rig.router.register({
    actor: 'recorder',
    verb: 'status',
    description: 'session state (test stand-in)',
    readOnly: true,
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => {
      seen.calls++
      return { state: 'idle', session: null, node: rig.node }
    },
  })
  return seen
}

const a = await startEnvRig(t, await bus.env('a'))
const b = await startEnvRig(t, await bus.env('b'))
const aStatus = countStatus(a.rig)
const bStatus = countStatus(b.rig)
const ops = await bus.connectAs('ops')
await waitFor(async () => (await command(ops, 'a', 'supervisor', 'status', {}, { timeoutMs: 2000 })).ok && (await command(ops, 'b', 'supervisor', 'status', {}, { timeoutMs: 2000 })).ok, 30_000, 'both rigs answer the operator', 200)
// Rig a's own credentials, as another program on rig a's box (or a rig taken over) would use them.
const asA = await bus.connectAs('a')

/** Resolves with the error that closed the subscription (a refusal), or null if it stayed open past a round trip. */
async function refusal(nc: NatsConnection, sub: Subscription): Promise<Error | null> {
  const closed = sub.closed.then((v) => (v instanceof Error ? v : null))
  await nc.flush()
  // The server answers a SUB with -ERR before the PONG of the flush that follows it.
  return Promise.race([closed, nc.flush().then(() => (sub.isClosed() ? closed : null))])
}

t.test('an operator commands each rig: supervisor.status and recorder.status answered', async (t) => {
  for (const node of ['a', 'b']) {
    const s = await command<{ node: string; state: string }>(ops, node, 'supervisor', 'status')
    t.ok(s.ok, `supervisor.status of ${node}`)
    if (s.ok) t.equal(s.result.node, node)
    const r = await command<{ node: string }>(ops, node, 'recorder', 'status')
    t.ok(r.ok && r.result.node === node, `recorder.status answered by ${node} itself`)
  }
})

t.test("rig a's identity cannot command rig b: refused, and nothing runs on b", async (t) => {
  const before = bStatus.calls
  const status = await command(asA, 'b', 'recorder', 'status', {}, { timeoutMs: 3000 })
  t.notOk(status.ok, 'recorder.status of b refused')
  if (!status.ok) t.match(status.error.message, /may not send to vigil\.b\.cmd\.recorder\.status/)
  const shutdown = await command(asA, 'b', 'supervisor', 'shutdown', {}, { timeoutMs: 3000 })
  t.notOk(shutdown.ok, 'supervisor.shutdown of b refused')
  t.equal(bStatus.calls, before, 'b executed nothing')
  const still = await command<{ state: string }>(ops, 'b', 'supervisor', 'status')
  t.ok(still.ok && still.result.state === 'running', 'b still runs')
  const own = await command(asA, 'a', 'recorder', 'status')
  t.ok(own.ok, 'while a may still ask itself (its own subjects)')
})

t.test("rig a's identity cannot listen to b's commands", async (t) => {
  const err = await refusal(asA, asA.subscribe('vigil.b.cmd.>'))
  t.match(err?.message, /Permissions Violation for Subscription to "vigil\.b\.cmd\.>"/)
  const all = await refusal(asA, asA.subscribe('vigil.*.cmd.>'))
  t.match(all?.message, /Permissions Violation/, 'nor every rig\'s commands')
})

t.test("rig a's identity cannot answer in b's service queue group (forged replies)", async (t) => {
  // The attack of the finding: join b's group and answer b's requests with a forged reply.
  const err = await refusal(asA, asA.subscribe('vigil.b.cmd.recorder.status', {
      queue: 'q',
      callback: (e, m) => {
        if (!e) m.respond('{"ok":true,"result":{"forged":true}}')
      },
    }))
  t.match(err?.message, /Permissions Violation for Subscription to "vigil\.b\.cmd\.recorder\.status"/)
  const before = bStatus.calls
  for (let i = 0; i < 20; i++) {
    const r = await command<{ node: string; forged?: boolean }>(ops, 'b', 'recorder', 'status')
    t.ok(r.ok && r.result.node === 'b' && r.result.forged === undefined, `request ${i + 1}: b's own reply`)
  }
  t.equal(bStatus.calls - before, 20, 'b answered all 20')
})

t.test("rig a's identity reads none of b's replies, state or alerts, and cannot publish as b", async (t) => {
  for (const subject of ['_INBOX_b.>', '_INBOX.>', 'vigil.b.alert.>', 'vigil.*.state.>', '>']) {
    const err = await refusal(asA, asA.subscribe(subject))
    t.match(err?.message, /Permissions Violation for Subscription/, `subscribe ${subject} refused`)
  }
  const seen: string[] = []
  const watch = ops.subscribe('vigil.*.alert.>', {
    callback: (e, m) => {
      if (!e) seen.push(m.subject)
    },
  })
  t.teardown(() => watch.unsubscribe())
  await ops.flush()
  asA.publish('vigil.b.alert.critical.camera', '{"forged":true}')
  // One connection's messages arrive in order: once the marker is in, the forged one never will be.
  asA.publish('vigil.a.alert.info.marker', '{}')
  await waitFor(() => seen.includes('vigil.a.alert.info.marker'), 10_000, 'the marker alert')
  t.same(seen, ['vigil.a.alert.info.marker'], 'nothing published under b')
})

t.test('anonymous clients and unknown keys are refused', async (t) => {
  const tls = { caFile: (await bus.env('ops'))['VIGIL_NATS_CA']! }
  await t.rejects(connect({ servers: bus.server.url, tls, maxReconnectAttempts: 0, timeout: 5000 }), { name: 'AuthorizationError' }, 'no credentials')
  await t.rejects(connect({ servers: bus.server.url, user: 'ops', pass: 'guess', tls, maxReconnectAttempts: 0, timeout: 5000 }), { name: 'AuthorizationError' }, 'a guessed password')
})

t.test('the bus is TLS-only: a plaintext client gets nowhere', async (t) => {
  await t.rejects(connect({ servers: bus.server.url, tls: null, maxReconnectAttempts: 0, timeout: 5000 }))
})

t.test('a rig without stream rights just publishes, and says so once', async (t) => {
  const said = (r: { logLines: string[] }) => r.logLines.filter((l) => l.includes('may not manage JetStream streams')).length
  t.equal(said(a), 1, 'rig a: one line')
  t.equal(said(b), 1, 'rig b: one line')
  t.notOk(a.logLines.some((l) => /"level":(50|60)/.test(l) && l.includes('jetstream')), 'no error lines about JetStream')
  // Its state reached the bus all the same.
  const state = await new Promise<Record<string, unknown>>((resolve) => {
    const sub = ops.subscribe('vigil.a.state.>', {
      callback: (_e, m) => {
        const d = decodeJson(m.data)
        if (d.ok) {
          sub.unsubscribe()
          resolve(d.value as Record<string, unknown>)
        }
      },
    })
    void ops.flush().then(() => a.rig.bus.publishState('probe', 'running'))
  })
  t.equal(state['node'], 'a')
})

t.test('a rig whose key the server does not know: one critical alert and a log line, and it keeps trying', async (t) => {
  const dir = t.testdir()
  const seed = join(dir, 'stranger.nk')
  writeFileSync(seed, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 })
  const env = { ...(await bus.env('a')), VIGIL_NODE: 'stranger', VIGIL_NATS_NKEY: seed }
  const stranger = await startEnvRig(t, env)
  await waitFor(() => stranger.rig.alerts.list().some((a) => a.code === 'nats.login_refused'), 30_000, 'nats.login_refused')
  const alerts = stranger.rig.alerts.list().filter((a) => a.code === 'nats.login_refused')
  t.equal(alerts.length, 1)
  t.equal(alerts[0]!.severity, 'critical')
  t.equal(stranger.logLines.filter((l) => l.includes('nats-server refuses this login')).length, 1, 'said once, not per attempt')
  t.equal(stranger.rig.supervisor.state(), 'running', 'the rig runs on (capture and recording do not need the bus)')
})

/** `vigil …` as a separate process with only the given env (plus PATH/HOME): the CLI as an operator runs it. */
const vigil = (args: string[], env: Record<string, string>) => runVigil(args, { cwd: bus.dir, env: envWithoutVigil(env) })

t.test('the CLI talks to the TLS-only bus with the env file of an operator, or with flags', async (t) => {
  const opsEnv = await bus.env('ops')
  const status = await vigil(['status'], opsEnv)
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /^a {2}running/m, 'discovers rig a')
  t.match(status.stdout, /^b {2}running/m, 'discovers rig b')
  const cmd = await vigil(['cmd', 'recorder', 'status', '--node', 'b'], opsEnv)
  t.equal(cmd.code, 0, cmd.stderr)
  t.match(cmd.stdout, /"node": "b"/)
  // The same with flags only: the seed file and the CA named on the command line.
  const flags = await vigil(['status', '--node', 'a', '--server', opsEnv['VIGIL_NATS_SERVERS']!, '--nkey', opsEnv['VIGIL_NATS_NKEY']!, '--ca', opsEnv['VIGIL_NATS_CA']!], {})
  t.equal(flags.code, 0, flags.stderr)
  t.match(flags.stdout, /^a {2}running/m)
  const anonymous = await vigil(['status', '--node', 'a', '--server', opsEnv['VIGIL_NATS_SERVERS']!, '--ca', opsEnv['VIGIL_NATS_CA']!], {})
  t.equal(anonymous.code, 1)
  t.match(anonymous.stderr, /refused the login/)
  // Rig a's env on its own box: it may ask itself, not b.
  const aEnv = await bus.env('a')
  const self = await vigil(['cmd', 'supervisor', 'status'], aEnv)
  t.equal(self.code, 0, self.stderr)
  const other = await vigil(['cmd', 'supervisor', 'status', '--node', 'b'], aEnv)
  t.equal(other.code, 1)
  t.match(other.stderr, /may not send to vigil\.b\.cmd\.supervisor\.status/)
})

t.test('the streams are an operator\'s to make (vigil fleet init); a rig\'s identity may not', async (t) => {
  const byRig = await vigil(['fleet', 'init'], await bus.env('a'))
  t.equal(byRig.code, 1)
  t.match(byRig.stderr, /VIGIL_ALERTS {2}failed: this identity may not manage streams/)
  t.match(byRig.stderr, /vigil_rigs {2}failed: this identity may not manage streams/, 'nor the fleet bucket')
  const byOps = await vigil(['fleet', 'init'], await bus.env('ops'))
  t.equal(byOps.code, 0, byOps.stderr)
  t.match(byOps.stdout, /^VIGIL_ALERTS {2}ready$/m)
  t.match(byOps.stdout, /^VIGIL_STATE {2}ready$/m)
  t.match(byOps.stdout, /^vigil_rigs {2}ready \(R1\)$/m, 'the fleet bucket, one replica on one server')
})
