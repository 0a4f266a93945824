/**
 * Issue 13 (hygiene) finding 4: command args are attacker-shaped JSON. A `__proto__`,
 * `constructor` or `prototype` key anywhere (in args or the envelope) used to slip past
 * the unknown-key check (the clone with defaults turns `__proto__` into a prototype), and
 * args nested 30 000 deep (arrays; objects 10 000 under the 64 KiB limit) overflowed the stack (INTERNAL and an error log per request).
 * Both are BAD_REQUEST with a clear message, before the handler or the schema sees them,
 * through a real nats-server, and nothing is logged above info.
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { Type } from '@sinclair/typebox'
import { connect } from '@nats-io/transport-node'
import { systemClock } from '../../infra/clock.js'
import { createCommandRouter } from '../../infra/nats/commands.js'
import { request } from '../../infra/nats/client.js'
import { subjects } from '../../infra/subjects.js'
import { startNatsServer } from '../helpers/natsServer.js'
import { startTestRig } from '../helpers/rig.js'

const nested = (depth: number, leaf = '1') => '{"a":'.repeat(depth - 1) + `{"a":${leaf}}` + '}'.repeat(depth - 1)
const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)

t.test('prototype keys and deep nesting in args are BAD_REQUEST, never run, never INTERNAL', async (t) => {
  const nats = await startNatsServer({ jetstream: false })
  t.teardown(() => nats.stop())
  const lines: Array<{ level: number; msg: string }> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { level: number; msg: string })
      done()
    },
  })
  const router = createCommandRouter({ node: 'shape', log: pino({ level: 'debug' }, sink), clock: systemClock })
  const ran: unknown[] = []
  const handler = async (args: unknown) => {
    ran.push(args)
    return { polluted: ({} as Record<string, unknown>)['polluted'] ?? null }
  }
  router.register({
    actor: 'recorder',
    verb: 'start',
    description: 'like recorder.start',
    args: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }, { additionalProperties: false }),
    handler,
  })
  router.register({
    actor: 'motion',
    verb: 'configure',
    description: 'nested args, open-ended map',
    args: Type.Object({ zone: Type.Optional(Type.Object({ x: Type.Optional(Type.Number()) }, { additionalProperties: false })), tags: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, { additionalProperties: false }),
    handler,
  })
  const nc = await connect({ servers: nats.url })
  t.teardown(() => nc.close())
  await router.listen(nc)
  t.teardown(() => router.close())

  const start = subjects.command('shape', 'recorder', 'start')
  const configure = subjects.command('shape', 'motion', 'configure')
  const cases: Array<{ name: string; subject: string; payload: string; message: RegExp }> = [
    { name: '__proto__ in args', subject: start, payload: '{"args":{"__proto__":{"polluted":true}}}', message: /__proto__/ },
    { name: '__proto__ with a valid name', subject: start, payload: '{"args":{"name":"nap","__proto__":{"polluted":true}}}', message: /__proto__/ },
    { name: 'constructor.prototype in args', subject: start, payload: '{"args":{"constructor":{"prototype":{"polluted":true}}}}', message: /constructor/ },
    { name: 'prototype in args', subject: start, payload: '{"args":{"prototype":{"polluted":true}}}', message: /prototype/ },
    { name: '__proto__ nested in args', subject: configure, payload: '{"args":{"zone":{"x":1,"__proto__":{"polluted":true}}}}', message: /__proto__/ },
    { name: '__proto__ in an open map', subject: configure, payload: '{"args":{"tags":{"a":[{"__proto__":{"polluted":true}}]}}}', message: /__proto__/ },
    { name: 'constructor in an open map', subject: configure, payload: '{"args":{"tags":{"constructor":1}}}', message: /constructor/ },
    { name: '__proto__ in the envelope', subject: start, payload: '{"args":{},"__proto__":{"polluted":true}}', message: /__proto__/ },
    { name: '10 000 nested objects', subject: configure, payload: `{"args":{"tags":${nested(10_000)}}}`, message: /deeper than 32/ },
    { name: '30 000 nested arrays', subject: start, payload: `{"args":{"name":${arrays(30_000)}}}`, message: /deeper than 32/ },
    { name: '33 levels', subject: configure, payload: `{"args":${nested(33)}}`, message: /deeper than 32/ },
  ]
  for (const c of cases) {
    const res = await request(nc, c.subject, c.payload, { timeoutMs: 10_000 })
    t.notOk(res.ok, `${c.name}: refused`)
    if (res.ok) continue
    t.equal(res.error.code, 'BAD_REQUEST', `${c.name}: ${res.error.code} ${res.error.message.slice(0, 200)}`)
    t.match(res.error.message, c.message, `${c.name}: says why`)
  }
  t.same(ran, [], 'no handler ran')
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched')

  // The limit is 32: 32 levels of args are looked at by the schema, not refused for depth.
  const at32 = await request(nc, configure, `{"args":{"tags":${nested(31)}}}`, { timeoutMs: 10_000 })
  t.ok(at32.ok, `32 levels deep is accepted: ${JSON.stringify(at32).slice(0, 200)}`)
  const fine = await request(nc, start, '{"args":{"name":"nap"}}', { timeoutMs: 10_000 })
  t.ok(fine.ok, 'an ordinary command still runs')

  const loud = lines.filter((l) => l.level >= 40)
  t.same(loud.map((l) => l.msg), [], 'nothing logged at warn or error')
})

t.test('HTTP bodies: the same keys and depth are 400 JSON, never 500', async (t) => {
  const r = await startTestRig(t, { node: 'shapehttp' })
  await r.ready(['web', 'recorder'], 90_000)
  const url = `http://127.0.0.1:${r.rig.ports.web}/api/v1/recorder/start`
  const bodies: Array<[string, string]> = [
    ['__proto__', '{"__proto__":{"name":"x"}}'],
    ['constructor.prototype', '{"constructor":{"prototype":{"name":"x"}}}'],
    ['prototype', '{"prototype":{"name":"x"}}'],
    ['__proto__ under name', '{"name":{"__proto__":{"a":1}}}'],
    ['30 000 nested arrays', `{"name":${arrays(30_000)}}`],
    ['10 000 nested objects', `{"name":${nested(10_000)}}`],
  ]
  for (const [name, body] of bodies) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const json = (await res.json()) as { ok?: boolean; error?: { code?: string; message?: string } }
    t.equal(res.status, 400, `${name}: 400 (${json.error?.code} ${json.error?.message?.slice(0, 160)})`)
    t.equal(json.error?.code, 'BAD_REQUEST', `${name}: BAD_REQUEST`)
  }
  const status = await r.cmd<{ state: string }>('recorder', 'status')
  t.ok(status.ok && status.result.state === 'idle', 'nothing was started')
})
