import t from 'tap'
import Fastify from 'fastify'
import { createActor, type AnyActorRef } from 'xstate'
import { silentLogger } from '../../../infra/logger.js'
import { createSupervisor } from '../../../actors/supervisor/index.js'
import { machineChild } from '../../../actors/supervisor/machineChild.js'
import { inspectPlugin } from '../../../actors/inspect/routes.js'
import type { InspectEventEntry } from '../../../actors/inspect/events.js'
import { greeterMachine as greeter } from '../../helpers/greeter.js'
import { supervisedChild } from '../../helpers/supervised.js'
import { waitFor } from '../../helpers/wait.js'

const greeterChild = () => supervisedChild('greeter', () => machineChild(() => createActor(greeter)))

t.test('the timeline of every instance begins with its first event', async (t) => {
  const supervisor = createSupervisor({
    log: silentLogger(),
    alert: () => {},
    children: [greeterChild()],
  })
  const app = Fastify()
  await app.register(inspectPlugin({ supervisor: () => supervisor }))
  await app.ready()
  t.teardown(async () => {
    await supervisor.shutdown()
    await app.close()
  })
  supervisor.start()
  await waitFor(() => supervisor.state() === 'running', 5000, 'supervisor running')
  const first = supervisor.childActor('greeter')!.sessionId
  supervisor.restart('greeter')
  await waitFor(() => supervisor.children()[0]?.status === 'running' && supervisor.childActor('greeter')?.sessionId !== first, 5000, 'greeter restarted')
  const second = supervisor.childActor('greeter')!.sessionId

  const { events } = (await app.inject('/api/v1/inspect/events?child=greeter')).json() as { events: InspectEventEntry[] }
  t.same(
    events.map((e) => [e.instance, e.type]),
    [
      [first, 'HELLO'],
      [first, 'STOP'],
      [second, 'HELLO'],
    ],
    'both instances from their first event; the restart STOP between them',
  )
  t.ok(events[0]?.source, `HELLO came from the invoked helper (${events[0]?.source})`)
})

t.test('onChildActor: every new instance, until unsubscribed; a throwing listener does not stop the child', async (t) => {
  const supervisor = createSupervisor({
    log: silentLogger(),
    alert: () => {},
    children: [greeterChild()],
  })
  t.teardown(() => supervisor.shutdown())
  const seen: Array<{ id: string; sessionId: string }> = []
  const off = supervisor.onChildActor((id: string, actor: AnyActorRef) => seen.push({ id, sessionId: actor.sessionId }))
  supervisor.onChildActor(() => {
    throw new Error('a broken inspector')
  })
  supervisor.start()
  await waitFor(() => supervisor.state() === 'running', 5000, 'supervisor running despite the throwing listener')
  supervisor.restart('greeter')
  await waitFor(() => seen.length === 2 && supervisor.children()[0]?.status === 'running', 5000, 'the restart seen')
  off()
  supervisor.restart('greeter')
  await waitFor(() => supervisor.children()[0]?.restarts === 2 && supervisor.children()[0]?.status === 'running', 5000, 'restarted again')
  t.equal(seen.length, 2, 'one call per instance, none after off()')
  t.same(seen.map((s) => s.id), ['greeter', 'greeter'])
  t.not(seen[0]!.sessionId, seen[1]!.sessionId, 'each a new instance')
})
