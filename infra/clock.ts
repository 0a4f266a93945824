/**
 * Wall time and monotonic time are different questions: session ids and `at`
 * fields use the wall clock, every duration uses the monotonic one, so a wall
 * clock moved back never yields a negative duration. Tests inject an offset.
 */
export interface Clock {
  /** Wall clock, ms since the epoch. */
  now(): number
  /** Monotonic ms, arbitrary origin; only differences mean anything. */
  monotonic(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
}

/** A wall clock that can be moved by hand (fault injection: the clock jumps back). */
export function createAdjustableClock(base: Clock = systemClock): Clock & { shiftWall(ms: number): void } {
  let offset = 0
  return {
    now: () => base.now() + offset,
    monotonic: () => base.monotonic(),
    shiftWall: (ms: number) => {
      offset += ms
    },
  }
}
