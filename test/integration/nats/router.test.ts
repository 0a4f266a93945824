import t from 'tap'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { Type } from '@sinclair/typebox'
import { systemClock } from '../../../infra/clock.js'
import { VigilError } from '../../../infra/errors.js'
import { silentLogger } from '../../../infra/logger.js'
import { command, request } from '../../../infra/nats/client.js'
import { headersWithTrace } from '../../../infra/nats/codec.js'
import { createCommandRouter, type CommandRecord } from '../../../infra/nats/commands.js'
import { TRACE_HEADER, subjects } from '../../../infra/subjects.js'
import { startNatsServer } from '../../helpers/natsServer.js'

const NODE = 'itest'
const enc = (s: string) => new TextEncoder().encode(s)

const nats = await startNatsServer()
t.teardown(nats.stop)
const serverConn = await connect({ servers: nats.url })
const clientConn = await connect({ servers: nats.url })
t.teardown(async () => {
  await clientConn.close()
  await serverConn.close()
})

const records: CommandRecord[] = []
const router = createCommandRouter({ node: NODE, log: silentLogger(), clock: systemClock, onCommand: (r) => records.push(r) })
router.register({
  actor: 'recorder',
  verb: 'start',
  description: 'start a recording session',
  args: Type.Object({ name: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
  handler: async (args, ctx) => ({ name: args.name ?? null, traceId: ctx.traceId, idempotencyKey: ctx.idempotencyKey ?? null }),
})
router.register({
  actor: 'recorder',
  verb: 'stop',
  description: 'stop the session',
  args: Type.Object({}, { additionalProperties: false }),
  handler: async () => {
    throw new VigilError('NOT_RECORDING', 'nothing is recording')
  },
})
router.register({
  actor: 'recorder',
  verb: 'status',
  description: 'session state',
  readOnly: true,
  args: Type.Object({}, { additionalProperties: false }),
  handler: async () => {
    throw new Error('unexpected null')
  },
})
await router.listen(serverConn)
t.teardown(() => router.close())

const tap = t
const startSubject = subjects.command(NODE, 'recorder', 'start')

/** Every reply a request gets within `ms` (to prove there is exactly one). */
async function allReplies(nc: NatsConnection, subject: string, payload: Uint8Array, ms = 400) {
  const replies: unknown[] = []
  const it = await nc.requestMany(subject, payload, { maxWait: ms, strategy: 'timer' })
  for await (const m of it) replies.push(m.json())
  return replies
}

async function stillWorks(t: { match: typeof tap.match }) {
  const r = await command(clientConn, NODE, 'recorder', 'start', { name: 'after' })
  t.match(r, { ok: true, result: { name: 'after' } }, 'the router keeps working')
}

t.test('a registered command answers once, with its result and the trace id echoed', async (t) => {
  const msg = await clientConn.request(startSubject, enc('{"args":{"name":"nap"},"idempotencyKey":"k-1"}'), {
    timeout: 5000,
    headers: headersWithTrace('trace-abc'),
  })
  t.equal(msg.headers?.get(TRACE_HEADER), 'trace-abc')
  t.same(msg.json(), { ok: true, result: { name: 'nap', traceId: 'trace-abc', idempotencyKey: 'k-1' } })
  const replies = await allReplies(clientConn, startSubject, enc('{}'))
  t.equal(replies.length, 1, 'exactly one reply to a registered command')
  t.match(replies[0], { ok: true, result: { name: null } })
  const rec = records.find((r) => r.traceId === 'trace-abc')
  t.match(rec, { actor: 'recorder', verb: 'start', code: 'OK', ok: true, source: 'nats', idempotencyKey: 'k-1' })
})

t.test('a request without a trace header gets a new one back', async (t) => {
  const msg = await clientConn.request(startSubject, new Uint8Array(0), { timeout: 5000 })
  t.match(msg.headers?.get(TRACE_HEADER), /^[0-9a-f]{32}$/)
  t.match(msg.json(), { ok: true, result: { traceId: msg.headers?.get(TRACE_HEADER) } })
})

t.test('bad input is BAD_REQUEST and the subscription survives it', async (t) => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['malformed JSON', enc('{"args": {'), /not valid JSON/],
    ['not UTF-8', new Uint8Array([0xff, 0xfe]), /UTF-8/],
    ['non-object args', enc('{"args": [1, 2]}'), /"args" must be a JSON object/],
    ['non-object request', enc('42'), /must be a JSON object/],
    ['unknown envelope key', enc('{"args": {}, "extra": true}'), /unknown request field: extra/],
    ['unknown arg', enc('{"args": {"nmae": "typo"}}'), /\/nmae/],
    ['wrong arg type', enc('{"args": {"name": 5}}'), /\/name/],
    ['oversized', enc(JSON.stringify({ args: { name: 'x'.repeat(70 * 1024) } })), /limit is 65536/],
  ]
  for (const [name, payload, message] of cases) {
    const r = await request(clientConn, startSubject, payload, { timeoutMs: 5000 })
    t.match(r, { ok: false, error: { code: 'BAD_REQUEST', message } }, name)
    await stillWorks(t)
  }
})

