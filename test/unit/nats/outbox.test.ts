import t from 'tap'
import type { Test } from 'tap'
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../../infra/logger.js'
import { MessageOutbox } from '../../../infra/nats/outbox.js'

async function dirFor(t: Test): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'vigil-outbox-'))
  t.teardown(() => rm(d, { recursive: true, force: true }))
  return join(d, 'outbox')
}

const open = (dir: string, over: Partial<Parameters<typeof MessageOutbox.open>[0]> = {}) =>
  MessageOutbox.open({ dir, maxMessages: 1000, maxBytes: 1024 * 1024, log: silentLogger(), now: () => 1_700_000_000_000, ...over })

const msg = (i: number) => ({ subject: `vigil.r.alert.info.test`, msgId: `id-${i}:1`, traceId: `tr-${i}`, body: JSON.stringify({ id: `id-${i}`, n: i }) })

const lines = async (dir: string) => (await readFile(join(dir, 'outbox.jsonl'), 'utf8')).split('\n').filter((l) => l !== '')

t.test('what was added and not done survives a reopen, oldest first, ids unchanged; files private', async (t) => {
  const dir = await dirFor(t)
  const a = await open(dir)
  for (let i = 1; i <= 5; i++) a.add(msg(i))
  a.done([2, 4])
  await a.close()
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'outbox dir 0700')
  t.equal((await stat(join(dir, 'outbox.jsonl'))).mode & 0o777, 0o600, 'outbox file 0600')
  t.same(JSON.parse((await lines(dir))[0]!), { v: 1 }, 'a header with the format version')

  const b = await open(dir)
  t.same([...b.pending()].map((r) => [r.seq, r.msgId, r.traceId, r.body]), [1, 3, 5].map((i) => [i, `id-${i}:1`, `tr-${i}`, JSON.stringify({ id: `id-${i}`, n: i })]))
  t.equal(b.add(msg(6)).seq, 6, 'sequence numbers go on from the last run')
  t.equal(b.size, 4)
  await b.close()
})

t.test('a burst is one write and one sync, not one per message', async (t) => {
  const dir = await dirFor(t)
  const box = await open(dir, { maxMessages: 5000 })
  for (let i = 0; i < 1000; i++) box.add(msg(i))
  await box.synced()
  t.equal(box.stats().syncs, 1, '1000 adds in one turn: one sync')
  box.done([...box.pending()].map((r) => r.seq))
  await box.synced()
  t.ok(box.stats().syncs <= 2, `and their done lines: one more (syncs ${box.stats().syncs})`)
  await box.close()
})

t.test('bounded: past maxMessages or maxBytes the oldest are dropped and counted, also on disk', async (t) => {
  const dir = await dirFor(t)
  const box = await open(dir, { maxMessages: 5 })
  for (let i = 1; i <= 8; i++) box.add(msg(i))
  t.same([...box.pending()].map((r) => r.seq), [4, 5, 6, 7, 8], 'the newest five kept')
  t.equal(box.stats().dropped, 3)
  await box.close()
  const again = await open(dir, { maxMessages: 5 })
  t.same([...again.pending()].map((r) => r.seq), [4, 5, 6, 7, 8], 'the dropped ones do not come back after a restart')
  await again.close()

  const dir2 = await dirFor(t)
  const one = msg(1)
  const lineBytes = JSON.stringify({ p: 1, s: one.subject, m: one.msgId, t: one.traceId, b: one.body, a: 1_700_000_000_000 }).length + 1
  const small = await open(dir2, { maxBytes: Math.max(4096, lineBytes * 3) })
  const fit = Math.floor(Math.max(4096, lineBytes * 3) / lineBytes)
  for (let i = 1; i <= fit + 4; i++) small.add(msg(i))
  t.ok(small.stats().bytes <= Math.max(4096, lineBytes * 3), `within maxBytes (${small.stats().bytes})`)
  t.ok(small.stats().dropped >= 4, `oldest dropped for bytes (${small.stats().dropped})`)
  t.equal([...small.pending()].at(-1)!.msgId, `id-${fit + 4}:1`, 'the newest kept')
  await small.close()
})

t.test('a run of drops is told once when it begins and once when the acks bring it under half its bound, with the count', async (t) => {
  const box = await open(await dirFor(t), { maxMessages: 4 })
  const told: unknown[] = []
  box.onDrops((d) => told.push(d))
  for (let i = 1; i <= 4; i++) box.add(msg(i))
  t.same(told, [], 'at the bound: nothing dropped, nothing told')
  for (let i = 5; i <= 9; i++) box.add(msg(i))
  t.same(told, [{ phase: 'started', maxMessages: 4, maxBytes: 1024 * 1024 }], 'five over the bound: one start, not five')
  box.done([6])
  t.equal(told.length, 1, '3 of 4 left after an ack: the run goes on')
  box.done([7])
  t.same(told[1], { phase: 'ended', dropped: 5 }, 'half of the bound left: the run ends, with the five it dropped')
  for (let i = 10; i <= 11; i++) box.add(msg(i))
  t.equal(told.length, 2, 'back at the bound without a drop: nothing new told')
  box.add(msg(12))
  t.same(told[2], { phase: 'started', maxMessages: 4, maxBytes: 1024 * 1024 }, 'a new run of drops is a new start')
  await box.close()
})

t.test('compaction: once dead lines outnumber live ones the file is rewritten with only the live', async (t) => {
  const dir = await dirFor(t)
  const box = await open(dir, { compactAfter: 10 })
  const startCompactions = box.stats().compactions
  for (let i = 1; i <= 50; i++) box.add(msg(i))
  await box.synced()
  box.done(Array.from({ length: 40 }, (_, k) => k + 1))
  await box.synced()
  t.ok(box.stats().compactions > startCompactions, 'compacted')
  const after = await lines(dir)
  t.equal(after.length, 1 + 10, `header + the 10 live puts (${after.length} lines)`)
  t.same(after.slice(1).map((l) => (JSON.parse(l) as { p: number }).p), Array.from({ length: 10 }, (_, k) => 41 + k))
  // Appends after a compaction go to the new file.
  box.add(msg(51))
  box.done([41])
  await box.close()
  const again = await open(dir)
  t.same([...again.pending()].map((r) => r.seq), [42, 43, 44, 45, 46, 47, 48, 49, 50, 51])
  await again.close()
})

t.test('a line cut by a crash is skipped; the rest loads', async (t) => {
  const dir = await dirFor(t)
  const box = await open(dir)
  box.add(msg(1))
  box.add(msg(2))
  await box.close()
  await appendFile(join(dir, 'outbox.jsonl'), '{"p":3,"s":"vigil.r.alert.in')
  const again = await open(dir)
  t.same([...again.pending()].map((r) => r.seq), [1, 2])
  t.equal(again.stats().unreadable, 1)
  t.equal(again.add(msg(3)).seq, 3)
  await again.close()
  const third = await open(dir)
  t.same([...third.pending()].map((r) => r.seq), [1, 2, 3], 'the load rewrote a clean file: nothing glued to the cut line')
  await third.close()
})

t.test('a dir it cannot use: the outbox opens anyway and keeps messages in memory', async (t) => {
  const dir = await dirFor(t)
  // A file where the outbox dir should be.
  await writeFile(dir, 'not a dir')
  const box = await open(join(dir, 'sub'))
  t.ok(box.stats().writeFailures >= 1, 'the failure counted')
  box.add(msg(1))
  box.add(msg(2))
  await box.synced()
  t.same([...box.pending()].map((r) => r.seq), [1, 2], 'kept in memory')
  box.done([1])
  t.equal(box.size, 1)
  await box.close()
})
