import { appendFileSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import t, { type Test } from 'tap'
import { systemClock } from '../../../infra/clock.js'
import { VigilError } from '../../../infra/errors.js'
import { silentLogger } from '../../../infra/logger.js'
import { createCommandRouter, KEY_REUSED } from '../../../infra/nats/commands.js'
import { argsDigest, createIdempotencyStore, IDEMPOTENCY_TTL_MS } from '../../../infra/nats/idempotency.js'

const log = silentLogger()

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-idem-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('args digest: key order does not matter, values do', async (t) => {
  t.equal(argsDigest({ a: 1, b: { c: 2, d: [1, 2] } }), argsDigest({ b: { d: [1, 2], c: 2 }, a: 1 }))
  t.not(argsDigest({ name: 'nap' }), argsDigest({ name: 'nap2' }))
  t.not(argsDigest({}), argsDigest({ name: 'nap' }))
})

t.test('store: kept on disk (0600), read back by a new store, expired after 24 h, torn lines skipped, compacted', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'commands', 'idempotency.jsonl')
  let now = 1_700_000_000_000
  const open = () => createIdempotencyStore({ file, now: () => now, log })
  const a = open()
  await a.put({ scope: 'recorder.start', key: 'k1', argsDigest: 'd1', result: { id: 's1' } })
  await a.put({ scope: 'recorder.delete', key: 'k1', argsDigest: 'd2', result: { id: 's0', deleted: true } })
  t.equal(statSync(file).mode & 0o777, 0o600, 'a private file')
  t.equal(statSync(join(dir, 'commands')).mode & 0o777, 0o700, 'in a private dir')
  // A crash in the middle of an append leaves half a line.
  appendFileSync(file, '{"v":1,"scope":"recorder.start","key":"k2","argsDi')

  now += 60_000
  const b = open()
  t.match(b.get('recorder.start', 'k1'), { argsDigest: 'd1', result: { id: 's1' } }, 'a new store (a restart) has the reply')
  t.match(b.get('recorder.delete', 'k1'), { result: { deleted: true } }, 'keys are scoped per actor.verb')
  t.equal(b.get('recorder.start', 'k2'), undefined, 'the torn line is skipped')
  t.equal(readFileSync(file, 'utf8').trim().split('\n').length, 2, 'compacted at load: the torn line is gone')

  now += IDEMPOTENCY_TTL_MS
  t.equal(b.get('recorder.start', 'k1'), undefined, 'gone after 24 h')
  const c = open()
  t.equal(c.size, 0, 'pruned at load after 24 h')
  t.equal(readFileSync(file, 'utf8'), '', 'and dropped from the file')
})

t.test('store: bounded — a too large reply is not kept, past maxBytes the oldest go, dead lines are compacted away', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'idempotency.jsonl')
  const s = createIdempotencyStore({ file, now: () => 1, log, maxEntryBytes: 300, maxBytes: 2000, ttlMs: 10 })
  await s.put({ scope: 'x.y', key: 'big', argsDigest: 'd', result: { blob: 'z'.repeat(400) } })
  t.equal(s.get('x.y', 'big'), undefined, 'over maxEntryBytes: not kept')
  for (let i = 0; i < 100; i++) await s.put({ scope: 'x.y', key: `k${i}`, argsDigest: 'd', result: { i } })
  t.ok(s.size < 100 && s.size > 5, `bounded by bytes (${s.size} kept)`)
  t.equal(s.get('x.y', 'k0'), undefined, 'the oldest went first')
  t.ok(s.get('x.y', 'k99'), 'the newest is kept')
  const lines = readFileSync(file, 'utf8').trim().split('\n').length
  t.ok(lines <= 2 * s.size + 64, `the file is compacted (${lines} lines for ${s.size} entries)`)
})

function keyedRouter(file?: string) {
  const calls: unknown[] = []
  const router = createCommandRouter({
    node: 'rig',
    log,
    clock: systemClock,
    ...(file ? { idempotency: createIdempotencyStore({ file, now: () => Date.now(), log }) } : {}),
  })
  let fail = false
  router.register({
    actor: 'thing',
    verb: 'make',
    description: 'makes a thing',
    args: Type.Object({ name: Type.Optional(Type.String()) }, { additionalProperties: false }),
    handler: async (args) => {
      calls.push(args)
      if (fail) throw new VigilError('UNAVAILABLE', 'not now')
      return { made: calls.length, name: args.name ?? null }
    },
  })
  router.register({
    actor: 'thing',
    verb: 'status',
    description: 'how many',
    readOnly: true,
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => ({ calls: calls.length }),
  })
  return { router, calls, failNext: (f: boolean) => (fail = f) }
}

