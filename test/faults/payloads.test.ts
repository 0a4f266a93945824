/**
 * Fault: malformed, oversized and wrong-typed payloads on every registered command
 * subject. Each is refused with BAD_REQUEST (never INTERNAL, never a timeout), and
 * the rig still answers supervisor.status afterwards.
 */
import t from 'tap'
import { request } from '../../infra/nats/client.js'
import { startTestRig } from '../helpers/rig.js'

const MiB = 1024 * 1024

t.test('bad payloads on every command subject are refused and the rig survives', async (t) => {
  const r = await startTestRig(t)
  await r.ready(undefined, 90_000)
  const commands = r.rig.router.commands()
  t.ok(commands.length > 5, `router lists ${commands.length} commands`)
  const info = r.client.info
  t.comment(`server max_payload: ${info?.max_payload}`)

  // Under NATS max_payload but over the router's 64 KiB limit.
  const big = JSON.stringify({ args: { pad: 'x'.repeat(100 * 1024) } })
  const cases: { name: string; payload: string | Uint8Array }[] = [
    { name: 'malformed JSON', payload: '{"args": {' },
    { name: 'not an object', payload: '[1,2,3]' },
    { name: 'binary garbage', payload: new Uint8Array([0xff, 0xfe, 0x00, 0x7b]) },
    { name: 'args: 5', payload: JSON.stringify({ args: 5 }) },
    { name: 'args: "s"', payload: JSON.stringify({ args: 'string' }) },
    { name: 'args: [..]', payload: JSON.stringify({ args: [1, 2] }) },
    { name: 'args: {x:[..]}', payload: JSON.stringify({ args: { x: [1, 2, 3] } }) },
    { name: 'unknown envelope key', payload: JSON.stringify({ args: {}, bogus: true }) },
    { name: 'idempotencyKey: 5', payload: JSON.stringify({ args: {}, idempotencyKey: 5 }) },
    { name: '100 KiB (over router limit)', payload: big },
    { name: '900 KiB (under max_payload, reaches the router)', payload: JSON.stringify({ args: { pad: 'x'.repeat(900 * 1024) } }) },
  ]
  const unexpected: string[] = []
  for (const c of commands) {
    for (const k of cases) {
      const res = await request(r.client, c.subject, k.payload, { timeoutMs: 10_000 })
      if (res.ok || res.error.code !== 'BAD_REQUEST') unexpected.push(`${c.actor}.${c.verb} / ${k.name}: ${JSON.stringify(res.ok ? res : res.error)}`)
    }
  }
  t.same(unexpected, [], 'every bad payload on every subject answers BAD_REQUEST')

  // 1 MiB: at or over NATS max_payload (1 MB in nats.conf), so the client refuses
  // to publish it and the request never reaches the rig. What the caller sees:
  const oneMiB = JSON.stringify({ args: { pad: 'x'.repeat(MiB) } })
  const seen = new Set<string>()
  for (const c of commands) {
    const res = await request(r.client, c.subject, oneMiB, { timeoutMs: 10_000 })
    t.notOk(res.ok, `${c.actor}.${c.verb}: 1 MiB refused`)
    if (!res.ok) seen.add(`${res.error.code}: ${res.error.message.replace(c.subject, '<subject>')}`)
  }
  t.comment(`1 MiB payload, what the client sees: ${[...seen].join(' | ')}`)
  t.ok([...seen].every((s) => s.startsWith('BAD_REQUEST') || s.startsWith('UNAVAILABLE')), 'refused by the router or by the client (max_payload), never a timeout or INTERNAL')

  // The client connection and the rig are still fine.
  t.notOk(r.client.isClosed(), 'client connection still open after the 1 MiB attempts')
  const st = await r.cmd<{ state: string }>('supervisor', 'status')
  t.ok(st.ok && st.result.state === 'running', 'supervisor.status still answers running')
  await r.ready(undefined, 30_000)
  t.pass('every child still running')
})
