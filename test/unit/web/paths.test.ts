import t from 'tap'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RECORDING_FILE, SESSION_DIR, SNAPSHOT_FILE, checkName, isInside, openRegularFile, rawRest, resolveInside } from '../../../actors/web/paths.js'
import { contentTypeOf, parseRange } from '../../../actors/web/files.js'

t.test('owned names pass', async (t) => {
  t.ok(checkName('20250101T120000Z-abcdef', SESSION_DIR, 'session').ok)
  t.ok(checkName('20250101T120000Z-ABC234', SESSION_DIR, 'session').ok)
  t.ok(checkName('seg-00001.mp4', RECORDING_FILE, 'file').ok)
  t.ok(checkName('seg-123456.mp4', RECORDING_FILE, 'file').ok, 'past 99999 segments the recorder writes more digits')
  t.ok(checkName('session.json', RECORDING_FILE, 'file').ok)
  t.ok(checkName('pre-00001.mp4', RECORDING_FILE, 'file').ok, "an event session's pre-roll")
  t.ok(checkName('snap-20250101T120000123Z-1.jpg', SNAPSHOT_FILE, 'snapshot').ok)
})

t.test('everything else is refused, with a reason', async (t) => {
  const refused: Array<[string, RegExp]> = [
    ['', SNAPSHOT_FILE],
    ['..', SNAPSHOT_FILE],
    ['.', SNAPSHOT_FILE],
    ['..%2fsecret', SNAPSHOT_FILE],
    ['%2e%2e', SNAPSHOT_FILE],
    ['a/b.jpg', SNAPSHOT_FILE],
    ['a\\b.jpg', SNAPSHOT_FILE],
    ['snap-20250101T120000123Z-1.jpg\u0000', SNAPSHOT_FILE],
    ['snap-20250101T120000123Z-1.jpg.', SNAPSHOT_FILE],
    ['\u2024\u2024', SNAPSHOT_FILE],
    ['x'.repeat(65), SNAPSHOT_FILE],
    ['seg-1.mp4', RECORDING_FILE],
    ['pre-1.mp4', RECORDING_FILE],
    ['post-00001.mp4', RECORDING_FILE],
    ['seg-00001.mp4.bak', RECORDING_FILE],
    ['Session.json', RECORDING_FILE],
    ['..session.json', RECORDING_FILE],
    ['20250101T120000Z-abcde', SESSION_DIR],
    ['20250101T120000Z-abcde1', SESSION_DIR],
    ['20250101T120000Z-..abcd', SESSION_DIR],
  ]
  for (const [name, pattern] of refused) {
    const r = checkName(name, pattern, 'x')
    t.notOk(r.ok, `refused: ${JSON.stringify(name)}`)
    if (!r.ok) t.type(r.reason, 'string')
  }
})

t.test('rawRest strips the prefix and the query, and decodes nothing', async (t) => {
  t.equal(rawRest('/snapshots/a.jpg?x=1', '/snapshots/'), 'a.jpg')
  t.equal(rawRest('/snapshots/%2e%2e', '/snapshots/'), '%2e%2e')
  t.equal(rawRest('/other/a.jpg', '/snapshots/'), null)
})

t.test('isInside', async (t) => {
  t.ok(isInside('/data/snapshots', '/data/snapshots/a.jpg'))
  t.notOk(isInside('/data/snapshots', '/data/snapshots'))
  t.notOk(isInside('/data/snapshots', '/data/snapshots-evil/a.jpg'))
  t.notOk(isInside('/data/snapshots', '/data/secret'))
  t.notOk(isInside('/data/snapshots', '/etc/passwd'))
})

t.test('resolveInside follows symlinks and refuses those that leave or are links at all', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'vigil-paths-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const base = join(root, 'snapshots')
  await mkdir(base)
  await writeFile(join(root, 'secret.txt'), 'secret')
  await writeFile(join(base, 'ok.jpg'), 'jpeg')
  await symlink(join(root, 'secret.txt'), join(base, 'out.jpg'))
  await symlink(join(base, 'ok.jpg'), join(base, 'in.jpg'))
  await symlink('/etc/passwd', join(base, 'passwd.jpg'))
  await mkdir(join(base, 'dir.jpg'))

  const ok = await resolveInside(base, ['ok.jpg'])
  t.ok(ok.ok)
  t.match(await resolveInside(base, ['missing.jpg']), { ok: false, status: 404 })
  t.match(await resolveInside(base, ['out.jpg']), { ok: false, status: 400 })
  t.match(await resolveInside(base, ['passwd.jpg']), { ok: false, status: 400 })
  t.match(await resolveInside(base, ['in.jpg']), { ok: false, status: 400 }, 'a link inside is still not a file motion wrote')
  t.match(await resolveInside(base, ['..', 'secret.txt']), { ok: false, status: 400 })

  if (ok.ok) {
    const opened = await openRegularFile(ok.path)
    t.ok(opened.ok)
    if (opened.ok) await opened.handle.close()
  }
  const dir = await resolveInside(base, ['dir.jpg'])
  t.ok(dir.ok)
  if (dir.ok) t.match(await openRegularFile(dir.path), { ok: false, status: 404 }, 'a directory is not served')
  t.match(await openRegularFile(join(base, 'out.jpg')), { ok: false, status: 400 }, 'O_NOFOLLOW refuses a link swapped in after the check')
})

t.test('parseRange', async (t) => {
  t.equal(parseRange(undefined, 100), null)
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 })
  t.same(parseRange('bytes=50-500', 100), { start: 50, end: 99 })
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=20-10', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=-0', 100), 'unsatisfiable')
  t.equal(parseRange('bytes=0-1,5-6', 100), null, 'multi-range: the whole file')
  t.equal(parseRange('items=0-1', 100), null)
})

t.test('content types', async (t) => {
  t.equal(contentTypeOf('seg-00001.mp4'), 'video/mp4')
  t.equal(contentTypeOf('snap-x.jpg'), 'image/jpeg')
  t.match(contentTypeOf('session.json'), /^application\/json/)
})
