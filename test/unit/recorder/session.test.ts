import t from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../../infra/logger.js'
import {
  hasMediaFragment,
  listOwnedSessions,
  nextSegmentNumber,
  parseSessionFile,
  readSession,
  reconcileInterrupted,
  deleteSessionDir,
  writeSession,
  type SessionFile,
} from '../../../actors/recorder/session.js'

const box = (type: string, payload = Buffer.alloc(0)) => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(8 + payload.length, 0)
  head.write(type, 4, 'latin1')
  return Buffer.concat([head, payload])
}
/** What ffmpeg writes with empty_moov: ftyp+moov at once, then moof+mdat per fragment. */
const headerOnly = () => Buffer.concat([box('ftyp', Buffer.alloc(16)), box('moov', Buffer.alloc(600))])
const withMedia = (n = 2000) => Buffer.concat([headerOnly(), box('moof', Buffer.alloc(100)), box('mdat', Buffer.alloc(n))])

function sessionFile(id: string, over: Partial<SessionFile> = {}): SessionFile {
  return {
    schemaVersion: 1,
    node: 'rig1',
    name: 'nap',
    id,
    startedAt: '2024-01-01T00:00:00.000Z',
    startedMono: 1234,
    state: 'finalized',
    stopReason: 'stopped by request',
    stoppedAt: '2024-01-01T00:10:00.000Z',
    durationMs: 600000,
    segments: [],
    gaps: [],
    ...over,
  }
}

const tmp = async (t: { teardown(fn: () => unknown): void }) => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-rec-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('atomic write + validating read', async (t) => {
  const root = await tmp(t)
  const id = '20240101T000000Z-abcdef'
  const dir = join(root, id)
  await mkdir(dir)
  await writeSession(dir, sessionFile(id))
  t.same(await readSession(dir), sessionFile(id))
  t.same((await readdir(dir)).sort(), ['session.json'], 'no temp file left behind')
  await writeSession(dir, sessionFile(id, { state: 'disk_full' }))
  t.equal((await readSession(dir))?.state, 'disk_full', 'replaced')

  await writeFile(join(dir, 'session.json'), '{"schemaVersion":1,')
  t.equal(await readSession(dir), null, 'torn json → not ours')
  await writeFile(join(dir, 'session.json'), JSON.stringify(sessionFile('20240101T000000Z-zzzzzz')))
  t.equal(await readSession(dir), null, 'an id that is not its dir name → not ours')
  await writeFile(join(dir, 'session.json'), JSON.stringify({ ...sessionFile(id), schemaVersion: 2 }))
  t.equal(await readSession(dir), null, 'unknown schema version')
  t.equal(parseSessionFile({ ...sessionFile(id), segments: [{ file: '../etc/passwd', bytes: 1 }] }), null, 'segment names are checked')
  t.equal(await readSession(join(root, 'notes_2024')), null)
})

t.test('hasMediaFragment: header-only is not media', async (t) => {
  const root = await tmp(t)
  await writeFile(join(root, 'a.mp4'), headerOnly())
  await writeFile(join(root, 'b.mp4'), withMedia())
  await writeFile(join(root, 'c.mp4'), withMedia().subarray(0, headerOnly().length + 12))
  t.equal(await hasMediaFragment(join(root, 'a.mp4')), false)
  t.equal(await hasMediaFragment(join(root, 'b.mp4')), true)
  t.equal(await hasMediaFragment(join(root, 'c.mp4')), true, 'a truncated last fragment (crash) still counts')
})

t.test('nextSegmentNumber continues after the highest segment', async (t) => {
  const root = await tmp(t)
  t.equal(await nextSegmentNumber(root), 1)
  await writeFile(join(root, 'seg-00001.mp4'), withMedia())
  await writeFile(join(root, 'seg-00004.mp4'), withMedia())
  await writeFile(join(root, 'seg-x.mp4'), '')
  t.equal(await nextSegmentNumber(root), 5)
})

