import t from 'tap'
import { ProcessOwner, childEnv } from '../../../infra/process.js'

t.test('children never see systemd\'s notify variables', async (t) => {
  const env = { PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1', HOME: '/x' }
  t.same(childEnv(env), { PATH: '/usr/bin', HOME: '/x' })
  t.equal(env.NOTIFY_SOCKET, '/run/systemd/notify', 'the caller\'s env is left alone')
})

t.test('a process spawned by ProcessOwner gets the environment without them', async (t) => {
  const owner = new ProcessOwner()
  const p = owner.spawn('/usr/bin/env', [], { name: 'env', env: { PATH: '/usr/bin:/bin', NOTIFY_SOCKET: '@/org/test', WATCHDOG_USEC: '2000000', KEEP: '1' } })
  let out = ''
  p.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c))
  const exit = await p.exited
  t.ok(exit.normal, exit.reason)
  t.match(out, /^KEEP=1$/m)
  t.notMatch(out, /NOTIFY_SOCKET|WATCHDOG_/)
})
