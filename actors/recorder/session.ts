import { open, readdir, readFile, rename, rm, stat, unlink, lstat } from 'node:fs/promises'
import { basename, join, resolve, sep } from 'node:path'
import type { Logger } from '../../infra/logger.js'
import { isSessionId } from './sessionId.js'
import type { PreRollFile, SessionEventMark, SessionTrigger } from '../../machines/recorder.types.js'

/**
 * session.json: the recorder's own record of a session dir. The recorder alone
 * owns `recordings/<sessionId>/`; a dir is "ours" only when its name is a
 * session id AND it holds a valid session.json with that id, so retention and
 * reconcile never touch an operator's `notes_2024/` or a half-made dir.
 */
export const SESSION_FILE = 'session.json'
export const SESSION_SCHEMA_VERSION = 1

export type SessionState = 'recording' | 'finalized' | 'interrupted' | 'disk_full' | 'stalled'
const sessionStates: readonly SessionState[] = ['recording', 'finalized', 'interrupted', 'disk_full', 'stalled']

export interface SegmentRecord {
  file: string
  bytes: number
  /** Wall ISO time the file was created, when known. */
  startedAt?: string
}

export interface GapRecord {
  /** Wall ISO time the stream was lost. */
  at: string
  reason: string
  /** Monotonic ms until bytes flowed again (or until the stop, for a gap at the end). */
  ms: number
}

export interface SessionFile {
  schemaVersion: 1
  node: string
  name: string
  id: string
  /** Wall clock, ISO 8601. */
  startedAt: string
  /** Monotonic ms at start; only meaningful to the process that wrote it. */
  startedMono: number
  state: SessionState
  stopReason: string | null
  stoppedAt: string | null
  /** From the monotonic clock; null when the process that knew it died (interrupted). */
  durationMs: number | null
  /**
   * Footage before the start command (ms; negative: footage began that long after it),
   * measured from ffmpeg's progress; null when unknown. The segments add up to about
   * preRollMs + durationMs + postRollMs (minus gaps).
   */
  preRollMs?: number | null
  /** Footage kept after a requested stop (the post-roll tail), ms. */
  postRollMs?: number
  segments: SegmentRecord[]
  gaps: GapRecord[]
  /** What opened the session; absent in sessions written before recording modes (read as manual). */
  trigger?: SessionTrigger
  /** Motion and sound events while it recorded (events mode: the trigger first). */
  events?: SessionEventMark[]
  /**
   * Events mode: footage from the pre-roll buffer, moved in as `pre-NNNNN.mp4` and played
   * before seg-00001; `ms` each from the buffer's segment list. Not part of `preRollMs`
   * (which is what the seg-* files hold before the start command).
   */
  preRollFiles?: PreRollFile[]
}

const SEGMENT_FILE = /^seg-(\d{5,})\.mp4$/
const PRE_ROLL_FILE = /^pre-\d{5,}\.mp4$/
const triggerKinds = ['manual', 'continuous', 'motion', 'sound']

export function preRollFileName(n: number): string {
  return `pre-${String(n).padStart(5, '0')}.mp4`
}

export function isSegmentFile(name: string): boolean {
  return SEGMENT_FILE.test(name)
}

export function segmentNumber(name: string): number | null {
  const m = SEGMENT_FILE.exec(name)
  return m ? Number(m[1]) : null
}

