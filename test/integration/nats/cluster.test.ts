import t from 'tap'
import { jetstreamManager, jetstream } from '@nats-io/jetstream'
import { startNatsCluster } from '../../helpers/natsCluster.js'

t.test('a three-server cluster from vigil nats-config: JetStream R3 stream, leader kill, restart', async (t) => {
  const cluster = await startNatsCluster(t, { rigs: ['rig1'], operators: ['ops'] })
  const nc = await cluster.connectAs('ops')
  await cluster.jetStreamReady(nc)
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: 'T', subjects: ['t.>'], num_replicas: 3 })
  const js = jetstream(nc)
  await js.publish('t.a', 'x')
  const leader = await cluster.streamLeader(nc, 'T')
  t.ok(leader !== undefined && leader >= 1 && leader <= 3, `stream leader is server ${leader}`)
  await cluster.kill(leader!)
  t.equal(cluster.server(leader!), undefined, 'killed server is gone')
  await cluster.restart(leader!)
  t.ok(cluster.server(leader!)?.pid, 'restarted')
})