t.test('router: same key → the kept reply, not a second run; other args → BAD_REQUEST; errors are not kept', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'idempotency.jsonl')
  const { router, calls, failNext } = keyedRouter(file)
  const first = await router.dispatch('thing', 'make', { args: { name: 'a' }, idempotencyKey: 'k1' })
  t.same(first, { ok: true, result: { made: 1, name: 'a' } })
  t.same(await router.dispatch('thing', 'make', { args: { name: 'a' }, idempotencyKey: 'k1' }), first, 'the same reply')
  t.equal(calls.length, 1, 'ran once')
  t.match(await router.dispatch('thing', 'make', { args: { name: 'b' }, idempotencyKey: 'k1' }), {
    ok: false,
    error: { code: 'BAD_REQUEST', details: { reason: KEY_REUSED } },
  })
  t.equal(calls.length, 1, 'the reused key ran nothing')

  failNext(true)
  t.match(await router.dispatch('thing', 'make', { args: {}, idempotencyKey: 'k2' }), { ok: false, error: { code: 'UNAVAILABLE' } })
  failNext(false)
  t.match(await router.dispatch('thing', 'make', { args: {}, idempotencyKey: 'k2' }), { ok: true }, 'an error is not kept: the retry runs')
  t.equal(calls.length, 3)

  const restarted = keyedRouter(file)
  t.same(await restarted.router.dispatch('thing', 'make', { args: { name: 'a' }, idempotencyKey: 'k1' }), first, 'after a restart: the same reply')
  t.equal(restarted.calls.length, 0, 'and nothing ran')
  t.same(await restarted.router.dispatch('thing', 'status', { args: {}, idempotencyKey: 'k1' }), { ok: true, result: { calls: 0 } }, 'a read-only command ignores keys')
})

t.test('router: a retry while the first try still runs waits for that run', async (t) => {
  const router = createCommandRouter({ node: 'rig', log, clock: systemClock })
  let runs = 0
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  router.register({
    actor: 'slow',
    verb: 'go',
    description: 'slow',
    args: Type.Object({}, { additionalProperties: false }),
    handler: async () => {
      runs += 1
      await gate
      return { runs }
    },
  })
  const a = router.dispatch('slow', 'go', { args: {}, idempotencyKey: 'k' })
  const b = router.dispatch('slow', 'go', { args: {}, idempotencyKey: 'k' })
  release()
  t.same(await a, { ok: true, result: { runs: 1 } })
  t.same(await b, { ok: true, result: { runs: 1 } })
  t.equal(runs, 1)
})

t.test('router: deadline passed → TIMEOUT, not run; no deadline → the default bound, and the handler is told', async (t) => {
  const router = createCommandRouter({ node: 'rig', log, clock: systemClock, defaultTimeoutMs: 200 })
  let runs = 0
  let aborted = false
  let seenDeadline = 0
  router.register({
    actor: 'hung',
    verb: 'go',
    description: 'never answers',
    args: Type.Object({}, { additionalProperties: false }),
    handler: async (_args, ctx) => {
      runs += 1
      seenDeadline = ctx.deadline
      ctx.signal.addEventListener('abort', () => (aborted = true))
      return new Promise(() => {})
    },
  })
  t.match(await router.dispatch('hung', 'go', { args: {}, deadline: Date.now() - 1 }), { ok: false, error: { code: 'TIMEOUT' } })
  t.equal(runs, 0, 'a command past its deadline is not run')
  t.match(await router.dispatch('hung', 'go', { args: {}, deadline: 'soon' }), { ok: false, error: { code: 'BAD_REQUEST' } }, 'a deadline is epoch ms')

  const t0 = Date.now()
  const r = await router.dispatch('hung', 'go', { args: {} })
  const took = Date.now() - t0
  t.match(r, { ok: false, error: { code: 'TIMEOUT' } }, 'a hung handler: the caller gets TIMEOUT, not silence')
  t.ok(took >= 150 && took < 2000, `within the default bound (${took} ms)`)
  t.ok(aborted, 'the handler was told its deadline passed')
  t.ok(seenDeadline >= t0 + 150 && seenDeadline <= t0 + 400, 'ctx.deadline is now + the bound')

  const t1 = Date.now()
  const d = await router.dispatch('hung', 'go', { args: {}, deadline: Date.now() + 400 })
  t.match(d, { ok: false, error: { code: 'TIMEOUT' } })
  t.ok(Date.now() - t1 >= 350, 'the caller\'s deadline is the bound when given')
})
