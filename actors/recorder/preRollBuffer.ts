import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { fromCallback } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import { redactCredentials } from '../../infra/sources.js'
import type { PreRollFile } from '../../machines/recorder.types.js'
import type { ModeEvent } from '../../machines/recordingMode.machine.js'
import { preRollFileName } from './session.js'

/**
 * The pre-roll buffer (manual and events modes): the media server hands a new reader only the
 * GOP it holds (~1 s), so footage from seconds before a trigger must already be on disk; and a
 * recorder ffmpeg takes 0.3–2 s to start, read and reach a keyframe, so a start by hand opens
 * with the newest buffered second (warm start: its first bytes are on disk at once). A second
 * ffmpeg copies the live stream (`-c copy`, no decode) into 1 s segments in a hidden dir
 * under the recordings dir; old ones are deleted; on a trigger the closed segments that
 * cover the pre-roll are renamed (same filesystem: no copy) into the new session dir as
 * `pre-NNNNN.mp4`. The dot name keeps it out of every session listing (not a session id).
 */
export const BUFFER_DIR = '.prebuffer'
export const BUFFER_LIST = 'segments.csv'
const BUFFER_FILE = /^buf-\d{6,}\.mp4$/
/**
 * Buffer segments kept beyond the pre-roll: for the time between a trigger and the take, and
 * until the bridge (takeBridge) has run, a second or two after the recorder's first footage.
 */
export const BUFFER_SLACK_MS = 6000

export interface PreRollBufferArgsOptions {
  inputUrl: string
  bufferDir: string
  readTimeoutMs?: number
}

/**
 * As the recorder's own ffmpeg (ffmpegArgs.ts: fragmented MP4, timestamps reset per segment),
 * with 1 s segments (cut at the camera's 1 s keyframes) and a CSV segment list: ffmpeg writes
 * `file,start,end` when it closes a segment, so the list says which segments are closed and
 * how long each is without probing them. `-segment_list_size` makes ffmpeg rewrite the list
 * with only the newest entries (an appended list would grow for ever).
 */
export function preRollBufferArgs(o: PreRollBufferArgsOptions): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel', 'warning',
    '-rw_timeout', String(Math.round((o.readTimeoutMs ?? 2000) * 1000)),
    '-analyzeduration', '1000000',
    '-i', o.inputUrl,
    '-map', '0:v',
    '-map', '0:a?',
    '-c', 'copy',
    '-f', 'segment',
    '-segment_time', '1',
    '-reset_timestamps', '1',
    '-segment_list', join(o.bufferDir.replace(/%/g, '%%'), BUFFER_LIST),
    '-segment_list_type', 'csv',
    '-segment_list_size', '120',
    '-segment_format', 'mp4',
    '-segment_format_options', 'movflags=+frag_keyframe+empty_moov+default_base_moof:flush_packets=1',
    join(o.bufferDir.replace(/%/g, '%%'), 'buf-%06d.mp4'),
  ]
}

export interface BufferedSegment {
  file: string
  ms: number
}

/** The closed segments of ffmpeg's CSV list (`buf-000012.mp4,12.000000,13.000000`), oldest first; bad lines skipped. */
export function parseSegmentList(text: string): BufferedSegment[] {
  const out: BufferedSegment[] = []
  for (const line of text.split('\n')) {
    const [file, start, end] = line.trim().split(',')
    if (!file || !BUFFER_FILE.test(file) || start === undefined || end === undefined) continue
    const ms = Math.round((Number(end) - Number(start)) * 1000)
    if (Number.isFinite(ms) && ms > 0) out.push({ file, ms })
  }
  return out
}

const PICK_TOLERANCE_MS = 50

/** The newest closed segments that together reach `needMs`, oldest first (all there are when short). */
export function pickPreRoll(segments: BufferedSegment[], needMs: number): BufferedSegment[] {
  const picked: BufferedSegment[] = []
  let total = 0
  // ffmpeg lists a 1 s segment as 0.999 s: a second asked for is one segment, not two.
  for (let i = segments.length - 1; i >= 0 && total + PICK_TOLERANCE_MS < needMs; i--) {
    picked.unshift(segments[i]!)
    total += segments[i]!.ms
  }
  return picked
}

/** Renames buffer segments into the session as pre-NNNNN.mp4 from `firstIndex`, in order; one that is gone is skipped. */
async function moveIntoSession(bufferDir: string, sessionDir: string, segments: BufferedSegment[], firstIndex: number, log: Logger): Promise<PreRollFile[]> {
  const moved: PreRollFile[] = []
  for (const seg of segments) {
    const file = preRollFileName(firstIndex + moved.length)
    try {
      await rename(join(bufferDir, seg.file), join(sessionDir, file))
      moved.push({ file, bytes: (await stat(join(sessionDir, file))).size, ms: seg.ms })
    } catch (err) {
      log.warn({ err, file: seg.file }, 'a buffered segment could not be moved into the session')
    }
  }
  return moved
}

/**
 * Moves the buffered footage covering the last `needMs` into `sessionDir` as pre-00001.mp4…;
 * a segment pruned or gone meanwhile is skipped. Returns what was moved, in play order.
 */
