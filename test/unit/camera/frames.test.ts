import t from 'tap'
import { CameraFrames } from '../../../actors/camera/frames.js'

t.test('keeps the newest picture and fans out to subscribers', async (t) => {
  const frames = new CameraFrames()
  t.equal(frames.latestFrame(), null)
  t.equal(frames.latestSnapshot(), null)
  const seen: number[] = []
  const off = frames.onFrame((gray) => void seen.push(gray[0]!))
  frames.publishFrame(Buffer.from([1]), { width: 1, height: 1 })
  frames.publishFrame(Buffer.from([2]), { width: 1, height: 1 })
  off()
  frames.publishFrame(Buffer.from([3]), { width: 1, height: 1 })
  t.same(seen, [1, 2])
  t.same(frames.latestFrame(), { gray: Buffer.from([3]), info: { width: 1, height: 1 } })
  const jpegs: Buffer[] = []
  frames.onSnapshot((j) => void jpegs.push(j))
  frames.publishSnapshot(Buffer.from([0xff, 0xd8]))
  t.same(frames.latestSnapshot(), Buffer.from([0xff, 0xd8]))
  t.equal(jpegs.length, 1)
})

t.test('a throwing subscriber is reported and does not stop the others', async (t) => {
  const errors: unknown[] = []
  const frames = new CameraFrames((err) => errors.push(err))
  let calls = 0
  frames.onFrame(() => {
    throw new Error('ENOSPC')
  })
  frames.onFrame(() => void (calls += 1))
  frames.publishFrame(Buffer.from([1]), { width: 1, height: 1 })
  t.equal(calls, 1)
  t.match(errors, [{ message: 'ENOSPC' }])
})

t.test('the newest JPEG carries its time: a camera that stopped leaves an old picture, and says how old', async (t) => {
  let mono = 1000
  const frames = new CameraFrames(() => {}, { monotonic: () => mono })
  t.equal(frames.latestSnapshotAt(), null)
  t.equal(frames.snapshotAgeMs(), null, 'no picture: no age')
  frames.publishSnapshot(Buffer.from([0xff, 0xd8, 1]))
  t.equal(frames.latestSnapshotAt(), 1000)
  t.equal(frames.snapshotAgeMs(), 0)
  mono += 7000
  t.equal(frames.snapshotAgeMs(), 7000, 'seven seconds without a new JPEG')
  t.same(frames.latestSnapshot(), Buffer.from([0xff, 0xd8, 1]), 'the picture itself is kept')
  frames.publishSnapshot(Buffer.from([0xff, 0xd8, 2]))
  t.equal(frames.snapshotAgeMs(), 0, 'a new picture is fresh')
})
