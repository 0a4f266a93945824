import t from 'tap'
import { JpegSplitter } from '../../../actors/camera/jpegSplitter.js'

/** A fake JPEG: SOI, a body with stuffed FF 00 and an FF D8 that is not a marker here, EOI. */
const jpeg = (fill: number) => Buffer.from([0xff, 0xd8, fill, 0xff, 0x00, fill, 0xff, 0xe0, 0x00, fill, 0xff, 0xd9])

t.test('splits concatenated JPEGs at any chunk boundary', async (t) => {
  const stream = Buffer.concat([jpeg(1), jpeg(2), jpeg(3)])
  for (let size = 1; size <= stream.length; size++) {
    const s = new JpegSplitter()
    const out: Buffer[] = []
    for (let i = 0; i < stream.length; i += size) out.push(...s.push(stream.subarray(i, i + size)))
    t.same(out, [jpeg(1), jpeg(2), jpeg(3)], `chunks of ${size}`)
  }
})

t.test('skips bytes before the first SOI (joined mid-image)', async (t) => {
  const s = new JpegSplitter()
  const out = s.push(Buffer.concat([Buffer.from([0x12, 0xff, 0xd9, 0x00]), jpeg(7)]))
  t.same(out, [jpeg(7)])
})

t.test('drops an image that grows past maxBytes, then recovers', async (t) => {
  const s = new JpegSplitter(16)
  t.same(s.push(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(40, 1)])), [])
  t.same(s.push(Buffer.concat([Buffer.alloc(10, 1), Buffer.from([0xff, 0xd9])])), [], 'the oversized image is not emitted')
  t.same(s.push(jpeg(9)), [jpeg(9)])
})
