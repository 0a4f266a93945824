/**
 * Recording modes, the parts below the machine: config (defaults, bounds, clear errors),
 * the pre-roll buffer's pure pieces, free-space retention on a fabricated store, and the
 * session.json fields (trigger, events, preRollFiles) surviving a parse.
 */
import t from 'tap'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../../../infra/config/load.js'
import { configProblems } from '../../helpers/configProblems.js'
import { silentLogger } from '../../../infra/logger.js'
import { parseSegmentList, pickPreRoll, preRollBufferArgs, takePreRoll, BUFFER_LIST } from '../../../actors/recorder/preRollBuffer.js'
import { makeRoom } from '../../../actors/recorder/freeSpace.js'
import { bufferedNeedMs } from '../../../actors/recorder/store.js'
import { parseSessionFile, writeSession, SESSION_SCHEMA_VERSION, type SessionFile } from '../../../actors/recorder/session.js'

const isolated = (t: Pick<typeof import('tap').default, 'testdir'>, env: NodeJS.ProcessEnv = {}) => ({ cwd: t.testdir(), env })

const problems = configProblems

t.test('config: defaults, env, and clear errors', async (t) => {
  const c = loadConfig(isolated(t))
  t.equal(c.recorder.mode, 'manual', 'manual by default (the first stage behaviour)')
  t.equal(c.recorder.continuousSessionS, 3600)
  t.equal(c.recorder.preRollS, 5)
  t.equal(c.recorder.postRollS, 30)
  t.equal(c.recorder.retention.keepFreeBytes, undefined, 'keepFreeBytes: computed from the disk when absent')
  t.equal(c.recorder.retention.maxAgeDays, 30, 'retention on by default (DESIGN §9.3): 30 days')
  t.equal(loadConfig(isolated(t, { VIGIL_RECORDER_MODE: 'continuous' })).recorder.mode, 'continuous')
  t.match(problems(() => loadConfig(isolated(t, { VIGIL_RECORDER_MODE: 'always' }))), [/recorder\.mode: must be one of manual, continuous, events/])
  const cwd = t.testdir()
  await writeFile(join(cwd, 'vigil.config.json'), JSON.stringify({ recorder: { preRollS: 61, postRollS: 0, continuousSessionS: 5, retention: { keepFreeBytes: 1 }, preroll: 3 } }))
  const p = problems(() => loadConfig({ cwd, env: {} }))
  t.match(p.join('\n'), /recorder\.preRollS: .*60/, 'preRollS above its bound says the bound')
  t.match(p.join('\n'), /recorder\.postRollS: .*1/, 'postRollS below 1')
  t.match(p.join('\n'), /recorder\.continuousSessionS: .*10/, 'continuousSessionS below 10')
  t.match(p.join('\n'), /recorder\.preroll: unknown key/, 'a typo is reported')
  const cwd2 = t.testdir()
  await writeFile(join(cwd2, 'vigil.config.json'), JSON.stringify({ recorder: { minFreeBytes: 1000, stopBelowBytes: 10, retention: { keepFreeBytes: 1000 } } }))
  t.match(problems(() => loadConfig({ cwd: cwd2, env: {} })), [/recorder\.retention\.keepFreeBytes: must exceed recorder\.minFreeBytes/])
  const cwd3 = t.testdir()
  await writeFile(join(cwd3, 'vigil.config.json'), JSON.stringify({ recorder: { retention: { keepFreeBytes: 0, maxAgeDays: 0 } } }))
  const off = loadConfig({ cwd: cwd3, env: {} }).recorder.retention
  t.same([off.keepFreeBytes, off.maxAgeDays], [0, 0], 'both turned off explicitly: accepted')
})

t.test('pre-roll buffer: segment list, pick, args', async (t) => {
  const list = 'buf-000001.mp4,1.000000,2.000000\nbuf-000002.mp4,2.000000,3.001000\ngarbage\nbuf-000003.mp4,3.001000,4.000000\nbuf-00000'
  const segs = parseSegmentList(list)
  t.same(segs, [{ file: 'buf-000001.mp4', ms: 1000 }, { file: 'buf-000002.mp4', ms: 1001 }, { file: 'buf-000003.mp4', ms: 999 }], 'closed segments with durations; a half-written line is skipped')
  t.same(pickPreRoll(segs, 1500).map((s) => s.file), ['buf-000002.mp4', 'buf-000003.mp4'], 'the newest that reach the need, oldest first')
  t.same(pickPreRoll(segs, 10_000).length, 3, 'all there are when short')
  t.same(pickPreRoll(segs, 0), [])
  const args = preRollBufferArgs({ inputUrl: 'rtmp://127.0.0.1:1935/live/cam', bufferDir: '/r/.prebuffer' })
  t.match(args.join(' '), /-c copy -f segment -segment_time 1 .*-segment_list \/r\/\.prebuffer\/segments\.csv -segment_list_type csv -segment_list_size 120/)
  t.equal(args.at(-1), '/r/.prebuffer/buf-%06d.mp4')
})

t.test('takePreRoll moves the covering segments in as pre-NNNNN.mp4', async (t) => {
  const root = t.testdir({ '.prebuffer': {}, session: {} })
  const buf = join(root, '.prebuffer')
  for (let i = 1; i <= 5; i++) await writeFile(join(buf, `buf-00000${i}.mp4`), Buffer.alloc(100 * i))
  await writeFile(join(buf, BUFFER_LIST), [1, 2, 3, 4].map((i) => `buf-00000${i}.mp4,${i}.0,${i + 1}.0`).join('\n'))
  const moved = await takePreRoll(buf, join(root, 'session'), 2500, silentLogger())
  t.same(moved, [{ file: 'pre-00001.mp4', bytes: 200, ms: 1000 }, { file: 'pre-00002.mp4', bytes: 300, ms: 1000 }, { file: 'pre-00003.mp4', bytes: 400, ms: 1000 }])
  t.same((await readdir(buf)).sort(), ['buf-000001.mp4', 'buf-000005.mp4', BUFFER_LIST], 'the open segment (not in the list) stays')
})

