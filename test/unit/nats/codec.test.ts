import t from 'tap'
import { headers } from '@nats-io/transport-node'
import { decodeJson, encodeJson, headersWithTrace, isTraceId, newTraceId, traceIdOf } from '../../../infra/nats/codec.js'
import { TRACE_HEADER, parseCommandSubject, subjects } from '../../../infra/subjects.js'

t.test('JSON round trip', async (t) => {
  const value = { a: 1, b: ['x', null], c: { d: 'é' } }
  const decoded = decodeJson(encodeJson(value))
  t.same(decoded, { ok: true, value })
  t.same(decodeJson('"text"'), { ok: true, value: 'text' })
})

t.test('decode never throws', async (t) => {
  const bad = decodeJson(new TextEncoder().encode('{"args": {'))
  t.equal(bad.ok, false)
  t.match(!bad.ok && bad.message, /not valid JSON/)
  const notUtf8 = decodeJson(new Uint8Array([0xff, 0xfe, 0x7b]))
  t.same(notUtf8, { ok: false, message: 'payload is not valid UTF-8' })
  t.equal(decodeJson('').ok, false)
})

t.test('trace ids', async (t) => {
  const id = newTraceId()
  t.match(id, /^[0-9a-f]{32}$/)
  t.not(newTraceId(), id)
  t.ok(isTraceId('abc-123_x.y:z'))
  t.notOk(isTraceId(''))
  t.notOk(isTraceId('a\nb'), 'no newlines into log lines')
  t.notOk(isTraceId('x'.repeat(129)), 'bounded')
})

t.test('traceIdOf reads the header, in any case, or makes one', async (t) => {
  t.equal(traceIdOf({ headers: headersWithTrace('given-1') }), 'given-1')
  const lower = headers()
  lower.set('vigil-trace-id', 'lower-2')
  t.equal(traceIdOf({ headers: lower }), 'lower-2')
  t.match(traceIdOf({}), /^[0-9a-f]{32}$/)
  t.match(traceIdOf(undefined), /^[0-9a-f]{32}$/)
  const hostile = headers()
  hostile.set(TRACE_HEADER, 'has space')
  t.match(traceIdOf({ headers: hostile }), /^[0-9a-f]{32}$/, 'an unusable id is replaced')
})

t.test('headersWithTrace', async (t) => {
  t.equal(headersWithTrace('t-1').get(TRACE_HEADER), 't-1')
  t.match(headersWithTrace().get(TRACE_HEADER), /^[0-9a-f]{32}$/)
})

t.test('the subjects the router and bus use', async (t) => {
  t.equal(subjects.command('rig-1', 'recorder', 'start'), 'vigil.rig-1.cmd.recorder.start')
  t.equal(subjects.commandsOf('rig-1'), 'vigil.rig-1.cmd.>')
  t.equal(subjects.state('rig-1', 'camera'), 'vigil.rig-1.state.camera')
  t.equal(subjects.alert('rig-1', 'critical', 'recorder'), 'vigil.rig-1.alert.critical.recorder')
  t.equal(subjects.event('rig-1', 'recording.started'), 'vigil.rig-1.event.recording.started')
  t.throws(() => subjects.command('rig-1', 'rec.order', 'start'), /invalid actor/)
  t.throws(() => subjects.state('rig 1', 'camera'), /invalid node/)
  t.same(parseCommandSubject('vigil.rig-1.cmd.recorder.start'), { node: 'rig-1', actor: 'recorder', verb: 'start' })
  t.equal(parseCommandSubject('vigil.rig-1.cmd.recorder'), null)
  t.equal(parseCommandSubject('vigil.rig-1.cmd.recorder.start.now'), null)
})
