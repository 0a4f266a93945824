/**
 * The share of pixels that changed between two grey frames (one byte per pixel):
 * a pixel counts when |a − b| > pixelThreshold, so sensor noise and compression
 * flicker below the threshold never add up to "motion". 0 = identical, 1 = all changed.
 * Frames of different sizes cannot be compared: that is a caller's bug (a camera
 * restarted at another size must reset its reference frame), so it throws.
 */
export function frameDiff(a: Uint8Array, b: Uint8Array, pixelThreshold: number): number {
  if (a.length !== b.length) throw new RangeError(`frames differ in size: ${a.length} vs ${b.length} bytes`)
  if (a.length === 0) return 0
  let changed = 0
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!
    if (d > pixelThreshold || d < -pixelThreshold) changed++
  }
  return changed / a.length
}
