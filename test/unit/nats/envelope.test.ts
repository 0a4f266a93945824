import t from 'tap'
import { Type } from '@sinclair/typebox'
import { MAX_COMMAND_BYTES, compileArgs, parseEnvelope } from '../../../infra/nats/envelope.js'

const bytes = (s: string) => new TextEncoder().encode(s)

t.test('accepted envelopes', async (t) => {
  t.same(parseEnvelope(new Uint8Array(0)), { ok: true, value: { args: {} } }, 'empty payload = no args')
  t.same(parseEnvelope(bytes('{}')), { ok: true, value: { args: {} } })
  t.same(parseEnvelope(bytes('{"args":{"name":"nap"}}')), { ok: true, value: { args: { name: 'nap' } } })
  t.same(parseEnvelope(bytes('{"args":{},"idempotencyKey":"k1"}')), { ok: true, value: { args: {}, idempotencyKey: 'k1' } })
  t.same(parseEnvelope({ args: { x: 1 } }), { ok: true, value: { args: { x: 1 } } }, 'an already parsed body')
  t.same(parseEnvelope(undefined), { ok: true, value: { args: {} } })
})

t.test('refused envelopes are BAD_REQUEST with a reason', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['malformed JSON', bytes('{"args":'), /not valid JSON/],
    ['not an object', bytes('[1,2]'), /must be a JSON object/],
    ['null', bytes('null'), /must be a JSON object/],
    ['a string', bytes('"start"'), /must be a JSON object/],
    ['unknown top-level key', bytes('{"args":{},"argz":1}'), /unknown request field: argz/],
    ['args not an object', bytes('{"args":[1]}'), /"args" must be a JSON object/],
    ['args a string', bytes('{"args":"nap"}'), /"args" must be a JSON object/],
    ['idempotencyKey not a string', bytes('{"idempotencyKey":5}'), /idempotencyKey/],
    ['empty idempotencyKey', bytes('{"idempotencyKey":""}'), /idempotencyKey/],
  ]
  for (const [name, payload, message] of cases) {
    const r = parseEnvelope(payload)
    t.equal(r.ok, false, name)
    if (!r.ok) {
      t.equal(r.error.code, 'BAD_REQUEST', name)
      t.match(r.error.message, message, name)
    }
  }
})

t.test('oversized payloads are refused before parsing', async (t) => {
  const big = bytes(JSON.stringify({ args: { blob: 'x'.repeat(MAX_COMMAND_BYTES) } }))
  const r = parseEnvelope(big)
  t.equal(r.ok, false)
  if (!r.ok) {
    t.equal(r.error.code, 'BAD_REQUEST')
    t.match(r.error.message, /limit is 65536/)
    t.same(r.error.details, { bytes: big.byteLength, limit: MAX_COMMAND_BYTES })
  }
  t.equal(parseEnvelope(bytes('{}'), 1).ok, false, 'the limit is configurable')
})

t.test('compiled args: defaults, unknown and wrong fields listed by path', async (t) => {
  const v = compileArgs(
    Type.Object({ name: Type.Optional(Type.String({ maxLength: 10 })), count: Type.Integer({ default: 3 }) }, { additionalProperties: false }),
  )
  t.same(v.validate({}), { ok: true, value: { count: 3 } }, 'defaults applied')
  const input = { name: 'nap' }
  t.same(v.validate(input), { ok: true, value: { name: 'nap', count: 3 } })
  t.same(input, { name: 'nap' }, "the caller's object is not mutated")
  const bad = v.validate({ name: 5, bogus: true })
  t.equal(bad.ok, false)
  if (!bad.ok) {
    t.equal(bad.error.code, 'BAD_REQUEST')
    t.match(bad.error.message, /\/name/)
    t.match(bad.error.message, /\/bogus/)
    const fields = (bad.error.details as { fields: Array<{ path: string }> }).fields.map((f) => f.path)
    t.ok(fields.includes('/name') && fields.includes('/bogus'), 'every bad field is listed')
  }
})
