import { constants } from 'node:fs'
import { open, realpath, type FileHandle } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'

/**
 * Path safety for the download routes. Two independent gates, because either
 * alone has a history of failing:
 * 1. the name as it came over the wire must already be a plain name of an owned
 *    pattern: no decoding is done at all, so `%2e%2e%2f`, `%252e…`, `%5c`, `%00`
 *    and unicode look-alikes never become anything but a refused name;
 * 2. the file's real path (symlinks resolved) must lie inside the real path of
 *    its base dir, and the final open refuses a symlink swapped in after the check.
 */

/** `recordings/<sessionId>/`: `YYYYMMDDTHHMMSSZ-<6 base32>` (the recorder writes lower case). */
export const SESSION_DIR = /^\d{8}T\d{6}Z-[A-Za-z2-7]{6}$/
/**
 * The recorder's segments (`seg-00001.mp4`; more digits after 99999), an event session's
 * pre-roll (`pre-00001.mp4`, played before the segments: the names sort that way) and its session.json.
 */
export const RECORDING_FILE = /^(?:(?:pre|seg)-\d{5,9}\.mp4|session\.json)$/
/** Motion snapshots: `snap-<YYYYMMDDTHHMMSSmmmZ>-<n>.jpg`. */
export const SNAPSHOT_FILE = /^snap-\d{8}T\d{9}Z-\d{1,9}\.jpg$/

/** Longer than any owned name: refused before any pattern or fs work. */
export const MAX_NAME_LENGTH = 64
/** The only bytes an owned name is made of, as sent (so no `%`, `/`, `\`, NUL, non-ASCII). */
const PLAIN_NAME = /^[A-Za-z0-9._-]+$/

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string }

/** Checks one raw (undecoded) path segment against an owned pattern. */
export function checkName(raw: string, pattern: RegExp, what: string): NameCheck {
  if (raw.length === 0) return { ok: false, reason: `${what} name is empty` }
  if (raw.length > MAX_NAME_LENGTH) return { ok: false, reason: `${what} name is longer than ${MAX_NAME_LENGTH} characters` }
  if (raw.includes('%')) return { ok: false, reason: `${what} name must not be percent-encoded` }
  if (!PLAIN_NAME.test(raw)) return { ok: false, reason: `${what} name may only contain A-Z a-z 0-9 . _ -` }
  if (raw === '.' || raw === '..' || raw.includes('..')) return { ok: false, reason: `${what} name must not contain ..` }
  if (!pattern.test(raw)) return { ok: false, reason: `${what} name does not match ${pattern.source}` }
  return { ok: true, name: raw }
}

/**
 * The raw path of a request below `prefix` (e.g. `/snapshots/`), query removed,
 * nothing decoded. Null when the URL is not under the prefix as sent.
 */
export function rawRest(url: string, prefix: string): string | null {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  return path.startsWith(prefix) ? path.slice(prefix.length) : null
}

export type Resolved = { ok: true; path: string } | { ok: false; status: 400 | 404; reason: string }

/**
 * The real path of `base/...parts`, only if it is a regular file inside the real
 * base dir. A well-formed name that does not exist is 404; anything that resolves
 * outside (a symlink, a symlinked session dir) is 400, as a name that is not ours.
 */
export async function resolveInside(base: string, parts: string[]): Promise<Resolved> {
  let realBase: string
  try {
    realBase = await realpath(base)
  } catch {
    return { ok: false, status: 404, reason: 'no such file' }
  }
  const wanted = resolve(realBase, ...parts)
  if (!isInside(realBase, wanted)) return { ok: false, status: 400, reason: 'path leaves its directory' }
  let real: string
  try {
    real = await realpath(wanted)
  } catch {
    return { ok: false, status: 404, reason: 'no such file' }
  }
  if (!isInside(realBase, real)) return { ok: false, status: 400, reason: 'path leaves its directory' }
  // A symlink that stays inside still is not how the recorder or motion write files.
  if (real !== wanted) return { ok: false, status: 400, reason: 'path is a symbolic link' }
  return { ok: true, path: real }
}

export function isInside(base: string, path: string): boolean {
  const rel = relative(base, path)
  return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..')
}

export type Opened = { ok: true; handle: FileHandle; size: number; mtime: Date } | { ok: false; status: 400 | 404; reason: string }

/** Opens a resolved path without following a symlink planted after the check; regular files only. */
export async function openRegularFile(path: string): Promise<Opened> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ELOOP') return { ok: false, status: 400, reason: 'path is a symbolic link' }
    return { ok: false, status: 404, reason: 'no such file' }
  }
  const st = await handle.stat().catch(() => null)
  if (!st || !st.isFile()) {
    await handle.close().catch(() => {})
    return { ok: false, status: 404, reason: 'not a file' }
  }
  return { ok: true, handle, size: st.size, mtime: st.mtime }
}
