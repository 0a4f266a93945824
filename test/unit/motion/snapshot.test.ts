import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import {
  compareSnapshotNames,
  nodeSnapshotFs,
  pruneSnapshots,
  SNAPSHOT_FAILED,
  SNAPSHOT_PATTERN,
  snapshotName,
  storeSnapshot,
  type SnapshotFs,
} from '../../../actors/motion/snapshot.js'

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9])

/** A logger whose lines the test reads. */
function capture() {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) })
  return { log, lines }
}

function tempDir(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-snap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const errno = (code: string) => Object.assign(new Error(`${code}: simulated`), { code })

t.test('names: UTC time to the millisecond and a counter; sortable oldest first', async (t) => {
  const at = Date.UTC(2024, 0, 2, 3, 4, 5, 123)
  t.equal(snapshotName(at, 7), 'snap-20240102T030405123Z-7.jpg')
  t.match(snapshotName(at, 7), SNAPSHOT_PATTERN)
  const names = ['snap-20240102T030405123Z-10.jpg', 'snap-20240102T030405123Z-9.jpg', 'snap-20240101T000000000Z-11.jpg']
  t.same([...names].sort(compareSnapshotNames), ['snap-20240101T000000000Z-11.jpg', 'snap-20240102T030405123Z-9.jpg', 'snap-20240102T030405123Z-10.jpg'])
})

t.test('stores a JPEG under its name, no temporary file left', async (t) => {
  const dir = tempDir(t)
  const { log } = capture()
  const saved = await storeSnapshot({ dir, maxSnapshots: 5, log }, JPEG, 'snap-20240102T030405123Z-1.jpg', Date.UTC(2024, 0, 2, 3, 4, 5, 123))
  t.same(saved, { file: 'snap-20240102T030405123Z-1.jpg', bytes: JPEG.length, at: '2024-01-02T03:04:05.123Z' })
  t.same(readdirSync(dir), ['snap-20240102T030405123Z-1.jpg'])
  t.same(readFileSync(join(dir, saved!.file)), JPEG)
})

t.test('bounded count: the oldest owned snapshots are deleted, nothing else', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'notes.txt'), 'keep me')
  writeFileSync(join(dir, 'snap-bad.jpg'), 'not ours by pattern')
  const { log } = capture()
  for (let i = 1; i <= 6; i++) {
    await storeSnapshot({ dir, maxSnapshots: 3, log }, JPEG, snapshotName(Date.UTC(2024, 0, 1, 0, 0, i), i), 0)
  }
  t.same(readdirSync(dir).sort(), [
    'notes.txt',
    'snap-20240101T000004000Z-4.jpg',
    'snap-20240101T000005000Z-5.jpg',
    'snap-20240101T000006000Z-6.jpg',
    'snap-bad.jpg',
  ])
  t.same(await pruneSnapshots(nodeSnapshotFs, dir, 1), ['snap-20240101T000004000Z-4.jpg', 'snap-20240101T000005000Z-5.jpg'])
})

for (const code of ['ENOSPC', 'EIO', 'EACCES']) {
  t.test(`a ${code} write returns no file and logs the disk warning with its code`, async (t) => {
    const dir = tempDir(t)
    const { log, lines } = capture()
    const unlinked: string[] = []
    const fs: SnapshotFs = {
      ...nodeSnapshotFs,
      writeFile: async (path, data) => {
        // Half a file reached the disk before it filled up.
        writeFileSync(path, Buffer.from(data).subarray(0, 3))
        throw errno(code)
      },
      unlink: async (path) => {
        unlinked.push(path)
        return nodeSnapshotFs.unlink(path)
      },
    }
    const saved = await storeSnapshot({ dir, maxSnapshots: 5, log, fs }, JPEG, 'snap-20240102T030405123Z-1.jpg', 0)
    t.equal(saved, null)
    t.same(readdirSync(dir), [], 'no partial file left')
    t.equal(unlinked.length, 1)
    const warn = lines.find((l) => l['msg'] === SNAPSHOT_FAILED)
    t.ok(warn, 'logged')
    t.equal(warn!['level'], 40, 'as a warning')
    t.equal(warn!['code'], code)
    t.equal(SNAPSHOT_FAILED, 'snapshot save failed — disk may be full')
  })
}

t.test('a snapshots path under a regular file (ENOTDIR, real fs): no file, warning, no throw', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'file'), 'x')
  const { log, lines } = capture()
  const saved = await storeSnapshot({ dir: join(dir, 'file', 'snapshots'), maxSnapshots: 5, log }, JPEG, 'snap-20240102T030405123Z-1.jpg', 0)
  t.equal(saved, null)
  t.match(lines.find((l) => l['msg'] === SNAPSHOT_FAILED), { code: 'ENOTDIR' })
})

t.test('a failed prune keeps the saved snapshot', async (t) => {
  const dir = tempDir(t)
  const { log, lines } = capture()
  const fs: SnapshotFs = { ...nodeSnapshotFs, readdir: async () => Promise.reject(errno('EIO')) }
  const saved = await storeSnapshot({ dir, maxSnapshots: 1, log, fs }, JPEG, 'snap-20240102T030405123Z-1.jpg', 0)
  t.ok(saved)
  t.ok(lines.some((l) => l['msg'] === 'snapshot pruning failed'))
})