export function segmentFileName(n: number): string {
  return `seg-${String(n).padStart(5, '0')}.mp4`
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isStr = (v: unknown): v is string => typeof v === 'string'

/** Structural check of a parsed session.json; null when it is not one of ours. */
export function parseSessionFile(value: unknown, expectedId?: string): SessionFile | null {
  if (!isObj(value)) return null
  const v = value
  if (v.schemaVersion !== SESSION_SCHEMA_VERSION) return null
  if (!isSessionId(v.id) || (expectedId !== undefined && v.id !== expectedId)) return null
  if (!isStr(v.node) || !isStr(v.name) || !isStr(v.startedAt) || Number.isNaN(Date.parse(v.startedAt))) return null
  if (!isNum(v.startedMono) || !sessionStates.includes(v.state as SessionState)) return null
  if (!(v.stoppedAt === null || v.stoppedAt === undefined || isStr(v.stoppedAt))) return null
  if (!(v.durationMs === null || v.durationMs === undefined || isNum(v.durationMs))) return null
  if (!Array.isArray(v.segments) || !Array.isArray(v.gaps)) return null
  const segments: SegmentRecord[] = []
  for (const s of v.segments) {
    if (!isObj(s) || !isStr(s.file) || !isSegmentFile(s.file) || !isNum(s.bytes)) return null
    segments.push(isStr(s.startedAt) ? { file: s.file, bytes: s.bytes, startedAt: s.startedAt } : { file: s.file, bytes: s.bytes })
  }
  const gaps: GapRecord[] = []
  for (const g of v.gaps) {
    if (!isObj(g) || !isStr(g.at) || !isStr(g.reason) || !isNum(g.ms)) return null
    gaps.push({ at: g.at, reason: g.reason, ms: g.ms })
  }
  const trigger = isObj(v.trigger) && triggerKinds.includes(v.trigger.kind as string) && isStr(v.trigger.at) ? { kind: v.trigger.kind as SessionTrigger['kind'], at: v.trigger.at } : undefined
  const events = Array.isArray(v.events)
    ? v.events.filter((e): e is SessionEventMark => isObj(e) && (e.kind === 'motion' || e.kind === 'sound') && isStr(e.at)).map((e) => ({ kind: e.kind, at: e.at }))
    : undefined
  const preRollFiles = Array.isArray(v.preRollFiles)
    ? v.preRollFiles.filter((f): f is PreRollFile => isObj(f) && isStr(f.file) && PRE_ROLL_FILE.test(f.file) && isNum(f.bytes) && isNum(f.ms)).map((f) => ({ file: f.file, bytes: f.bytes, ms: f.ms }))
    : undefined
  return {
    schemaVersion: 1,
    node: v.node,
    name: v.name,
    id: v.id,
    startedAt: v.startedAt,
    startedMono: v.startedMono,
    state: v.state as SessionState,
    stopReason: isStr(v.stopReason) ? v.stopReason : null,
    stoppedAt: isStr(v.stoppedAt) ? v.stoppedAt : null,
    durationMs: isNum(v.durationMs) ? v.durationMs : null,
    ...(isNum(v.preRollMs) || v.preRollMs === null ? { preRollMs: v.preRollMs } : {}),
    ...(isNum(v.postRollMs) ? { postRollMs: v.postRollMs } : {}),
    segments,
    gaps,
    ...(trigger ? { trigger } : {}),
    ...(events ? { events } : {}),
    ...(preRollFiles && preRollFiles.length > 0 ? { preRollFiles } : {}),
  }
}

/** The session.json of `dir`, or null: missing, unreadable, invalid, or not named after its dir. */
export async function readSession(dir: string): Promise<SessionFile | null> {
  const id = basename(dir)
  if (!isSessionId(id)) return null
  let text: string
  try {
    text = await readFile(join(dir, SESSION_FILE), 'utf8')
  } catch {
    return null
  }
  try {
    return parseSessionFile(JSON.parse(text), id)
  } catch {
    return null
  }
}

/**
 * Atomic replace: a crash leaves either the old or the new session.json, never
 * half of one. fsync of the file before the rename and of the dir after it, so
 * the rename is not reordered ahead of the data on power loss.
 */
export async function writeSession(dir: string, session: SessionFile): Promise<void> {
  const target = join(dir, SESSION_FILE)
  const tmp = join(dir, `.${SESSION_FILE}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`)
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(`${JSON.stringify(session, null, 2)}\n`, 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, target)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  const dh = await open(dir, 'r')
  try {
    await dh.sync()
  } finally {
    await dh.close()
  }
}

/** Segment files of a session dir, in number order, with their sizes now. */
export async function scanSegments(dir: string): Promise<Array<SegmentRecord & { mtimeMs: number; birthMs: number }>> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const files = names.filter(isSegmentFile).sort((a, b) => (segmentNumber(a) ?? 0) - (segmentNumber(b) ?? 0))
  const out: Array<SegmentRecord & { mtimeMs: number; birthMs: number }> = []
  for (const file of files) {
    try {
      const s = await stat(join(dir, file))
      if (!s.isFile()) continue
      const birthMs = s.birthtimeMs > 0 ? s.birthtimeMs : s.ctimeMs
      out.push({ file, bytes: s.size, startedAt: new Date(birthMs).toISOString(), mtimeMs: s.mtimeMs, birthMs })
    } catch {
      // Gone between readdir and stat: not a segment any more.
    }
  }
  return out
}

/** The number the next ffmpeg run should start at, so a resumed session keeps counting. */
export async function nextSegmentNumber(dir: string): Promise<number> {
  const segs = await scanSegments(dir)
  const last = segs.at(-1)
  return last ? (segmentNumber(last.file) ?? 0) + 1 : 1
}

/**
 * Whether a fragmented MP4 holds any media: ffmpeg writes ftyp+moov (empty_moov)
 * as soon as it opens a segment, so a run that dies before its first keyframe
 * leaves a ~1 KB file with no `moof`. Such a file is not a recording. Walks the
 * top-level boxes only (a few small reads), a truncated last box is fine.
 */
export async function hasMediaFragment(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const size = (await fh.stat()).size
    const head = Buffer.alloc(16)
    let pos = 0
    while (pos + 8 <= size) {
      const { bytesRead } = await fh.read(head, 0, 16, pos)
      if (bytesRead < 8) return false
      const type = head.toString('latin1', 4, 8)
      if (type === 'moof' || type === 'mdat') return true
      let boxSize = head.readUInt32BE(0)
      if (boxSize === 1) {
        if (bytesRead < 16) return false
        boxSize = Number(head.readBigUInt64BE(8))
      } else if (boxSize === 0) {
        return false
      }
      if (boxSize < 8) return false
      pos += boxSize
    }
    return false
  } finally {
    await fh.close()
  }
}

