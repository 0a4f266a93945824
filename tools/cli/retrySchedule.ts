import type { ErrorBody } from '../../infra/errors.js'
import { PERMISSION_DENIED } from '../../infra/nats/client.js'

/**
 * When `vigil cmd` tries a command again (DESIGN.md §9.5). Pure, so the schedule is tested
 * without a rig or a clock. Only codes that say "the rig did not do it, or we do not know"
 * are retried: TIMEOUT (no reply in time: the link lost it, or the rig was busy) and
 * UNAVAILABLE (no responders, a cut connection, a child between restarts). Everything else
 * is the rig's answer, and asking again would get it again.
 */
export function isRetryable(error: ErrorBody): boolean {
  if (error.details?.['reason'] === PERMISSION_DENIED) return false // the server's permissions will say the same
  return error.code === 'TIMEOUT' || error.code === 'UNAVAILABLE'
}

export const DEFAULT_TRIES = 3

/**
 * The pause before try `next` (2, 3, …): 0.5 s, 1 s, 2 s … capped at 5 s, ±20 % jitter so
 * many clients cut off together do not come back in step.
 */
export function retryDelayMs(next: number, random: () => number = Math.random): number {
  const base = Math.min(5000, 500 * 2 ** Math.max(0, next - 2))
  return Math.round(base * (0.8 + random() * 0.4))
}

/** `--retries N`: how many tries in all (1: no retry). */
export function parseTries(raw: string | undefined): number | { error: string } {
  if (raw === undefined) return DEFAULT_TRIES
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 100) return { error: `--retries takes the number of tries in all, 1 to 100 (got ${JSON.stringify(raw)})` }
  return n
}
