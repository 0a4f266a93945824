/**
 * DESIGN.md §9.4 with a real `vigil start` (camera, recorder, media, web: the whole tree) as
 * the rig that dies: SIGKILL of the process, then a restart, then a clean stop by SIGTERM.
 * Its fleet.heartbeatS is 2 (its config file), so the silence is 6 s; the observers (light
 * rigs a and b in this process) keep the default. rigPresence.test.ts holds the 35 s bound at
 * the defaults.
 */
import t from 'tap'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KvWatchInclude } from '@nats-io/kv'
import type { Msg } from '@nats-io/transport-node'
import { startNatsCluster } from '../../helpers/natsCluster.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { envWithoutVigil, runVigil, startVigil, TEST_VIGIL_CONFIG } from '../../helpers/vigilProcess.js'
import { waitFor } from '../../helpers/wait.js'
import { openRigsBucket, type RigSummary } from '../../../infra/nats/rigsBucket.js'
import type { Alert } from '../../../infra/alerts.js'

t.test('a real vigil start SIGKILLed: one fleet.rig_offline; restarted: one fleet.rig_online; SIGTERM: a stopped warning', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['a', 'b', 'c'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops', { node: 'ops' })
  await cluster.jetStreamReady(ops)
  const opsEnv = envWithoutVigil({ ...(await cluster.env('ops')), VIGIL_NODE: 'ops' })
  const init = await runVigil(['fleet', 'init'], { env: opsEnv })
  t.equal(init.code, 0, init.stderr)

  const kv = await openRigsBucket(ops, { create: false })
  const entries = new Map<string, RigSummary>()
  const iter = await kv.watch({ include: KvWatchInclude.LastValue })
  t.teardown(() => iter.stop())
  void (async () => {
    for await (const e of iter) if (e.operation === 'PUT') entries.set(e.key, e.json<RigSummary>())
  })()
  const seen: Array<{ subject: string; alert: Alert; at: number }> = []
  ops.subscribe('vigil.*.alert.>', {
    callback: (err: Error | null, m: Msg) => {
      if (err) return
      const alert = m.json<Alert>()
      if (alert.source === 'fleet' && alert.details['node'] === 'c') seen.push({ subject: m.subject, alert, at: Date.now() })
    },
  })
  await ops.flush()
  const of = (code: string, severity: string) => seen.filter((s) => s.alert.code === code && s.alert.severity === severity)

  await startEnvRig(t, await cluster.env('a'))
  await startEnvRig(t, await cluster.env('b'))
  const confDir = await mkdtemp(join(tmpdir(), 'vigil-fleet-conf-'))
  t.teardown(() => rm(confDir, { recursive: true, force: true }))
  const config = join(confDir, 'vigil.config.json')
  await writeFile(config, JSON.stringify({ ...TEST_VIGIL_CONFIG, fleet: { heartbeatS: 2 } }))
  const cEnv = { ...(await cluster.env('c')), VIGIL_CONFIG: config }
  const startC = () => startVigil(t, { node: 'c', env: cEnv })

  let c = await startC()
  await waitFor(() => entries.get('c')?.state === 'running' && entries.get('c')!.children.some((k) => k.id === 'camera' && k.status === 'running'), 90_000, `c running with its camera in vigil_rigs\n${c.output()}`)
  t.match(entries.get('c'), { heartbeatS: 2, ports: { nats: null } }, "c's summary: the whole tree, on the cluster (no embedded server)")
  // a and b have heard their own beats (their default 10 s) before c dies.
  const first = { a: entries.get('a')?.seenAt, b: entries.get('b')?.seenAt }
  await waitFor(() => entries.get('a')?.seenAt !== first.a && entries.get('b')?.seenAt !== first.b, 30_000, 'a and b beat again')

  const killedAt = Date.now()
  c.child.kill('SIGKILL')
  await c.exited
  await waitFor(() => new Set(of('fleet.rig_offline', 'critical').map((s) => s.subject)).size === 2, 60_000, 'fleet.rig_offline for c from a and b')
  const offline = of('fleet.rig_offline', 'critical')
  const took = Math.min(...offline.map((s) => s.at)) - killedAt
  t.comment(`SIGKILL of vigil start → fleet.rig_offline: ${took} ms at fleet.heartbeatS 2`)
  t.ok(took <= 3 * 2000 + 2000, `within 3 heartbeats and a beat (${took} ms)`)
  t.equal(new Set(offline.map((s) => s.alert.id)).size, 1, 'one id for the fleet')

  const status = await runVigil(['status'], { env: opsEnv })
  t.match(status.stdout, /^c {2}offline {2}last seen \S+ \(\d+s ago\) {2}was running$/m, status.stdout)

  c = await startC()
  await waitFor(() => of('fleet.rig_online', 'info').length >= 2, 90_000, `fleet.rig_online for c\n${c.output()}`)
  t.equal(new Set(of('fleet.rig_online', 'info').map((s) => s.alert.id)).size, 1, 'one online alert for the fleet')

  // Wait for the whole tree: a stop in the middle of starting is a stop too, but says less.
  await waitFor(() => entries.get('c')?.children.every((k) => k.status === 'running') === true, 90_000, 'c running again')
  c.child.kill('SIGTERM')
  t.same(await c.exited, { code: 0, signal: null }, 'a clean stop')
  await waitFor(() => of('fleet.rig_offline', 'warning').length > 0, 30_000, 'the stopped warning')
  t.match(of('fleet.rig_offline', 'warning')[0]!.alert.details, { node: 'c', reason: 'stopped' })
  t.equal(entries.get('c')?.goodbye, true)
  t.equal(of('fleet.rig_offline', 'critical').length, offline.length, 'no silent alert after the goodbye')
})