/** Deletes segments with no media and returns what is left (real sizes). */
export async function collectSegments(dir: string, log?: Logger): Promise<SegmentRecord[]> {
  const kept: SegmentRecord[] = []
  for (const seg of await scanSegments(dir)) {
    const path = join(dir, seg.file)
    const media = seg.bytes > 0 && (await hasMediaFragment(path).catch(() => false))
    if (!media) {
      log?.debug({ file: path, bytes: seg.bytes }, 'dropping a segment with no media')
      await unlink(path).catch(() => undefined)
      continue
    }
    kept.push(seg.startedAt ? { file: seg.file, bytes: seg.bytes, startedAt: seg.startedAt } : { file: seg.file, bytes: seg.bytes })
  }
  return kept
}

/** Removes an owned session dir; refuses anything outside `recordingsDir` or not named like a session. */
export async function deleteSessionDir(recordingsDir: string, dir: string): Promise<void> {
  const root = resolve(recordingsDir)
  const target = resolve(dir)
  if (!isSessionId(basename(target)) || resolve(target, '..') !== root || !target.startsWith(root + sep)) {
    throw new Error(`refusing to delete ${target}: not a session dir of ${root}`)
  }
  const s = await lstat(target)
  if (!s.isDirectory()) throw new Error(`refusing to delete ${target}: not a directory`)
  await rm(target, { recursive: true, force: true })
}

export interface OwnedSession {
  dir: string
  session: SessionFile
}

/** Every owned session under `recordingsDir`, oldest (id order) first. */
export async function listOwnedSessions(recordingsDir: string): Promise<OwnedSession[]> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(recordingsDir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: OwnedSession[] = []
  for (const e of entries) {
    if (!e.isDirectory() || !isSessionId(e.name)) continue
    const dir = join(recordingsDir, e.name)
    const session = await readSession(dir)
    if (session) out.push({ dir, session })
  }
  return out.sort((a, b) => (a.session.id < b.session.id ? -1 : a.session.id > b.session.id ? 1 : 0))
}

export interface ReconcileResult {
  interrupted: string[]
  deleted: string[]
}

/**
 * A session still `recording` at startup was cut off by a crash or a kill: its
 * session.json never learned its segments. Rebuild the list from disk and mark
 * it `interrupted`; one that never got a byte of media is deleted, not kept.
 * Must run before any session of this process opens (it would look crashed).
 */
/** The listed pre-roll files still on disk (a crash can come between a move and its listing: unlisted ones stay, unplayed). */
async function presentPreRollFiles(dir: string, listed: PreRollFile[] | undefined): Promise<PreRollFile[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]))
  return (listed ?? []).filter((f) => names.has(f.file))
}

/**
 * Lists buffered files moved into a recording session after it opened (the bridge), in its
 * session.json at once: a crash before the finalize then still lists them (reconcile).
 */
export async function appendPreRollFiles(dir: string, files: PreRollFile[]): Promise<void> {
  const session = await readSession(dir)
  if (!session || session.state !== 'recording') return
  const known = new Set((session.preRollFiles ?? []).map((f) => f.file))
  await writeSession(dir, { ...session, preRollFiles: [...(session.preRollFiles ?? []), ...files.filter((f) => !known.has(f.file))] })
}

export async function reconcileInterrupted(recordingsDir: string, log: Logger, except?: string): Promise<ReconcileResult> {
  const result: ReconcileResult = { interrupted: [], deleted: [] }
  for (const { dir, session } of await listOwnedSessions(recordingsDir)) {
    if (session.state !== 'recording' || session.id === except) continue
    const segments = await collectSegments(dir, log)
    const bytes = segments.reduce((n, s) => n + s.bytes, 0)
    const preRollFiles = await presentPreRollFiles(dir, session.preRollFiles)
    if (bytes === 0 && preRollFiles.length === 0) {
      await deleteSessionDir(recordingsDir, dir)
      result.deleted.push(session.id)
      log.info({ session: session.id }, 'deleted an interrupted session with no media')
      continue
    }
    const last = (await scanSegments(dir)).at(-1)
    await writeSession(dir, {
      ...session,
      state: 'interrupted',
      stopReason: 'process ended while recording',
      // The best end we know: the last write to the last segment.
      stoppedAt: last ? new Date(last.mtimeMs).toISOString() : session.startedAt,
      durationMs: null,
      segments,
      ...(preRollFiles.length > 0 ? { preRollFiles } : {}),
    })
    result.interrupted.push(session.id)
    log.warn({ session: session.id, segments: segments.length, bytes }, 'session reconciled as interrupted')
  }
  return result
}
