/**
 * Failed logins per client address (DESIGN.md §9.1): after `maxFailures` within
 * `windowMs` the address is refused (429, Retry-After) until the window it opened
 * runs out, right password or not, so guessing costs the attacker real time.
 */

export interface LoginLimiter {
  /** null: may try; else seconds to wait. */
  retryAfterS(address: string): number | null
  failed(address: string): void
  succeeded(address: string): void
}

export interface LoginLimiterOptions {
  maxFailures: number
  windowMs: number
  now?: () => number
  /** Addresses tracked at most (a spoofing flood cannot grow the map without end). */
  maxAddresses?: number
}

export const DEFAULT_LOGIN_LIMIT = { maxFailures: 5, windowMs: 5 * 60 * 1000 }

export function createLoginLimiter({ maxFailures, windowMs, now = Date.now, maxAddresses = 10_000 }: LoginLimiterOptions): LoginLimiter {
  const windows = new Map<string, { failures: number; resetAt: number }>()
  const live = (address: string) => {
    const w = windows.get(address)
    if (w !== undefined && w.resetAt <= now()) {
      windows.delete(address)
      return undefined
    }
    return w
  }
  return {
    retryAfterS(address) {
      const w = live(address)
      if (w === undefined || w.failures < maxFailures) return null
      return Math.max(1, Math.ceil((w.resetAt - now()) / 1000))
    },
    failed(address) {
      const w = live(address)
      if (w !== undefined) {
        w.failures += 1
        return
      }
      if (windows.size >= maxAddresses) {
        const t = now()
        for (const [a, x] of windows) if (x.resetAt <= t) windows.delete(a)
        while (windows.size >= maxAddresses) windows.delete(windows.keys().next().value!)
      }
      windows.set(address, { failures: 1, resetAt: now() + windowMs })
    },
    succeeded(address) {
      windows.delete(address)
    },
  }
}
