import t from 'tap'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { applyRetention } from '../../../actors/recorder/retention.js'
import { writeSession, type SessionFile } from '../../../actors/recorder/session.js'

const DAY = 24 * 3600 * 1000
const NOW = Date.UTC(2024, 5, 30)

function sessionFile(id: string, startedAt: number, over: Partial<SessionFile> = {}): SessionFile {
  return {
    schemaVersion: 1,
    node: 'rig1',
    name: 'n',
    id,
    startedAt: new Date(startedAt).toISOString(),
    startedMono: 0,
    state: 'finalized',
    stopReason: null,
    stoppedAt: null,
    durationMs: 1,
    segments: [],
    gaps: [],
    ...over,
  }
}

/** Six owned sessions, one per day ending yesterday, 1000 bytes of segment each; plus things that are not ours. */
async function fixture(t: { teardown(fn: () => unknown): void }) {
  const root = await mkdtemp(join(tmpdir(), 'vigil-ret-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const ids: string[] = []
  for (let d = 6; d >= 1; d--) {
    const when = NOW - d * DAY
    const id = `${new Date(when).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-aaaaaa`
    ids.push(id)
    await mkdir(join(root, id))
    await writeFile(join(root, id, 'seg-00001.mp4'), Buffer.alloc(1000))
    await writeSession(join(root, id), sessionFile(id, when))
  }
  await mkdir(join(root, 'notes_2024'))
  await writeFile(join(root, 'notes_2024', 'old.txt'), 'keep me')
  const lookalike = '20200101T000000Z-zzzzzz'
  await mkdir(join(root, lookalike))
  await writeFile(join(root, lookalike, 'seg-00001.mp4'), Buffer.alloc(10))
  return { root, ids, lookalike }
}

function captureLog() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) })
  return { log, lines }
}

t.test('maxSessions: oldest owned first; unowned untouched; logs candidates, kept, deleted', async (t) => {
  const { root, ids, lookalike } = await fixture(t)
  const { log, lines } = captureLog()
  const r = await applyRetention(root, { maxSessions: 4, maxBytes: 0, maxAgeDays: 0 }, log, NOW)
  t.same(r.deleted, ids.slice(0, 2))
  t.same(r.kept, ids.slice(2))
  t.same(r.candidates, ids)
  const left = (await readdir(root)).sort()
  t.same(left, [...ids.slice(2), 'notes_2024', lookalike].sort(), 'notes_2024 and the look-alike without session.json stay')
  const summary = lines.find((l) => l.msg === 'retention applied')
  t.same(summary?.candidates, ids)
  t.same(summary?.kept, ids.slice(2))
  t.same(summary?.deleted, ids.slice(0, 2))
})

t.test('maxBytes: oldest deleted until the total fits', async (t) => {
  const { root, ids } = await fixture(t)
  const { log } = captureLog()
  // Each session is 1000 bytes of segment plus its session.json (a few hundred bytes).
  const r = await applyRetention(root, { maxSessions: 0, maxBytes: 4500, maxAgeDays: 0 }, log, NOW)
  t.same(r.deleted, ids.slice(0, r.deleted.length), 'oldest first')
  t.ok(r.deleted.length >= 3 && r.deleted.length <= 4, `deleted ${r.deleted.length}`)
  let total = 0
  for (const id of r.kept) for (const f of await readdir(join(root, id))) total += (await stat(join(root, id, f))).size
  t.ok(total <= 4500, `kept ${total} bytes`)
})

t.test('maxAgeDays', async (t) => {
  const { root, ids } = await fixture(t)
  const { log } = captureLog()
  const r = await applyRetention(root, { maxSessions: 0, maxBytes: 0, maxAgeDays: 2.5 }, log, NOW)
  t.same(r.deleted, ids.slice(0, 4), 'the sessions 6, 5, 4 and 3 days old')
  t.same(r.kept, ids.slice(4))
})

t.test('never the active session, never one still recording; no limits → nothing', async (t) => {
  const { root, ids } = await fixture(t)
  const { log } = captureLog()
  await writeSession(join(root, ids[1]!), sessionFile(ids[1]!, NOW - 5 * DAY, { state: 'recording' }))
  const none = await applyRetention(root, { maxSessions: 0, maxBytes: 0, maxAgeDays: 0 }, log, NOW)
  t.same(none.deleted, [])
  const r = await applyRetention(root, { maxSessions: 1, maxBytes: 0, maxAgeDays: 0 }, log, NOW, { activeId: ids[0]! })
  t.notOk(r.candidates.includes(ids[0]!), 'active is not a candidate')
  t.notOk(r.candidates.includes(ids[1]!), 'recording is not a candidate')
  t.same(r.deleted, ids.slice(2), 'the rest went, the protected two still count toward the limit')
  t.same((await readdir(root)).filter((n) => ids.includes(n)).sort(), ids.slice(0, 2))
})

t.test('maxAgeDays after a clock jump back: the later sessions claiming an older start stay', async (t) => {
  const { root, ids } = await fixture(t)
  const { log } = captureLog()
  // Two sessions recorded after the last one (their ids sort after it) while the clock said 2001.
  const jumped = ['20240629T000001Z-bbbbbb', '20240629T000002Z-cccccc']
  for (const id of jumped) {
    await mkdir(join(root, id))
    await writeFile(join(root, id, 'seg-00001.mp4'), Buffer.alloc(1000))
    await writeSession(join(root, id), sessionFile(id, Date.UTC(2001, 0, 1)))
  }
  const r = await applyRetention(root, { maxSessions: 0, maxBytes: 0, maxAgeDays: 2.5 }, log, NOW)
  t.same(r.deleted, ids.slice(0, 4), 'only the plausible old ones')
  t.same(r.kept, [...ids.slice(4), ...jumped], '"23 years old" by their clock, kept')
})

t.test('a node given: another rig\'s sessions on the same disk are not candidates', async (t) => {
  const { root, ids } = await fixture(t)
  const { log } = captureLog()
  await writeSession(join(root, ids[0]!), sessionFile(ids[0]!, NOW - 6 * DAY, { node: 'rig2' }))
  const r = await applyRetention(root, { maxSessions: 0, maxBytes: 0, maxAgeDays: 2.5 }, log, NOW, { node: 'rig1' })
  t.same(r.deleted, ids.slice(1, 4))
  t.notOk(r.candidates.includes(ids[0]!))
})