t.test('reconcileInterrupted: crashed sessions become interrupted with their real segments; empty ones go', async (t) => {
  const root = await tmp(t)
  const crashed = '20240101T000000Z-aaaaaa'
  const empty = '20240101T000100Z-bbbbbb'
  const headerOnlyId = '20240101T000200Z-cccccc'
  const done = '20240101T000300Z-dddddd'
  for (const id of [crashed, empty, headerOnlyId, done]) await mkdir(join(root, id))
  await writeSession(join(root, crashed), sessionFile(crashed, { state: 'recording', stoppedAt: null, durationMs: null, stopReason: null }))
  await writeFile(join(root, crashed, 'seg-00001.mp4'), withMedia(5000))
  await writeFile(join(root, crashed, 'seg-00002.mp4'), withMedia(3000))
  await writeFile(join(root, crashed, 'seg-00003.mp4'), headerOnly())
  await writeSession(join(root, empty), sessionFile(empty, { state: 'recording' }))
  await writeSession(join(root, headerOnlyId), sessionFile(headerOnlyId, { state: 'recording' }))
  await writeFile(join(root, headerOnlyId, 'seg-00001.mp4'), headerOnly())
  await writeSession(join(root, done), sessionFile(done))
  // Not ours: no session.json, or not an id.
  await mkdir(join(root, '20240101T000400Z-eeeeee'))
  await writeFile(join(root, '20240101T000400Z-eeeeee', 'seg-00001.mp4'), withMedia())
  await mkdir(join(root, 'notes_2024'))
  await writeFile(join(root, 'notes_2024', 'session.json'), JSON.stringify(sessionFile(crashed, { state: 'recording' })))

  const result = await reconcileInterrupted(root, silentLogger())
  t.same(result.interrupted, [crashed])
  t.same(result.deleted.sort(), [empty, headerOnlyId].sort())
  const s = await readSession(join(root, crashed))
  t.equal(s?.state, 'interrupted')
  t.same(s?.segments.map((x) => x.file), ['seg-00001.mp4', 'seg-00002.mp4'], 'real list from disk, header-only dropped')
  t.equal(s?.segments[0]?.bytes, withMedia(5000).length, 'real sizes')
  t.ok(s?.stoppedAt)
  t.equal((await readSession(join(root, done)))?.state, 'finalized', 'finished sessions untouched')
  t.same((await readdir(root)).sort(), [crashed, done, '20240101T000400Z-eeeeee', 'notes_2024'].sort())
  t.ok((await readFile(join(root, 'notes_2024', 'session.json'), 'utf8')).includes('recording'), 'unowned dir untouched')
})

t.test('deleteSessionDir refuses anything not a session dir directly under the root', async (t) => {
  const root = await tmp(t)
  await mkdir(join(root, 'notes_2024'))
  await mkdir(join(root, 'x', '20240101T000000Z-aaaaaa'), { recursive: true })
  await t.rejects(deleteSessionDir(root, join(root, 'notes_2024')))
  await t.rejects(deleteSessionDir(root, join(root, 'x', '20240101T000000Z-aaaaaa')))
  await t.rejects(deleteSessionDir(root, root))
  t.same((await readdir(root)).sort(), ['notes_2024', 'x'])
})

t.test('listOwnedSessions: only id-named dirs with a valid session.json, oldest first', async (t) => {
  const root = await tmp(t)
  for (const id of ['20240102T000000Z-aaaaaa', '20240101T000000Z-aaaaaa']) {
    await mkdir(join(root, id))
    await writeSession(join(root, id), sessionFile(id))
  }
  await mkdir(join(root, '20240103T000000Z-aaaaaa'))
  await writeFile(join(root, 'loose.json'), '{}')
  t.same(
    (await listOwnedSessions(root)).map((o) => o.session.id),
    ['20240101T000000Z-aaaaaa', '20240102T000000Z-aaaaaa'],
  )
  t.same(await listOwnedSessions(join(root, 'missing')), [])
})
