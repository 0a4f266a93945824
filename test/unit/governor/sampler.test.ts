import t from 'tap'
import { createManualDisk } from '../../../infra/disk.js'
import { createSystemSampler, type SystemInfo } from '../../../actors/governor/sampler.js'

function fakeSystem() {
  const state = { busy: 0, idle: 0, processMicros: 0, total: 1000, free: 250 }
  const sys: SystemInfo = {
    // Two CPUs, each carrying half the counts.
    cpus: () => [0, 1].map(() => ({ times: { user: state.busy / 2, nice: 0, sys: 0, idle: state.idle / 2, irq: 0 } })),
    totalmem: () => state.total,
    freemem: () => state.free,
    cpuUsage: () => ({ user: state.processMicros, system: 0 }),
  }
  return { sys, state }
}

t.test('CPU is a rate between samples (none on the first), memory and disk as read', async (t) => {
  const { sys, state } = fakeSystem()
  let mono = 0
  const disk = createManualDisk(42 * 1024 ** 3)
  const sample = createSystemSampler({ dataDir: '/data', disk, system: sys, clock: { now: () => 1000 + mono, monotonic: () => mono } })
  const first = await sample()
  t.same(first, { cpuPercent: null, processCpuPercent: null, memoryPercent: 75, diskFreeBytes: 42 * 1024 ** 3, at: 1000, errors: [] })
  state.busy += 300
  state.idle += 700
  state.processMicros += 500_000
  mono += 1000
  const second = await sample()
  t.equal(second.cpuPercent, 30)
  t.equal(second.processCpuPercent, 25, '0.5 s of CPU in 1 s on 2 CPUs')
})

t.test('a disk that cannot be read: null and an error in words', async (t) => {
  const { sys } = fakeSystem()
  const disk = createManualDisk(1)
  disk.fail(Object.assign(new Error('EIO'), { code: 'EIO' }))
  const s = await createSystemSampler({ dataDir: '/data', disk, system: sys })()
  t.equal(s.diskFreeBytes, null)
  t.same(s.errors, ['free space of /data: EIO'])
})

t.test('the real system answers', async (t) => {
  const sample = createSystemSampler({ dataDir: process.cwd() })
  await sample()
  const s = await sample()
  t.type(s.memoryPercent, 'number')
  t.ok(s.diskFreeBytes !== null && s.diskFreeBytes > 0)
})
