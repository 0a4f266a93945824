import t from 'tap'
import { frameDiff } from '../../../actors/motion/frameDiff.js'

const W = 160
const H = 90
const frame = (fill: (i: number) => number) => Buffer.from(Array.from({ length: W * H }, (_, i) => fill(i)))

t.test('identical frames: 0', async (t) => {
  const a = frame((i) => i % 251)
  t.equal(frameDiff(a, Buffer.from(a), 25), 0)
})

t.test('half the frame changed: 0.5', async (t) => {
  const a = frame(() => 100)
  const b = frame((i) => (i < (W * H) / 2 ? 200 : 100))
  t.equal(frameDiff(a, b, 25), 0.5)
  t.equal(frameDiff(b, a, 25), 0.5, 'darker counts as much as brighter')
})

t.test('every pixel changed: 1', async (t) => {
  t.equal(frameDiff(frame(() => 0), frame(() => 255), 25), 1)
})

t.test('noise below the threshold: 0', async (t) => {
  let seed = 7
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed
  }
  const a = frame(() => 128)
  const b = frame(() => 128 + ((rnd() % 51) - 25))
  t.equal(frameDiff(a, b, 25), 0, '±25 with threshold 25')
  t.ok(frameDiff(a, b, 10) > 0, 'the same noise counts with a lower threshold')
})

t.test('a moving square: its old and new place', async (t) => {
  const square = (x0: number) => frame((i) => {
    const x = i % W
    const y = Math.floor(i / W)
    return x >= x0 && x < x0 + 10 && y >= 40 && y < 50 ? 250 : 20
  })
  t.equal(frameDiff(square(10), square(30), 25), 200 / (W * H))
})

t.test('sizes must match; empty frames are identical', async (t) => {
  t.throws(() => frameDiff(Buffer.alloc(10), Buffer.alloc(11), 25), RangeError)
  t.equal(frameDiff(Buffer.alloc(0), Buffer.alloc(0), 25), 0)
})
