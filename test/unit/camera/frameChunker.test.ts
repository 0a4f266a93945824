import t from 'tap'
import { FrameChunker } from '../../../actors/camera/frameChunker.js'

const bytes = (from: number, count: number) => Buffer.from(Array.from({ length: count }, (_, i) => (from + i) % 256))

t.test('cuts a byte stream into exact frames whatever the chunking', async (t) => {
  const stream = bytes(0, 4 * 10 + 3) // 4 frames of 10 bytes and a partial one
  for (const chunkSize of [1, 3, 7, 10, 11, 25, 43]) {
    const c = new FrameChunker(10)
    const frames: Buffer[] = []
    for (let i = 0; i < stream.length; i += chunkSize) frames.push(...c.push(stream.subarray(i, i + chunkSize)))
    t.equal(frames.length, 4, `chunks of ${chunkSize}`)
    t.ok(frames.every((f) => f.length === 10))
    t.same(Buffer.concat(frames), stream.subarray(0, 40))
    t.equal(c.buffered, 3)
  }
})

t.test('several frames in one chunk', async (t) => {
  const c = new FrameChunker(4)
  const frames = c.push(bytes(0, 12))
  t.same(frames.map((f) => [...f]), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
})

t.test('frames are independent copies, safe to keep', async (t) => {
  const c = new FrameChunker(4)
  const chunk = bytes(0, 8)
  const [a, b] = c.push(chunk)
  chunk.fill(0xff)
  t.same([...a!], [0, 1, 2, 3])
  t.same([...b!], [4, 5, 6, 7])
  t.not(a!.buffer, b!.buffer)
})

t.test('reset drops a partial frame', async (t) => {
  const c = new FrameChunker(4)
  c.push(bytes(0, 3))
  c.reset()
  t.same(c.push(bytes(10, 4)).map((f) => [...f]), [[10, 11, 12, 13]])
})

t.test('rejects a nonsense frame size', async (t) => {
  t.throws(() => new FrameChunker(0), RangeError)
  t.throws(() => new FrameChunker(1.5), RangeError)
})
