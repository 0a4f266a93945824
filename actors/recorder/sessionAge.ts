/**
 * Age retention's one decision (DESIGN.md §9.3): which finished sessions are older than
 * `maxAgeDays`, trusting a session's `startedAt` only when it is plausible. Session ids
 * sort in start order even when the wall clock jumps (sessionId.ts), so the id order is
 * the truth and a start time that contradicts it came from a wrong clock:
 *
 * - a start in the future (beyond a minute of slack): the clock was ahead when it was
 *   written, or is behind now; its age means nothing;
 * - a start earlier than that of a trusted session whose id sorts before it: the clock
 *   went back (an RTC reset to 1970 would otherwise make last night's footage 56 years
 *   old and delete it at once).
 *
 * Such a session is never deleted by age (free-space retention still takes it, oldest by
 * id). Pure: the store reads session.json files, this only decides.
 */

export interface SessionStart {
  id: string
  startedAt: string
}

const DAY_MS = 24 * 60 * 60 * 1000
/** A start this far ahead of now is a clock that ran ahead, not a slow NTP slew. */
export const FUTURE_SLACK_MS = 60_000

/** Ids whose start time cannot be trusted for age; `sessions` in any order. */
export function implausibleStarts(sessions: readonly SessionStart[], now: number): Set<string> {
  const byId = [...sessions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const out = new Set<string>()
  let latestTrusted = -Infinity
  for (const s of byId) {
    const t = Date.parse(s.startedAt)
    if (!Number.isFinite(t) || t > now + FUTURE_SLACK_MS || t < latestTrusted) {
      out.add(s.id)
      continue
    }
    latestTrusted = t
  }
  return out
}

/** The sessions (ids, oldest first) that age retention deletes; 0 days: none. */
export function tooOld(sessions: readonly SessionStart[], maxAgeDays: number, now: number): string[] {
  if (!(maxAgeDays > 0)) return []
  const implausible = implausibleStarts(sessions, now)
  return sessions
    .filter((s) => !implausible.has(s.id) && now - Date.parse(s.startedAt) > maxAgeDays * DAY_MS)
    .map((s) => s.id)
    .sort()
}
