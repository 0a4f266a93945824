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
  readonly #frameListeners = new Set<FrameListener>()
  readonly #snapshotListeners = new Set<SnapshotListener>()
  #onListenerError: (err: unknown) => void

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError
  }

  latestFrame(): { gray: Buffer; info: GrayFrameInfo } | null {
    return this.#frame
  }

  /** The newest colour JPEG (1 fps from ffmpeg), or null before the first. */
  latestSnapshot(): Buffer | null {
    return this.#jpeg
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
