/**
 * DESIGN.md §9.4: one server of three SIGKILLed under traffic, commands are answered again
 * within 10 s. A light rig from its generated env file, on a cluster from `vigil
 * nats-config --cluster 3`; the server it is connected to is the one killed, while an
 * operator's client keeps asking it for `supervisor.status` (and the rig keeps raising
 * alerts, the traffic).
 */
import t from 'tap'
import { command } from '../../../infra/nats/client.js'
import { startNatsCluster } from '../../helpers/natsCluster.js'
import { startEnvRig } from '../../helpers/securedNats.js'
import { waitFor } from '../../helpers/wait.js'

t.test('the server a rig is on is SIGKILLed: its commands are answered again within 10 s', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['f1'], operators: ['ops'] })
  const ops = await cluster.connectAs('ops')
  const { rig } = await startEnvRig(t, await cluster.env('f1'))
  await waitFor(() => rig.bus.stats().server !== undefined, 20_000, 'the rig connected')
  const ask = () => command(ops, 'f1', 'supervisor', 'status', {}, { timeoutMs: 500 })
  const first = await ask()
  t.ok(first.ok, 'answered before the kill')

  const server = rig.bus.stats().server!
  const index = cluster.urls.findIndex((u) => u.endsWith(`:${server.split(':').at(-1)}`)) + 1
  t.ok(index >= 1, `the rig is on server ${index} (${server})`)
  // Traffic: an alert every 20 ms from the rig until the end.
  let n = 0
  const traffic = setInterval(() => rig.alert({ source: 'test', severity: 'info', code: 'test.traffic', message: `traffic ${n++}` }), 20)
  t.teardown(() => clearInterval(traffic))
  await new Promise((r) => setTimeout(r, 500))

  const killedAt = Date.now()
  await cluster.kill(index)
  // The operator's client may itself have been on that server: it reconnects too. Every
  // try is bounded (500 ms); the first ok answer ends the wait.
  let answeredAfterMs = -1
  let failures = 0
  while (Date.now() - killedAt < 30_000) {
    const r = await ask().catch(() => null)
    if (r?.ok) {
      answeredAfterMs = Date.now() - killedAt
      break
    }
    failures++
    await new Promise((res) => setTimeout(res, 50))
  }
  clearInterval(traffic)
  t.comment(`server ${index} SIGKILLed: supervisor.status answered again after ${answeredAfterMs} ms (${failures} tries failed meanwhile); the rig is now on ${rig.bus.stats().server ?? '?'}`)
  t.ok(answeredAfterMs >= 0 && answeredAfterMs <= 10_000, `answered again within 10 s (${answeredAfterMs} ms)`)
  t.not(rig.bus.stats().server, server, 'the rig moved to another server')
})
