/**
 * The embedded nats-server (DESIGN.md §9.1 "NATS credentials"): reachable from the network
 * only behind credentials (start refuses otherwise), and with nats.auth set it admits only
 * the rig's own credential, so another local user on the loopback port gets nothing.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runVigil } from '../../helpers/vigilProcess.js'
import { connect, nkeys } from '@nats-io/transport-node'
import { command } from '../../../infra/nats/client.js'
import { natsCredentialOptions } from '../../../infra/nats/credentials.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { waitFor } from '../../helpers/wait.js'

/** A start that is not refused runs until killed at the limit: a failure, not a stuck suite. */
const vigilStart = (cwd: string) => runVigil(['start'], { cwd, timeoutMs: 30_000 })

t.test('the embedded server bound to 0.0.0.0 without credentials: start refuses (exit 2), naming the fix', async (t) => {
  const dir = t.testdir({
    'vigil.config.json': JSON.stringify({ nats: { host: '0.0.0.0', port: 0, mqttPort: 0 }, web: { port: 0 }, media: { rtmpPort: 0, httpPort: 0 } }),
  })
  const run = await vigilStart(dir)
  t.equal(run.code, 2, run.stderr)
  t.match(run.stderr, /nats\.auth: required when the embedded nats-server binds nats\.host "0\.0\.0\.0", which is not loopback/)
  t.match(run.stderr, /VIGIL_NATS_NKEY/)
})

/** Each kind of credential the embedded server can require, with what the rig reads it from. */
const kinds: Array<{ kind: string; env: (dir: string) => Record<string, string>; wrong: Record<string, unknown> }> = [
  {
    kind: 'nkey',
    env: (dir) => {
      const seed = join(dir, 'rig.nk')
      writeFileSync(seed, new TextDecoder().decode(nkeys.createUser().getSeed()), { mode: 0o600 })
      return { VIGIL_NATS_NKEY: seed }
    },
    wrong: { authenticator: undefined, user: 'rig', pass: 'guess' },
  },
  { kind: 'user+password', env: () => ({ VIGIL_NATS_USER: 'rig', VIGIL_NATS_PASSWORD: 'a-long-random-password-1234' }), wrong: { user: 'rig', pass: 'guess' } },
  { kind: 'token', env: () => ({ VIGIL_NATS_TOKEN: 'a-long-random-token-abcdefgh' }), wrong: { token: 'guess' } },
]

for (const k of kinds) {
  t.test(`nats.auth (${k.kind}): the embedded server admits the rig's credential and no other`, async (t) => {
    const dir = t.testdir()
    const env = { VIGIL_NODE: 'solo', VIGIL_NATS_PORT: '0', VIGIL_MQTT_PORT: '0', ...k.env(dir) }
    // Probed every 100 ms: the liveness probe logs in as the rig too, or each probe is a miss and the server is restarted.
    const { rig, logLines } = await startEnvRig(t, env, (c) => (c.nats.probeIntervalMs = 100))
    const url = `nats://127.0.0.1:${rig.ports.nats}`
    // The same credential the CLI on this box would use (config → connect options).
    const { loadConfig } = await import('../../../infra/config/load.js')
    const creds = natsCredentialOptions(loadConfig({ env, cwd: dir }).nats)
    const nc = await connect({ servers: url, ...creds, maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: true })
    t.teardown(() => nc.close())
    await waitFor(async () => (await command(nc, 'solo', 'supervisor', 'status', {}, { timeoutMs: 1000 })).ok, 30_000, 'the rig answers over its own server', 100)
    t.pass('the rig and a client with its credential talk over the embedded server')
    // A second: ~10 probes; refused ones are logged as missed from the first, and 3 in a row restart the server.
    await new Promise((r) => setTimeout(r, 1000))
    t.same(logLines.filter((l) => /health probe missed|nats-server exited/.test(l)), [], 'every liveness probe answered, the server never restarted')
    await t.rejects(connect({ servers: url, maxReconnectAttempts: 0, timeout: 5000 }), { name: 'AuthorizationError' }, 'anonymous (another local user) refused')
    await t.rejects(connect({ servers: url, ...k.wrong, maxReconnectAttempts: 0, timeout: 5000 }), { name: 'AuthorizationError' }, 'a wrong credential refused')
    // The MQTT listener sits behind the same authorization block.
    const mqttPub = (extra: string[]) =>
      new Promise<number | null>((res) => execFile('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(rig.ports.mqtt), '-t', 'vigil/solo/probe', '-m', 'x', ...extra], (err) => res(err ? ((err as { code?: number }).code ?? 1) : 0)))
    if (existsSync('/usr/bin/mosquitto_pub')) {
      t.not(await mqttPub([]), 0, 'anonymous MQTT refused')
      if (k.kind === 'user+password') t.equal(await mqttPub(['-u', 'rig', '-P', 'a-long-random-password-1234']), 0, 'MQTT with the rig credential admitted')
      if (k.kind === 'token') t.equal(await mqttPub(['-u', 'vigil', '-P', 'a-long-random-token-abcdefgh']), 0, 'MQTT with the token as password admitted')
    }
    const conf = join(rig.dirs.root, 'nats-server.conf')
    t.equal(statSync(conf).mode & 0o777, 0o600, 'the generated server conf is 0600 (it may hold the password)')
  })
}

t.test('no nats.auth on loopback: the zero-config demo stays anonymous', async (t) => {
  const { rig } = await startEnvRig(t, { VIGIL_NODE: 'demo', VIGIL_NATS_PORT: '0', VIGIL_MQTT_PORT: '0' })
  const nc = await connect({ servers: `nats://127.0.0.1:${rig.ports.nats}`, maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: true })
  t.teardown(() => nc.close())
  await waitFor(async () => (await command(nc, 'demo', 'supervisor', 'status', {}, { timeoutMs: 1000 })).ok, 30_000, 'the demo rig answers', 100)
  t.pass('an anonymous client commands the demo rig')
})