t.test('takePreRoll skips a listed segment already gone (an earlier take, the pruner) and takes the newest present', async (t) => {
  const root = t.testdir({ '.prebuffer': {}, s1: {}, s2: {} })
  const buf = join(root, '.prebuffer')
  for (let i = 1; i <= 3; i++) await writeFile(join(buf, `buf-00000${i}.mp4`), Buffer.alloc(100 * i))
  await writeFile(join(buf, BUFFER_LIST), [1, 2, 3].map((i) => `buf-00000${i}.mp4,${i}.0,${i + 1}.0`).join('\n'))
  t.same(await takePreRoll(buf, join(root, 's1'), 1000, silentLogger()), [{ file: 'pre-00001.mp4', bytes: 300, ms: 1000 }], 'the newest closed second')
  t.same(await takePreRoll(buf, join(root, 's2'), 1000, silentLogger()), [{ file: 'pre-00001.mp4', bytes: 200, ms: 1000 }], 'a second start before the next segment closed: the one before, not an error')
})

t.test('bufferedNeedMs: an event reaches back its pre-roll, a start by hand takes the warm start, continuous none', async (t) => {
  const o = { preRollMs: 5000, warmStartMs: 1000 }
  t.equal(bufferedNeedMs({ ...o, mode: 'events' }, { kind: 'motion', at: 'x', mono: 100 }, 400), 5300, 'pre-roll plus the time the start took')
  t.equal(bufferedNeedMs({ ...o, mode: 'events' }, undefined, 400), 1000, 'events mode, a start by hand: the warm start')
  t.equal(bufferedNeedMs({ ...o, mode: 'manual' }, undefined, 400), 1000)
  t.equal(bufferedNeedMs({ ...o, mode: 'manual' }, { kind: 'manual', at: 'x' }, 400), 1000)
  t.equal(bufferedNeedMs({ ...o, mode: 'manual', warmStartMs: 0 }, undefined, 400), 0, 'warm start off')
  t.equal(bufferedNeedMs({ ...o, mode: 'continuous' }, { kind: 'continuous', at: 'x' }, 400), 0)
  t.equal(bufferedNeedMs({ ...o, mode: 'continuous' }, undefined, 400), 0, 'continuous mode runs no buffer')
})

const session = (id: string, over: Partial<SessionFile> = {}): SessionFile => ({
  schemaVersion: SESSION_SCHEMA_VERSION,
  node: 'rig1',
  name: 'x',
  id,
  startedAt: '2026-01-01T00:00:00.000Z',
  startedMono: 0,
  state: 'finalized',
  stopReason: null,
  stoppedAt: null,
  durationMs: 1000,
  segments: [{ file: 'seg-00001.mp4', bytes: 10 }],
  gaps: [],
  ...over,
})

t.test('makeRoom: oldest finished sessions of this rig first, never the active one, until keepFreeBytes', async (t) => {
  const root = t.testdir()
  const ids = ['20260101T000000Z-aaaaaa', '20260101T000001Z-aaaaaa', '20260101T000002Z-aaaaaa', '20260101T000003Z-aaaaaa', '20260101T000004Z-aaaaaa']
  const over: Array<Partial<SessionFile>> = [{ node: 'other' }, {}, { state: 'recording' }, {}, {}]
  for (const [i, id] of ids.entries()) {
    await mkdir(join(root, id))
    await writeSession(join(root, id), session(id, over[i]))
  }
  // Each deletion frees 60 bytes: free = 100 + 60 × dirs gone.
  const disk = { free: async () => ({ freeBytes: 100 + 60 * (5 - (await readdir(root)).length), totalBytes: 1000 }) }
  const result = await makeRoom({ recordingsDir: root, keepFreeBytes: 200, node: 'rig1', disk, log: silentLogger(), activeId: ids[4]! })
  t.same(result.deleted, [ids[1], ids[3]], 'the oldest finished sessions of this rig, one at a time until keepFreeBytes (another rig’s, a still-recording one and the active one skipped)')
  t.equal(result.freeBytes, 220)
  t.same((await readdir(root)).sort(), [ids[0], ids[2], ids[4]])
  const again = await makeRoom({ recordingsDir: root, keepFreeBytes: 200, node: 'rig1', disk, log: silentLogger(), activeId: ids[4]! })
  t.same(again.deleted, [], 'enough space: nothing more')
})

t.test('session.json: trigger, events and preRollFiles survive a parse', async (t) => {
  const id = '20260101T000000Z-aaaaaa'
  const s = session(id, { trigger: { kind: 'motion', at: '2026-01-01T00:00:00.000Z' }, events: [{ kind: 'motion', at: 'a' }, { kind: 'sound', at: 'b' }], preRollFiles: [{ file: 'pre-00001.mp4', bytes: 5, ms: 1000 }] })
  const parsed = parseSessionFile(JSON.parse(JSON.stringify(s)), id)
  t.same(parsed?.trigger, s.trigger)
  t.same(parsed?.events, s.events)
  t.same(parsed?.preRollFiles, s.preRollFiles)
  const old = parseSessionFile(JSON.parse(JSON.stringify(session(id))), id)
  t.equal(old?.trigger, undefined, 'a session from before the modes has no trigger (read as manual)')
})
