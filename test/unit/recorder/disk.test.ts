import t from 'tap'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createManualDisk, systemDisk } from '../../../infra/disk.js'

t.test('systemDisk: statfs free space; a path not made yet is measured on its parent', async (t) => {
  const here = await systemDisk.free(tmpdir())
  t.ok(here.totalBytes > 0 && here.freeBytes >= 0 && here.freeBytes <= here.totalBytes)
  const later = await systemDisk.free(join(tmpdir(), 'vigil-not-yet', 'recordings'))
  t.equal(later.totalBytes, here.totalBytes, 'same filesystem')
})

t.test('createManualDisk: set and fail by hand', async (t) => {
  const disk = createManualDisk(5000, 10_000)
  t.same(await disk.free('/x'), { freeBytes: 5000, totalBytes: 10_000 })
  disk.set(10)
  t.equal((await disk.free('/x')).freeBytes, 10)
  disk.fail(new Error('EIO'))
  await t.rejects(disk.free('/x'), /EIO/)
  disk.set(20)
  t.equal((await disk.free('/x')).freeBytes, 20)
  t.equal(disk.probes, 4)
})
