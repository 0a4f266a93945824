import t from 'tap'
import { Type } from '@sinclair/typebox'
import { systemClock } from '../../../infra/clock.js'
import { VigilError } from '../../../infra/errors.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter, type CommandRecord } from '../../../infra/nats/commands.js'

/** The in-process path (what the HTTP API uses): same validation and mapping as over NATS. */
function router() {
  const records: CommandRecord[] = []
  const r = createCommandRouter({ node: 'rig', log: silentLogger(), clock: systemClock, onCommand: (rec) => records.push(rec) })
  r.register({
    actor: 'recorder',
    verb: 'start',
    description: 'start a session',
    args: Type.Object({ name: Type.Optional(Type.String()) }, { additionalProperties: false }),
    handler: async (args, ctx) => ({ name: args.name ?? null, traceId: ctx.traceId, key: ctx.idempotencyKey ?? null, source: ctx.source }),
  })
  r.register({
    actor: 'recorder',
    verb: 'stop',
    description: 'stop',
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => {
      throw new VigilError('NOT_RECORDING', 'nothing is recording', { state: 'idle' })
    },
  })
  r.register({
    actor: 'recorder',
    verb: 'status',
    description: 'status',
    readOnly: true,
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => {
      throw new TypeError('boom')
    },
  })
  return { r, records }
}

t.test('a valid command returns its result and is recorded', async (t) => {
  const { r, records } = router()
  const reply = await r.dispatch('recorder', 'start', { args: { name: 'nap' }, idempotencyKey: 'k1' }, { traceId: 'trace-1' })
  t.same(reply, { ok: true, result: { name: 'nap', traceId: 'trace-1', key: 'k1', source: 'http' } })
  t.equal(records.length, 1)
  t.match(records[0], { node: 'rig', traceId: 'trace-1', actor: 'recorder', verb: 'start', ok: true, code: 'OK', source: 'http', idempotencyKey: 'k1' })
  t.type(records[0]!.ms, 'number')
})

t.test('error mapping', async (t) => {
  const { r, records } = router()
  t.same(await r.dispatch('recorder', 'stop', {}), { ok: false, error: { code: 'NOT_RECORDING', message: 'nothing is recording', details: { state: 'idle' } } })
  // The handler's own words stay in the log (issue 13): the caller gets the code and the trace id.
  const internal = await r.dispatch('recorder', 'status', undefined, { traceId: 'trace-boom' })
  t.same(internal, { ok: false, error: { code: 'INTERNAL', message: "internal error; the rig's log has the detail under trace trace-boom", details: { traceId: 'trace-boom' } } })
  const unknownVerb = await r.dispatch('recorder', 'pause', {})
  t.match(unknownVerb, { ok: false, error: { code: 'BAD_REQUEST', message: /known verbs of recorder: start, status, stop/ } })
  const unknownActor = await r.dispatch('toaster', 'on', {})
  t.match(unknownActor, { ok: false, error: { code: 'BAD_REQUEST', message: /unknown actor toaster; known actors: recorder/ } })
  const badArg = await r.dispatch('recorder', 'start', { args: { nmae: 'x' } })
  t.match(badArg, { ok: false, error: { code: 'BAD_REQUEST', message: /\/nmae/ } })
  t.same(
    records.map((x) => x.code),
    ['NOT_RECORDING', 'INTERNAL', 'BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST'],
  )
})

t.test('a given trace id is kept, a bad one replaced', async (t) => {
  const { r } = router()
  const ok = await r.dispatch('recorder', 'start', {}, { traceId: 'bad id\n' })
  t.match(ok, { ok: true, result: { traceId: /^[0-9a-f]{32}$/ } })
})

t.test('setAccepting(false) refuses every command', async (t) => {
  const { r } = router()
  r.setAccepting(false)
  t.match(await r.dispatch('recorder', 'start', {}), { ok: false, error: { code: 'SHUTTING_DOWN' } })
  t.match(await r.dispatch('recorder', 'status', {}), { ok: false, error: { code: 'SHUTTING_DOWN' } })
  r.setAccepting(true)
  t.match(await r.dispatch('recorder', 'start', {}), { ok: true })
})

t.test('registration', async (t) => {
  const { r } = router()
  t.throws(() => r.register({ actor: 'recorder', verb: 'start', description: '', args: Type.Object({}), handler: async () => ({}) }), /already registered/)
  t.throws(() => r.register({ actor: 'Bad.Actor', verb: 'x', description: '', args: Type.Object({}), handler: async () => ({}) }), /invalid actor/)
  t.same(
    r.commands().map((c) => [c.subject, c.readOnly]),
    [
      ['vigil.rig.cmd.recorder.start', false],
      ['vigil.rig.cmd.recorder.stop', false],
      ['vigil.rig.cmd.recorder.status', true],
    ],
  )
})

t.test('a throwing onCommand hook does not break the command', async (t) => {
  const r = createCommandRouter({
    node: 'rig',
    log: silentLogger(),
    clock: systemClock,
    onCommand: () => {
      throw new Error('disk full')
    },
  })
  r.register({ actor: 'a', verb: 'b', description: '', args: Type.Object({}), handler: async () => undefined })
  t.same(await r.dispatch('a', 'b', {}), { ok: true, result: {} }, 'undefined result becomes {}')
})