t.test('unknown verbs and actors are answered by the catch-all, once', async (t) => {
  const verb = await command(clientConn, NODE, 'recorder', 'pause')
  t.match(verb, { ok: false, error: { code: 'BAD_REQUEST', message: /known verbs of recorder: start, status, stop/ } })
  const actor = await command(clientConn, NODE, 'toaster', 'on')
  t.match(actor, { ok: false, error: { code: 'BAD_REQUEST', message: /unknown actor toaster/ } })
  const shallow = await request(clientConn, `vigil.${NODE}.cmd.recorder`, {}, { timeoutMs: 5000 })
  t.match(shallow, { ok: false, error: { code: 'BAD_REQUEST', message: /not a command subject/ } })
  const replies = await allReplies(clientConn, subjects.command(NODE, 'recorder', 'pause'), enc('{}'))
  t.equal(replies.length, 1, 'exactly one reply to an unknown verb')
  await stillWorks(t)
})

t.test('handler errors map to codes', async (t) => {
  const stop = await clientConn.request(subjects.command(NODE, 'recorder', 'stop'), enc(''), { timeout: 5000 })
  t.same(stop.json(), { ok: false, error: { code: 'NOT_RECORDING', message: 'nothing is recording' } })
  t.equal(stop.headers?.get('Nats-Service-Error-Code'), '409', 'the micro-service error header carries the HTTP status')
  const status = await command(clientConn, NODE, 'recorder', 'status')
  // The handler's own words stay in the log (issue 13): the caller gets the code and the trace id.
  t.match(status, { ok: false, error: { code: 'INTERNAL', message: /^internal error; .*trace [0-9a-f]+$/, details: { traceId: status.traceId } } })
  t.notMatch(JSON.stringify(status), /unexpected null/)
  await stillWorks(t)
})

t.test('$SRV.PING, $SRV.INFO and $SRV.STATS discover the commands', async (t) => {
  const ping = (await clientConn.request('$SRV.PING.vigil', undefined, { timeout: 5000 })).json<Record<string, unknown>>()
  t.match(ping, { type: 'io.nats.micro.v1.ping_response', name: 'vigil', metadata: { node: NODE } })
  const info = (await clientConn.request('$SRV.INFO.vigil', undefined, { timeout: 5000 })).json<{
    name: string
    endpoints: Array<{ name: string; subject: string; metadata: Record<string, string> }>
  }>()
  t.equal(info.name, 'vigil')
  t.same(
    info.endpoints.map((e) => e.subject).sort(),
    ['start', 'status', 'stop'].map((v) => subjects.command(NODE, 'recorder', v)),
  )
  const status = info.endpoints.find((e) => e.subject.endsWith('.status'))
  t.match(status?.metadata, { node: NODE, actor: 'recorder', verb: 'status', readOnly: 'true' })
  const stats = (await clientConn.request('$SRV.STATS.vigil', undefined, { timeout: 5000 })).json<{
    endpoints: Array<{ subject: string; num_requests: number }>
  }>()
  const start = stats.endpoints.find((e) => e.subject === startSubject)
  t.ok(start && start.num_requests > 0, 'requests are counted')
})

t.test('shutting down: every command answers SHUTTING_DOWN', async (t) => {
  router.setAccepting(false)
  t.match(await command(clientConn, NODE, 'recorder', 'start'), { ok: false, error: { code: 'SHUTTING_DOWN' } })
  t.match(await command(clientConn, NODE, 'recorder', 'status'), { ok: false, error: { code: 'SHUTTING_DOWN' } })
  router.setAccepting(true)
  await stillWorks(t)
})

t.test('client: no responders is UNAVAILABLE, silence is TIMEOUT', async (t) => {
  const none = await command(clientConn, 'nobody-here', 'recorder', 'status', {}, { timeoutMs: 5000 })
  t.match(none, { ok: false, error: { code: 'UNAVAILABLE' } })
  const sub = clientConn.subscribe('itest.silent')
  t.teardown(() => sub.unsubscribe())
  const silent = await request(clientConn, 'itest.silent', {}, { timeoutMs: 200 })
  t.match(silent, { ok: false, error: { code: 'TIMEOUT' } })
})
