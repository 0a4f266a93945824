const SOI = 0xd8
const EOI = 0xd9
const MARKER = 0xff

/**
 * Cuts ffmpeg's MJPEG byte stream (`-f image2pipe`) into whole JPEG files: each starts at
 * FF D8 and ends at FF D9. Inside the entropy-coded data a literal FF is always stuffed
 * as FF 00, and ffmpeg writes no embedded thumbnail, so the first FF D9 ends the image.
 * Bytes before an FF D8 (a stream joined mid-image) are discarded; an image that grows
 * past `maxBytes` is dropped rather than buffered without bound.
 */
export class JpegSplitter {
  readonly maxBytes: number
  #parts: Buffer[] = []
  #size = 0
  #inImage = false
  /** The previous chunk ended on FF: the marker may straddle two chunks. */
  #trailingFF = false

  constructor(maxBytes = 8 * 1024 * 1024) {
    this.maxBytes = maxBytes
  }

  push(chunk: Buffer): Buffer[] {
    const images: Buffer[] = []
    let start = 0
    let i = 0
    if (this.#trailingFF && chunk.length > 0) {
      this.#trailingFF = false
      if (!this.#inImage && chunk[0] === SOI) {
        this.#begin(Buffer.from([MARKER]))
        i = 1
        start = 0
      } else if (this.#inImage && chunk[0] === EOI) {
        images.push(this.#finish(chunk.subarray(0, 1)))
        start = 1
        i = 1
      }
    }
    for (; i < chunk.length; i++) {
      if (chunk[i] !== MARKER) continue
      if (i + 1 >= chunk.length) {
        this.#trailingFF = true
        break
      }
      const next = chunk[i + 1]
      if (!this.#inImage && next === SOI) {
        this.#begin(Buffer.alloc(0))
        start = i
        i += 1
      } else if (this.#inImage && next === EOI) {
        images.push(this.#finish(chunk.subarray(start, i + 2)))
        start = i + 2
        i += 1
      }
    }
    if (this.#inImage) this.#append(chunk.subarray(start))
    return images
  }

  #begin(prefix: Buffer): void {
    this.#inImage = true
    this.#parts = prefix.length ? [prefix] : []
    this.#size = prefix.length
  }

  #append(part: Buffer): void {
    if (part.length === 0) return
    this.#size += part.length
    if (this.#size > this.maxBytes) {
      this.#inImage = false
      this.#parts = []
      this.#size = 0
      return
    }
    this.#parts.push(Buffer.from(part))
  }

  #finish(tail: Buffer): Buffer {
    const image = Buffer.concat([...this.#parts, tail])
    this.#inImage = false
    this.#parts = []
    this.#size = 0
    return image
  }
}