export async function takePreRoll(bufferDir: string, sessionDir: string, needMs: number, log: Logger): Promise<PreRollFile[]> {
  if (needMs <= 0) return []
  const text = await readFile(join(bufferDir, BUFFER_LIST), 'utf8').catch(() => '')
  // A segment an earlier take moved (two starts within a second) or the pruner removed is still listed.
  const listed = parseSegmentList(text)
  const present = new Set(await readdir(bufferDir).catch(() => [] as string[]))
  const picked = pickPreRoll(listed.filter((s) => present.has(s.file)), needMs)
  const moved = await moveIntoSession(bufferDir, sessionDir, picked, 1, log)
  log.info({ dir: sessionDir, files: moved.length, ms: moved.reduce((n, f) => n + f.ms, 0), needMs }, 'pre-roll moved into the session')
  return moved
}

/**
 * The bridge: the buffered segments that closed after the session's pre-roll was taken and
 * began before the recorder ffmpeg's own first footage (`beforeWallMs`), moved in after the
 * pre-roll files as pre-NNNNN.mp4 numbered from `firstIndex`. A start's pre-roll ends at the
 * last keyframe before the command, and the recorder's footage begins at the keyframe the
 * media server holds when its ffmpeg connects (0.3–2 s later): when a keyframe fell between,
 * that second is only in the buffer. Segment times are wall times from the file: its last
 * write (mtime) is where its footage ends, `ms` earlier where it began; a renamed pre-roll
 * file keeps its mtime (`afterWallMs`).
 */
export async function takeBridge(o: { bufferDir: string; sessionDir: string; afterWallMs: number; beforeWallMs: number; firstIndex: number; log: Logger }): Promise<PreRollFile[]> {
  const text = await readFile(join(o.bufferDir, BUFFER_LIST), 'utf8').catch(() => '')
  const between: BufferedSegment[] = []
  for (const seg of parseSegmentList(text)) {
    const st = await stat(join(o.bufferDir, seg.file)).catch(() => null)
    if (st && st.mtimeMs > o.afterWallMs && st.mtimeMs - seg.ms < o.beforeWallMs) between.push(seg)
  }
  const moved = await moveIntoSession(o.bufferDir, o.sessionDir, between, o.firstIndex, o.log)
  if (moved.length > 0) o.log.info({ dir: o.sessionDir, files: moved.length, ms: moved.reduce((n, f) => n + f.ms, 0) }, 'buffered footage moved in up to the recorder\'s first keyframe')
  return moved
}

export interface PreRollBufferDeps {
  inputUrl: string | (() => string)
  ffmpegPath: string
  processes: ProcessOwner
  clock: Clock
  log: Logger
  bufferDir: string
  stopGraceMs: number
  /** Every buffer ffmpeg alive now (the recorder's pids and kill read it). */
  live: Set<OwnedProcess>
}

/**
 * The buffer ffmpeg as an invoked callback actor: started clean (an earlier run's leftovers
 * are stale), pruned every second to the pre-roll plus slack, stopped by the cleanup when
 * the mode machine stops. Its own exit is reported (BUFFER.EXITED); the machine
 * decides the restart.
 */
export function preRollBufferLogic(deps: PreRollBufferDeps) {
  return fromCallback<ModeEvent, { preRollMs: number }>(({ sendBack, input }) => {
    const log = deps.log.child({ part: 'prebuffer' })
    let closed = false
    let proc: OwnedProcess | null = null
    let timer: NodeJS.Timeout | undefined
    let pruning = false
    const prune = async () => {
      if (pruning) return
      pruning = true
      try {
        const cutoff = deps.clock.now() - (input.preRollMs + BUFFER_SLACK_MS)
        for (const name of await readdir(deps.bufferDir)) {
          if (!BUFFER_FILE.test(name)) continue
          const s = await stat(join(deps.bufferDir, name)).catch(() => null)
          // The last write is where a segment's footage ends: older than the window, none of it is needed.
          if (s && s.mtimeMs < cutoff) await unlink(join(deps.bufferDir, name)).catch(() => undefined)
        }
      } catch (err) {
        log.warn({ err }, 'pre-roll buffer prune failed')
      } finally {
        pruning = false
      }
    }
    void (async () => {
      await rm(deps.bufferDir, { recursive: true, force: true })
      await mkdir(deps.bufferDir, { recursive: true, mode: 0o700 })
      if (closed) return
      const inputUrl = typeof deps.inputUrl === 'function' ? deps.inputUrl() : deps.inputUrl
      const p = deps.processes.spawn(deps.ffmpegPath, preRollBufferArgs({ inputUrl, bufferDir: deps.bufferDir }), {
        name: 'prebuffer-ffmpeg',
        log,
        onStderrLine: (line) => log.debug({ line }, 'ffmpeg'),
      })
      proc = p
      const startedMono = deps.clock.monotonic()
      deps.live.add(p)
      log.info({ pid: p.pid, inputUrl: redactCredentials(inputUrl) }, 'pre-roll buffer ffmpeg started')
      timer = setInterval(() => void prune(), 1000)
      const info = await p.exited
      deps.live.delete(p)
      clearInterval(timer)
      if (closed) return
      const why = p.stderrTail().split('\n').at(-1)?.trim()
      sendBack({ type: 'BUFFER.EXITED', reason: why ? `${info.reason}: ${why}` : info.reason, ranMs: deps.clock.monotonic() - startedMono })
    })().catch((err: unknown) => {
      if (!closed) sendBack({ type: 'BUFFER.EXITED', reason: `could not start: ${String(err)}`, ranMs: 0 })
    })
    return () => {
      closed = true
      clearInterval(timer)
      if (proc?.isRunning()) void proc.stop(deps.stopGraceMs)
    }
  })
}
