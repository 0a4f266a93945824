import { randomBytes } from 'node:crypto'

/**
 * Session ids: `YYYYMMDDTHHMMSSZ-<6 base32>` (UTC wall time of the start, then
 * 30 random bits). They name directories, so they must be unique and should
 * sort in start order, even when NTP moves the wall clock back between two starts.
 */
export const SESSION_ID_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[a-z2-7]{6}$/

/** RFC 4648 base32, lower case: readable in a URL, no 0/1/8/9 to confuse with letters. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

export function isSessionId(value: unknown): value is string {
  if (typeof value !== 'string') return false
  const m = SESSION_ID_PATTERN.exec(value)
  if (!m) return false
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  const t = Date.UTC(y, mo - 1, d, h, mi, s)
  // Rejects 20241399T…: a name that only looks like an id was not made by us.
  const back = new Date(t)
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && back.getUTCHours() === h && back.getUTCMinutes() === mi
}

export function formatIdTime(wallMs: number): string {
  return new Date(Math.floor(wallMs / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')
}

/** Wall ms (whole seconds) of an id's time prefix. */
export function sessionIdTime(id: string): number {
  const m = SESSION_ID_PATTERN.exec(id)
  if (!m) throw new Error(`not a session id: ${id}`)
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number]
  return Date.UTC(y, mo - 1, d, h, mi, s)
}

function suffix(random: (n: number) => Uint8Array): string {
  const bytes = random(6)
  let out = ''
  for (let i = 0; i < 6; i++) out += BASE32[(bytes[i] ?? 0) & 31]
  return out
}

export interface SessionIdSource {
  /** A new id, strictly greater (in string order) than every id issued or observed. */
  next(): string
  /** An id made elsewhere (an existing session dir): later ids sort after it. */
  observe(id: string): void
  readonly last: string | null
}

export function createSessionIds(
  opts: { now: () => number; random?: (n: number) => Uint8Array },
): SessionIdSource {
  const random = opts.random ?? ((n: number) => new Uint8Array(randomBytes(n)))
  let last: string | null = null
  return {
    next() {
      let id = `${formatIdTime(opts.now())}-${suffix(random)}`
      if (last !== null && id <= last) {
        // The clock went back (or two starts share a second and the dice sorted low):
        // one second after the last id keeps both uniqueness and start order.
        id = `${formatIdTime(sessionIdTime(last) + 1000)}-${suffix(random)}`
      }
      last = id
      return id
    },
    observe(id: string) {
      if (isSessionId(id) && (last === null || id > last)) last = id
    },
    get last() {
      return last
    },
  }
}
