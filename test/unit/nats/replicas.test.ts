import t from 'tap'
import { replicasFor } from '../../../infra/nats/streams.js'

t.test('replicas from the server INFO: 3 on a cluster of three or more, 1 otherwise', async (t) => {
  t.equal(replicasFor(undefined), 1, 'no INFO yet')
  t.equal(replicasFor({}), 1, 'a single server')
  t.equal(replicasFor({ cluster: 'vigil', connect_urls: ['a:1', 'b:1'] }), 1, 'a cluster of two cannot keep a quorum through a loss')
  t.equal(replicasFor({ cluster: 'vigil', connect_urls: ['a:1', 'b:1', 'c:1'] }), 3)
  t.equal(replicasFor({ cluster: 'vigil', connect_urls: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1'] }), 3, 'R3 on five servers too')
})
