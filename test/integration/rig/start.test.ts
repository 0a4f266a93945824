import t from 'tap'
import { decodeJson } from '../../../infra/nats/codec.js'
import { startVigil } from '../../helpers/vigilProcess.js'
import { isAlive, waitFor } from '../../helpers/wait.js'

t.test('SIGTERM of a running `vigil start`: exit 0, shutdown_complete published, no child left', async (t) => {
  const vigil = await startVigil(t, { node: 'sigterm' })
  const nc = await vigil.client()
  const states: string[] = []
  nc.subscribe('vigil.sigterm.state.supervisor', {
    callback: (_e, msg) => {
      const d = decodeJson(msg.data)
      if (d.ok) states.push((d.value as { state: string }).state)
    },
  })
  const status = await vigil.running(nc)
  const pids = status.children.flatMap((c) => c.pids)
  t.ok(pids.length >= 1, `children own processes: ${pids.join(', ')}`)
  vigil.child.kill('SIGTERM')
  const exit = await vigil.exited
  t.same(exit, { code: 0, signal: null }, 'clean exit')
  // Published before the exit, but read from another socket than the exit is seen on: polled.
  await waitFor(() => states.includes('shutdown_complete'), 5000, 'shutdown_complete received').catch(() => {})
  t.same(states.slice(-2), ['shutting_down', 'shutdown_complete'], `shutdown_complete published last (saw ${states.join(', ')})`)
  await waitFor(() => pids.every((p) => !isAlive(p)), 5000, 'children gone')
  t.pass('no child process left')
  t.match(vigil.output(), /shutdown complete/)
})

t.test('SIGKILL of the supervisor takes its children with it', async (t) => {
  const vigil = await startVigil(t, { node: 'sigkill' })
  const nc = await vigil.client()
  const status = await vigil.running(nc)
  const pids = status.children.flatMap((c) => c.pids)
  t.ok(pids.length >= 1)
  await nc.close()
  vigil.child.kill('SIGKILL')
  await vigil.exited
  await waitFor(() => pids.every((p) => !isAlive(p)), 5000, 'children died with their parent')
  t.pass('nothing outlived the supervisor')
})
