import t from 'tap'
import { createActor, setup } from 'xstate'
import { createEventLog } from '../../../actors/inspect/events.js'

const machine = setup({ types: { events: {} as { type: 'GO'; password?: string } | { type: 'TICK'; n: number } } }).createMachine({
  id: 'm',
  initial: 'a',
  states: { a: { on: { GO: 'b' } }, b: { on: { TICK: 'b', GO: 'a' } } },
})

t.test('events with payload (redacted) and the state they led to; repeats folded', async (t) => {
  const log = createEventLog({ secrets: ['s3cret'] })
  const actor = createActor(machine).start()
  t.teardown(() => actor.stop())
  log.attach('m', actor as never)
  actor.send({ type: 'GO', password: 's3cret' })
  for (let n = 1; n <= 5; n++) actor.send({ type: 'TICK', n })
  actor.send({ type: 'GO' })
  const list = log.list({ child: 'm' })
  t.same(list.map((e) => [e.type, e.count, e.value]), [
    ['GO', 1, 'b'],
    ['TICK', 5, 'b'],
    ['GO', 1, 'a'],
  ])
  t.same(list[0]?.payload, { password: '[redacted]' })
  t.same(list[1]?.payload, { n: 5 }, 'a folded run keeps its last payload')
  t.same(log.list({ since: list[1]!.seq }).map((e) => e.type), ['GO'], 'since a seq')
  log.close()
})

t.test('a new instance is followed; the old one is let go', async (t) => {
  const log = createEventLog()
  const first = createActor(machine).start()
  log.attach('m', first as never)
  log.attach('m', first as never)
  first.send({ type: 'GO' })
  t.equal(log.list().length, 1, 'attached once')
  const second = createActor(machine).start()
  log.attach('m', second as never)
  first.send({ type: 'GO' })
  second.send({ type: 'GO' })
  const list = log.list({ child: 'm' })
  t.same(list.map((e) => e.instance), [first.sessionId, second.sessionId])
  first.stop()
  second.stop()
  log.close()
})
