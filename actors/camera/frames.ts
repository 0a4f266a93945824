export interface GrayFrameInfo {
  width: number
  height: number
}

export type FrameListener = (gray: Buffer, info: GrayFrameInfo) => void
export type SnapshotListener = (jpeg: Buffer) => void

/**
 * The camera's pictures for whoever needs them (motion, `camera.snapshot`, the web UI).
 * It outlives camera restarts: the wiring makes one and passes it as `frames` to every
 * camera instance, and subscribers keep their subscription across ffmpeg and actor
 * restarts. Only the newest grey frame and JPEG are kept.
 */
export class CameraFrames {
  #frame: { gray: Buffer; info: GrayFrameInfo } | null = null
  #jpeg: Buffer | null = null
  /** When the newest JPEG came (monotonic ms): a stalled camera leaves an old picture behind. */
  #jpegAt: number | null = null
  readonly #monotonic: () => number
  readonly #frameListeners = new Set<FrameListener>()
  readonly #snapshotListeners = new Set<SnapshotListener>()
  #onListenerError: (err: unknown) => void

  constructor(onListenerError: (err: unknown) => void = () => {}, opts: { monotonic?: () => number } = {}) {
    this.#onListenerError = onListenerError
    this.#monotonic = opts.monotonic ?? (() => performance.now())
  }

  latestFrame(): { gray: Buffer; info: GrayFrameInfo } | null {
    return this.#frame
  }

  /** The newest colour JPEG (1 fps from ffmpeg), or null before the first. */
  latestSnapshot(): Buffer | null {
    return this.#jpeg
  }

  /** When the newest JPEG arrived (the monotonic clock given at construction), or null before the first. */
  latestSnapshotAt(): number | null {
    return this.#jpegAt
  }

  /**
   * How old the newest JPEG is, in ms, or null before the first. The JPEG is kept when the
   * camera stalls or restarts: whoever shows it as "live" (the page's stills) must ask this.
   */
  snapshotAgeMs(): number | null {
    return this.#jpegAt === null ? null : Math.max(0, this.#monotonic() - this.#jpegAt)
  }

  onFrame(listener: FrameListener): () => void {
    this.#frameListeners.add(listener)
    return () => this.#frameListeners.delete(listener)
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.#snapshotListeners.add(listener)
    return () => this.#snapshotListeners.delete(listener)
  }

  publishFrame(gray: Buffer, info: GrayFrameInfo): void {
    this.#frame = { gray, info }
    for (const l of this.#frameListeners) this.#call(() => l(gray, info))
  }

  publishSnapshot(jpeg: Buffer): void {
    this.#jpeg = jpeg
    this.#jpegAt = this.#monotonic()
    for (const l of this.#snapshotListeners) this.#call(() => l(jpeg))
  }

  // A failing subscriber (motion's disk is full) must not stop the camera.
  #call(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#onListenerError(err)
    }
  }
}
