import { join } from 'node:path'
import { fromCallback } from 'xstate'
import type { Clock } from '../../infra/clock.js'
import type { Logger } from '../../infra/logger.js'
import type { OwnedProcess, ProcessOwner } from '../../infra/process.js'
import { redactCredentials } from '../../infra/sources.js'
import type { CaptureInput, RecorderEvent } from '../../machines/recorder.machine.js'
import { recorderFfmpegArgs } from './ffmpegArgs.js'
import { hasMediaFragment, nextSegmentNumber, scanSegments, segmentNumber } from './session.js'

/**
 * ffmpeg exits outlive the state that started them (SIGTERM, then the trailer
 * is written): finalize waits on this before it measures the segments.
 */
export class ExitTracker {
  readonly #pending = new Map<string, Set<Promise<unknown>>>()

  track(key: string, exit: Promise<unknown>): void {
    let set = this.#pending.get(key)
    if (!set) this.#pending.set(key, (set = new Set()))
    set.add(exit)
    void exit.finally(() => {
      set.delete(exit)
      if (set.size === 0 && this.#pending.get(key) === set) this.#pending.delete(key)
    })
  }

  async settled(key: string): Promise<void> {
    const set = this.#pending.get(key)
    if (set) await Promise.allSettled([...set])
  }
}

export interface CaptureDeps {
  inputUrl: string | (() => string)
  ffmpegPath: string
  processes: ProcessOwner
  clock: Clock
  log: Logger
  segmentS: number
  /** Segment-dir poll period (bytes, new files). */
  pollMs: number
  /** SIGTERM → SIGKILL grace when the state that owns ffmpeg is left. */
  stopGraceMs: number
  readTimeoutMs?: number
  exits: ExitTracker
  /** Every recorder ffmpeg alive now: `pids` and the supervisor's kill read it. */
  live: Set<OwnedProcess>
}

const ENOSPC = /no space left on device/i

/** `out_time_us=1234567` of ffmpeg's -progress output, in ms; null for other lines and `N/A`. */
export function progressOutMs(line: string): number | null {
  const m = /^out_time_us=(\d+)\s*$/.exec(line)
  return m ? Number(m[1]) / 1000 : null
}

/**
 * One ffmpeg run of a session, as an invoked callback actor: spawned on start,
 * SIGTERMed by the cleanup when the machine leaves `capturing` (stop, source
 * lost, disk full). It reports what the machine needs and nothing else: its pid,
 * growing bytes (BYTES, only on change), closed segments, ENOSPC, and its own exit.
 */
export function ffmpegCaptureLogic(deps: CaptureDeps) {
  return fromCallback<RecorderEvent, CaptureInput>(({ sendBack, input }) => {
    const log = deps.log.child({ session: input.sessionId })
    let closed = false
    let proc: OwnedProcess | null = null
    let poll: NodeJS.Timeout | undefined
    let scanning: Promise<void> | null = null
    let lastTotal = -1
    let enospc = false
    // Segments numbered below this were written by an earlier run of the session.
    let firstOwnSegment = Number.POSITIVE_INFINITY
    const announced = new Set<string>()

    const scan = async (final: boolean) => {
      const segs = await scanSegments(input.dir)
      // All but the newest are closed; once ffmpeg is gone the newest is closed too.
      for (const s of final ? segs : segs.slice(0, -1)) {
        if (announced.has(s.file)) continue
        announced.add(s.file)
        // A header-only file (run died before its first keyframe) is not a segment; finalize drops it.
        if (closed || !(await hasMediaFragment(join(input.dir, s.file)).catch(() => false))) continue
        sendBack({ type: 'SEGMENT.CLOSED', file: s.file, bytes: s.bytes })
      }
      const total = segs.reduce((n, s) => n + s.bytes, 0)
      // Only this run's own output counts as bytes flowing: an earlier run's ffmpeg, SIGTERMed
      // when the source was lost, flushes its last fragment after this run has started, and
      // that growth must not close the gap (or quiet the stall watchdog) before new media arrives.
      const ownBytes = segs.filter((s) => (segmentNumber(s.file) ?? 0) >= firstOwnSegment).reduce((n, s) => n + s.bytes, 0)
      if (!closed && ownBytes > 0 && total !== lastTotal) {
        lastTotal = total
        sendBack({ type: 'BYTES', total, segments: segs.length, mono: deps.clock.monotonic() })
      }
    }
    const tick = () => {
      if (scanning) return // a slow disk: never stack scans
      scanning = scan(false)
        .catch((err: unknown) => log.warn({ err }, 'segment scan failed'))
        .finally(() => {
          scanning = null
        })
    }

    void (async () => {
      // Segments already here came from an earlier run of this session: announced then.
      for (const s of await scanSegments(input.dir)) announced.add(s.file)
      const startNumber = await nextSegmentNumber(input.dir)
      if (closed) return
      firstOwnSegment = startNumber
      const inputUrl = typeof deps.inputUrl === 'function' ? deps.inputUrl() : deps.inputUrl
      const args = recorderFfmpegArgs({
        inputUrl,
        sessionDir: input.dir,
        segmentS: deps.segmentS,
        startNumber,
        ...(deps.readTimeoutMs === undefined ? {} : { readTimeoutMs: deps.readTimeoutMs }),
      })
      const p = deps.processes.spawn(deps.ffmpegPath, args, {
        name: 'recorder-ffmpeg',
        log,
        onStderrLine: (line) => {
          log.debug({ line }, 'ffmpeg')
          if (!enospc && !closed && ENOSPC.test(line)) {
            enospc = true
            sendBack({ type: 'DISK.ENOSPC' })
          }
        },
      })
      proc = p
      const firstRun = startNumber === 1
      p.stdout?.setEncoding('utf8')
      let progress = ''
      // A report is a block of lines ended by `progress=continue`, or `progress=end` for the
      // last one, written as ffmpeg exits: that one holds packets flushed from its queues, not
      // new footage (it would close a gap measured by progress while the source is still gone).
      let blockOutMs: number | null = null
      p.stdout?.on('data', (chunk: string) => {
        progress += chunk
        const lines = progress.split('\n')
        progress = lines.pop() ?? ''
        for (const line of lines) {
          const outMs = progressOutMs(line)
          if (outMs !== null) blockOutMs = outMs
          else if (line.startsWith('progress=')) {
            if (line.trim() === 'progress=continue' && blockOutMs !== null && !closed) {
              sendBack({ type: 'PROGRESS', outMs: blockOutMs, mono: deps.clock.monotonic(), firstRun })
            }
            blockOutMs = null
          }
        }
      })
      deps.live.add(p)
      deps.exits.track(input.dir, p.exited)
      // The input URL carries the media server's `?sign=`.
      log.info({ pid: p.pid, inputUrl: redactCredentials(inputUrl), startNumber }, 'recorder ffmpeg started')
      if (p.pid > 0) sendBack({ type: 'FFMPEG.STARTED', pid: p.pid })
      poll = setInterval(tick, deps.pollMs)
      const info = await p.exited
      deps.live.delete(p)
      clearInterval(poll)
      if (closed) return
      if (scanning) await scanning
      await scan(true).catch((err: unknown) => log.warn({ err }, 'segment scan failed'))
      if (closed) return
      const why = p.stderrTail().split('\n').at(-1)?.trim()
      const reason = why ? `${info.reason}: ${why}` : info.reason
      log.warn({ reason }, 'recorder ffmpeg ended on its own')
      sendBack({ type: 'FFMPEG.EXITED', reason, at: new Date(deps.clock.now()).toISOString(), mono: deps.clock.monotonic() })
    })().catch((err: unknown) => {
      if (closed) return
      log.error({ err }, 'recorder ffmpeg could not be started')
      sendBack({ type: 'FFMPEG.EXITED', reason: `could not start: ${String(err)}`, at: new Date(deps.clock.now()).toISOString(), mono: deps.clock.monotonic() })
    })

    return () => {
      closed = true
      clearInterval(poll)
      // SIGTERM (+ SIGCONT, for a frozen one) lets ffmpeg close the open fragment; the exit is tracked for finalize.
      if (proc?.isRunning()) void proc.stop(deps.stopGraceMs)
    }
  })
}
