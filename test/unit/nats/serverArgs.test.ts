import t from 'tap'
import { natsServerArgs, portFromPortsFile, probeHost } from '../../../actors/nats/serverArgs.js'

const config = { port: 4222, host: '127.0.0.1', storeDir: '/data/jetstream', confFile: '/repo/nats.conf', binary: 'nats-server' }

t.test('command line', async (t) => {
  t.same(natsServerArgs(config), [
    '-c', '/repo/nats.conf', '-a', '127.0.0.1', '-p', '4222', '-js', '-sd', '/data/jetstream', '--ports_file_dir', '/data/jetstream',
  ])
  const any = natsServerArgs({ ...config, port: 0 })
  t.equal(any[any.indexOf('-p') + 1], '-1', 'port 0 becomes nats-server\'s "random port"')
})

t.test('probe host', async (t) => {
  t.equal(probeHost('0.0.0.0'), '127.0.0.1')
  t.equal(probeHost('::'), '::1')
  t.equal(probeHost('[::1]'), '::1')
  t.equal(probeHost('10.0.0.5'), '10.0.0.5')
})

t.test('ports file', async (t) => {
  t.equal(portFromPortsFile('{"nats":["nats://127.0.0.1:46485"]}'), 46485)
  t.equal(portFromPortsFile('{"nats":["nats://[::1]:4333"]}'), 4333)
  t.equal(portFromPortsFile('{"nats":'), null, 'half written')
  t.equal(portFromPortsFile('{}'), null)
  t.equal(portFromPortsFile('{"nats":[5]}'), null)
})
