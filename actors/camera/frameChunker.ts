/**
 * A pipe delivers bytes in whatever chunks the kernel hands over (64 KiB, 4 KiB, a frame
 * and a half); a consumer needs exactly one frame at a time. This re-cuts the stream into
 * whole frames of `frameBytes` each, keeping the remainder for the next chunk.
 */
export class FrameChunker {
  readonly frameBytes: number
  #pending: Buffer
  #filled = 0

  constructor(frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new RangeError(`frameBytes must be a positive integer, got ${frameBytes}`)
    this.frameBytes = frameBytes
    this.#pending = Buffer.alloc(frameBytes)
  }

  /** Bytes held back, waiting for the rest of their frame. */
  get buffered(): number {
    return this.#filled
  }

  /**
   * Every frame completed by `chunk`, in order. Each is a buffer of its own (never a view
   * into the pipe's chunk), so a subscriber may keep it.
   */
  push(chunk: Uint8Array): Buffer[] {
    const frames: Buffer[] = []
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(this.frameBytes - this.#filled, chunk.length - offset)
      this.#pending.set(chunk.subarray(offset, offset + take), this.#filled)
      this.#filled += take
      offset += take
      if (this.#filled === this.frameBytes) {
        frames.push(this.#pending)
        this.#pending = Buffer.alloc(this.frameBytes)
        this.#filled = 0
      }
    }
    return frames
  }

  /** Drop a partial frame (a new process starts a new stream). */
  reset(): void {
    this.#filled = 0
  }
}
